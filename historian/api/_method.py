"""How the functions of ``historian.api``'s job modules become methods of ``Historian``.

Each job module (``_points``, ``_summaries``, ``_catalog``, ``_records``, ``_admin``,
``_display``) holds plain functions whose first parameter is ``self: Historian``; the class
body binds them by name (``read = _points.read``), so ``Historian`` stays a list of names
without inheriting from anything. :func:`method` makes such a function look like one written in
the class: ``help()``, ``inspect.signature`` and the doctest collector see
``historian.api.Historian.read``, as before the split (its docstring example is collected once,
there, and not again in the job module).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

if TYPE_CHECKING:
    from historian.api import Historian

_F = TypeVar("_F", bound=Callable[..., Any])


def method(function: _F) -> _F:
    """Present ``function`` as the method ``historian.api.Historian.<name>``.

    The ``self: Historian`` annotation is for mypy only: dropped at run time, so signatures and
    ``help(Historian)`` read ``read(self, tags=None, ...)`` as they did when it was written in
    the class.
    """
    function.__module__ = "historian.api"
    function.__qualname__ = f"Historian.{function.__name__}"
    function.__annotations__.pop("self", None)
    return function


def boundary(function: _F) -> _F:
    """A storage call of a Historian, run inside :meth:`Historian._call` under its own name."""
    function = method(function)

    @functools.wraps(function)
    def call(self: Historian, *args: Any, **kwargs: Any) -> Any:
        with self._call(function.__name__):
            return function(self, *args, **kwargs)

    return cast(_F, call)
