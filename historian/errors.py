"""The errors of historian: one tree, each error naming what to fix.

::

    HistorianError
    ├── InvalidTagNameError      (ValueError)  a tag name that could become a path or SQL
    ├── TagNotFoundError         (KeyError)    a tag that was never defined/written
    ├── AssetNotFoundError       (KeyError)    an asset, template or attribute the model lacks
    ├── InvalidTimeError         (ValueError)  an unparseable or out-of-range time
    │   └── InvalidWindowError   (InvalidArgumentError)  a window whose end is not after its start
    ├── InvalidDataError         (TypeError)   wrong dtype, mismatched lengths, bad table shape
    ├── InvalidArgumentError     (ValueError)  an option with a value out of its domain
    │   ├── ResourceLimitError                 a request over a budget of historian.limits
    │   └── TextAggregateError                 a numeric statistic asked of a text tag
    ├── ConfigError              (ValueError)  a collector/TOML config that names the key to fix
    ├── QueryError               (ValueError)  SQL/condition that cannot run
    ├── StoreError               (OSError)
    │   ├── StoreLockedError                   another process holds the writer lock
    │   │   └── LeaseLostError                 this writer's lease (s3://) was taken over
    │   ├── StoreClosedError                   the Historian was closed
    │   ├── ReadOnlyStoreError                 a write on a store opened read-only
    │   ├── CorruptDataError                   a checksum or footer check failed
    │   ├── BackgroundFlushError               a background flush failed (points kept in the WAL)
    │   └── ReplicationProtocolError           a frame outside the replication push protocol
    └── SourceError                            acquisition: pymodbus/asyncua errors never escape raw
        ├── SourceConnectError   (ConnectionError)
        ├── SourceTimeoutError   (TimeoutError)
        ├── SourceProtocolError                garbage, exception responses, bad types
        └── SourceSecurityError                insecure endpoint, untrusted cert, login refused
            └── WriteBlockedError              a request other than a read, stopped unsent

Examples
--------
>>> from historian.errors import HistorianError, TagNotFoundError
>>> issubclass(TagNotFoundError, KeyError) and issubclass(TagNotFoundError, HistorianError)
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = [
    "AssetNotFoundError",
    "BackgroundFlushError",
    "ConfigError",
    "CorruptDataError",
    "HistorianError",
    "InvalidArgumentError",
    "InvalidDataError",
    "InvalidTagNameError",
    "InvalidTimeError",
    "InvalidWindowError",
    "LeaseLostError",
    "QueryError",
    "ReadOnlyStoreError",
    "ReplicationProtocolError",
    "ResourceLimitError",
    "SourceConnectError",
    "SourceError",
    "SourceProtocolError",
    "SourceSecurityError",
    "SourceTimeoutError",
    "StoreClosedError",
    "StoreError",
    "StoreLockedError",
    "TagNotFoundError",
    "TextAggregateError",
    "WriteBlockedError",
]  # plus two context managers for the library's boundaries: mapped_errors, argument_errors


class HistorianError(Exception):
    """Root of every error raised by historian; the message says what happened and what to do.

    Examples
    --------
    >>> import historian, tempfile
    >>> h = historian.open(tempfile.mkdtemp())
    >>> try:
    ...     h.read("NO-SUCH.TAG")
    ... except historian.HistorianError as exc:
    ...     print(type(exc).__name__)
    TagNotFoundError
    >>> h.close()
    """


class InvalidTagNameError(HistorianError, ValueError):
    """A tag name outside the allowed alphabet or length."""


class TagNotFoundError(HistorianError, KeyError):
    """A tag that the store does not know."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class AssetNotFoundError(HistorianError, KeyError):
    """An asset, template or attribute that the store's asset model does not have."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class InvalidTimeError(HistorianError, ValueError):
    """A time that cannot be parsed or lies outside the representable range."""


class InvalidDataError(HistorianError, TypeError):
    """Input arrays or tables of the wrong type, shape or length."""


class InvalidArgumentError(HistorianError, ValueError):
    """An argument whose value is outside what the function accepts."""


class InvalidWindowError(InvalidTimeError, InvalidArgumentError):
    """A time window ``[start, end)`` whose end is before its start (or equal, where an
    interval is needed); the message names both times."""


class ResourceLimitError(InvalidArgumentError):
    """A request over a budget of :mod:`historian.limits`, refused before allocating anything.

    ``limit`` names the budget, ``asked`` is what the request needed, ``allowed`` the limit.
    """

    def __init__(self, message: str, *, limit: str = "", asked: int = 0, allowed: int = 0) -> None:
        super().__init__(message)
        self.limit, self.asked, self.allowed = limit, asked, allowed

    def __reduce__(self) -> tuple:  # keep the attributes across pickling (dask workers)
        return (_resource_limit_error, (str(self), self.limit, self.asked, self.allowed))


def _resource_limit_error(message: str, limit: str, asked: int, allowed: int) -> ResourceLimitError:
    return ResourceLimitError(message, limit=limit, asked=asked, allowed=allowed)


class TextAggregateError(InvalidArgumentError):
    """A statistic, interpolation or plot that needs numbers, asked of a text tag
    (``type="string"``); the message names the tag and the statistics that work on texts.

    ``tag`` is the text tag, ``stats`` the statistics refused.
    """

    def __init__(self, message: str, *, tag: str = "", stats: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.tag, self.stats = tag, stats

    def __reduce__(self) -> tuple:  # keep the attributes across pickling (dask workers)
        return (_text_aggregate_error, (str(self), self.tag, self.stats))


def _text_aggregate_error(message: str, tag: str, stats: tuple[str, ...]) -> TextAggregateError:
    return TextAggregateError(message, tag=tag, stats=stats)


class ConfigError(HistorianError, ValueError):
    """A configuration error; the message names the key and the fix."""


class QueryError(HistorianError, ValueError):
    """A query or condition that cannot be run."""


class StoreError(HistorianError, OSError):
    """A problem with the store on disk."""


class StoreLockedError(StoreError):
    """Another process holds the store's writer lock."""


