"""The errors of historian: one tree, each error naming what to fix.

::

    HistorianError
    ├── InvalidTagNameError      (ValueError)  a tag name that could become a path or SQL
    ├── TagNotFoundError         (KeyError)    a tag that was never defined/written
    ├── InvalidTimeError         (ValueError)  an unparseable or out-of-range time
    ├── InvalidDataError         (TypeError)   wrong dtype, mismatched lengths, bad table shape
    ├── InvalidArgumentError     (ValueError)  an option with a value out of its domain
    ├── ConfigError              (ValueError)  a collector/TOML config that names the key to fix
    ├── QueryError               (ValueError)  SQL/condition that cannot run
    ├── StoreError               (OSError)
    │   ├── StoreLockedError                   another process holds the writer lock
    │   ├── StoreClosedError                   the Historian was closed
    │   ├── ReadOnlyStoreError                 a write on a store opened read-only
    │   └── CorruptDataError                   a checksum or footer check failed
    └── SourceError                            acquisition: pymodbus/asyncua errors never escape raw
        ├── SourceConnectError   (ConnectionError)
        ├── SourceTimeoutError   (TimeoutError)
        ├── SourceProtocolError                garbage, exception responses, bad types
        └── SourceSecurityError                insecure endpoint, untrusted cert, login refused

Examples
--------
>>> from historian.errors import HistorianError, TagNotFoundError
>>> issubclass(TagNotFoundError, KeyError) and issubclass(TagNotFoundError, HistorianError)
True
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "CorruptDataError",
    "HistorianError",
    "InvalidArgumentError",
    "InvalidDataError",
    "InvalidTagNameError",
    "InvalidTimeError",
    "QueryError",
    "ReadOnlyStoreError",
    "SourceConnectError",
    "SourceError",
    "SourceProtocolError",
    "SourceSecurityError",
    "SourceTimeoutError",
    "StoreClosedError",
    "StoreError",
    "StoreLockedError",
    "TagNotFoundError",
]


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


class InvalidTimeError(HistorianError, ValueError):
    """A time that cannot be parsed or lies outside the representable range."""


class InvalidDataError(HistorianError, TypeError):
    """Input arrays or tables of the wrong type, shape or length."""


class InvalidArgumentError(HistorianError, ValueError):
    """An argument whose value is outside what the function accepts."""


class ConfigError(HistorianError, ValueError):
    """A configuration error; the message names the key and the fix."""


class QueryError(HistorianError, ValueError):
    """A query or condition that cannot be run."""


class StoreError(HistorianError, OSError):
    """A problem with the store on disk."""


class StoreLockedError(StoreError):
    """Another process holds the store's writer lock."""


class StoreClosedError(StoreError):
    """The Historian object was closed."""


class ReadOnlyStoreError(StoreError):
    """A write was attempted on a store opened read-only."""


class CorruptDataError(StoreError):
    """A checksum, footer or schema check failed on a stored file."""


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
