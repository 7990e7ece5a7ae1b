"""``njit`` that imports Numba on the first call of a kernel, not when the module is imported.

Importing numba costs about 0.2 s (and 0.1 s more for the scipy it loads), which every
``import historian`` paid because the kernel modules decorate their functions at import time.
With this decorator a kernel is a small stand-in until some kernel is first called; then Numba
is imported, every stand-in becomes its real dispatcher (``numba.njit(**options)(function)``),
and the names that held stand-ins in ``historian.*`` modules are rebound to the dispatchers, so
kernels calling kernels are compiled against dispatchers as before. Calls that the numpy paths
for small inputs serve (kernels/_small.py) never import Numba.

Examples
--------
>>> @njit(cache=False)
... def twice(x):
...     return 2 * x
>>> twice(21)
42
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["njit"]

_pending: list[_Lazy] = []
_numba: Any = None  # the numba.njit function once imported
_lock = threading.Lock()  # kernels may first run in several threads at once


class _Lazy:
    """A kernel before Numba is imported; calling it compiles (or loads) it as usual."""

    def __init__(self, func: Callable[..., Any], options: dict[str, Any]) -> None:
        self.py_func = func
        self.options = options
        self.dispatcher: Any = None
        self.__name__ = func.__name__
        self.__qualname__ = func.__qualname__
        self.__module__ = func.__module__
        self.__doc__ = func.__doc__
        self.__wrapped__ = func

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self.dispatcher is None:
            _materialize()
        return self.dispatcher(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # signatures, stats, py_func... of the dispatcher
        if name == "dispatcher":
            raise AttributeError(name)
        if self.dispatcher is None:
            _materialize()
        return getattr(self.dispatcher, name)


def _materialize() -> None:
    """Import numba, make every stand-in a dispatcher, rebind the names that held them."""
    global _numba
    with _lock:
        if _numba is None:
            from numba import njit as numba_njit

            _numba = numba_njit
        while _pending:
            lazy = _pending[-1]
            lazy.dispatcher = _numba(**lazy.options)(lazy.py_func)
            _pending.pop()
    for name, module in list(sys.modules.items()):
        if not name.startswith("historian") or module is None:
            continue
        space = vars(module)
        for key, value in list(space.items()):
            if isinstance(value, _Lazy) and value.dispatcher is not None:
                space[key] = value.dispatcher


def njit(**options: Any) -> Callable[[Callable[..., Any]], Any]:
    """``numba.njit(**options)`` applied when a kernel is first called (see the module doc)."""

    def wrap(func: Callable[..., Any]) -> Any:
        if _numba is not None:
            return _numba(**options)(func)
        lazy = _Lazy(func, options)
        _pending.append(lazy)
        return lazy

    return wrap