class LeaseLostError(StoreLockedError):
    """This process no longer holds the writer lease of an ``s3://`` store (it expired and
    another writer took over): it can no longer commit; its unflushed points stay in its local
    write-ahead log."""


class StoreClosedError(StoreError):
    """The Historian object was closed."""


class ReadOnlyStoreError(StoreError):
    """A write was attempted on a store opened read-only."""


class CorruptDataError(StoreError):
    """A checksum, footer or schema check failed on a stored file."""


class BackgroundFlushError(StoreError):
    """A flush or compaction the store ran in the background failed (it was retried with
    backoff); raised once by the next explicit ``flush()`` or ``close()``. No acknowledged
    point is lost: the write-ahead log keeps every point until a commit covers it."""


class ReplicationProtocolError(StoreError):
    """A replication peer sent a frame that is not part of the push protocol (closed)."""


class SourceError(HistorianError):
    """An acquisition source failed."""


class SourceConnectError(SourceError, ConnectionError):
    """A source cannot be reached or refused the connection."""


class SourceTimeoutError(SourceError, TimeoutError):
    """A source did not answer in time."""


class SourceProtocolError(SourceError):
    """A source answered with an exception, garbage or an unexpected type."""


class SourceSecurityError(SourceError):
    """A security check failed: insecure policy, untrusted certificate, or login refused."""


class WriteBlockedError(SourceSecurityError):
    """A read-only source refused to send a request that is not a read (e.g. a Modbus write)."""


def first_line(exc: BaseException) -> str:
    """A dependency error's first line, at most 500 characters (delta-rs appends a Rust
    backtrace, DuckDB a caret diagram): what an error message of ours quotes."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:500]


def _dependency(exc: BaseException) -> str | None:
    """The dependency an exception comes from (by its classes' modules, without importing it)."""
    for cls in type(exc).__mro__:
        root = cls.__module__.split(".", 1)[0].lstrip("_")  # duckdb's classes live in _duckdb
        if root in ("pyarrow", "deltalake", "duckdb", "fsspec", "s3fs", "botocore"):
            return root
    return None


@contextlib.contextmanager
def mapped_errors(what: str) -> Iterator[None]:
    """Map dependency errors raised in the block to historian errors, the original as
    ``__cause__``: OSError -> :class:`StoreError`, duckdb -> :class:`QueryError`, pyarrow and
    deltalake -> :class:`CorruptDataError` (a stored file that cannot be decoded). ``what``
    names the operation in the message. Historian errors pass through unchanged.

    Examples
    --------
    >>> from historian.errors import StoreError, mapped_errors
    >>> try:
    ...     with mapped_errors("reading tags.json"):
    ...         open("/nonexistent/tags.json")
    ... except StoreError as exc:
    ...     print(type(exc.__cause__).__name__)
    FileNotFoundError
    """
    try:
        yield
    except HistorianError:
        raise
    except Exception as exc:
        dep = _dependency(exc)
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:500]  # no backtrace
        if dep == "duckdb":
            raise QueryError(f"{what}: {first}") from exc
        if isinstance(exc, OSError):
            raise StoreError(
                f"{what}: {first} (check that the store folder exists, is "
                "readable and, for a writer, writable)"
            ) from exc
        if dep is not None:
            raise CorruptDataError(
                f"{what}: {dep} could not decode the stored data: {first} "
                "(run `historian verify STORE` to find the damaged file)"
            ) from exc
        raise


@contextlib.contextmanager
def argument_errors(what: str) -> Iterator[None]:
    """The public boundary: a TypeError, ValueError, OverflowError or AttributeError that an
    argument of the wrong type or value caused deep inside becomes an
    :class:`InvalidArgumentError` naming the call (the original is the ``__cause__``).

    Examples
    --------
    >>> from historian.errors import InvalidArgumentError, argument_errors
    >>> try:
    ...     with argument_errors("summarize"):
    ...         float("x")
    ... except InvalidArgumentError as exc:
    ...     print(type(exc.__cause__).__name__)
    ValueError
    """
    try:
        yield
    except HistorianError:
        raise
    except (TypeError, ValueError, OverflowError, AttributeError) as exc:
        target = what if "." in what else f"historian.Historian.{what}"
        raise InvalidArgumentError(
            f"{what}: an argument has the wrong type or value ({type(exc).__name__}: "
            f"{str(exc)[:300]}); see help({target})"
        ) from exc
