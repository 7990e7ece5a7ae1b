"""Progress bars: one switch for every long call (``correlate``, ``import_history``,
``compact``, ``qualify``, ``historian demo``/``import``/``compact``).

Each long call takes ``progress=None``, which means the global option: ``historian.options(
progress=False)`` in code, or the environment variable ``HISTORIAN_PROGRESS=0`` (``1`` to turn
bars on; read when the option was never set). ``progress=True``/``False`` on a call overrides
it for that call. By default (``None``) a bar is only drawn where someone can see it: in a
Jupyter notebook, or when stderr is a terminal, so a log file or a pipe gets no ``\\r`` updates
(``progress=True`` on a call draws one anyway). When progress is off,
tqdm is not even imported (no ``TqdmWarning: IProgress not found`` in a notebook without
ipywidgets); in a notebook without ipywidgets the text bar is used instead of the widget one.

Examples
--------
>>> import historian
>>> before = historian.options()["progress"]
>>> historian.options(progress=False)
{'progress': False}
>>> enabled(None), enabled(False), enabled(True)
(False, False, True)
>>> _ = historian.options(progress=before)
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from historian.errors import InvalidArgumentError

__all__ = ["ENV_VAR", "bar", "enabled", "iterate", "options"]

#: The environment variable that sets the default: ``0``/``false``/``off`` or ``1``/``true``.
ENV_VAR = "HISTORIAN_PROGRESS"
_OPTIONS: dict[str, Any] = {"progress": None}  # None: from ENV_VAR, default on
_FALSE = {"0", "false", "no", "off", ""}


def options(**changes: Any) -> dict[str, Any]:
    """Set process-wide options and return them all; ``historian.options()`` only reads.

    ``progress``: ``True``/``False`` for every long call that is not told otherwise; ``None``
    goes back to the environment variable ``HISTORIAN_PROGRESS`` (default on).

    Examples
    --------
    >>> import historian
    >>> current = historian.options()
    >>> historian.options(progress=False)["progress"]
    False
    >>> _ = historian.options(**current)
    """
    for key, value in changes.items():
        if key not in _OPTIONS:
            raise InvalidArgumentError(
                f"unknown option {key!r}; historian.options takes {sorted(_OPTIONS)}"
            )
        if key == "progress" and value is not None and not isinstance(value, bool):
            raise InvalidArgumentError(f"progress must be True, False or None, not {value!r}")
        _OPTIONS[key] = value
    return {"progress": _default()} | {k: v for k, v in _OPTIONS.items() if k != "progress"}


def _default() -> bool:
    if _OPTIONS["progress"] is not None:
        return bool(_OPTIONS["progress"])
    env = os.environ.get(ENV_VAR)
    return True if env is None else env.strip().lower() not in _FALSE


def _in_notebook() -> bool:
    shell = sys.modules.get("IPython")
    if shell is None or "ipykernel" not in sys.modules:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:  # any failure means "not a notebook"
        return False
    return ip is not None and type(ip).__name__ == "ZMQInteractiveShell"


def _visible() -> bool:
    if _in_notebook():
        return True
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stderr
        return False


def enabled(progress: bool | None) -> bool:
    """Whether a long call draws a bar: ``True``/``False`` as given; ``None``: the global
    option, and only where a bar can be seen (a notebook, or stderr on a terminal)."""
    if progress is not None:
        return bool(progress)
    return _default() and _visible()


class _NoBar:
    """What a long call gets when no bar is drawn: the same methods, doing nothing."""

    n: float = 0

    def update(self, n: float = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def refresh(self) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self) -> _NoBar:
        return self

    def __exit__(self, *exc: object) -> None:
        pass


def bar(progress: bool | None, **kwargs: Any) -> Any:
    """A tqdm bar (``total=``, ``desc=``, ``unit=`` ...) if :func:`enabled`, else a no-op one.

    >>> b = bar(False, total=3, desc="work")
    >>> b.update(3); b.close()
    """
    if not enabled(progress):
        return _NoBar()
    return _tqdm_class()(**kwargs)


def iterate(items: Iterable[Any], progress: bool | None, desc: str) -> Iterator[Any]:
    """``items``, with a bar when :func:`enabled`.

    >>> list(iterate([1, 2], False, "days"))
    [1, 2]
    """
    if not enabled(progress):
        return iter(items)
    return iter(_tqdm_class()(items, desc=desc))


def _tqdm_class() -> Any:
    if _in_notebook() and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm as notebook_tqdm

        return notebook_tqdm
    from tqdm.std import tqdm as text_tqdm  # never tqdm.auto: it warns without ipywidgets

    return text_tqdm
