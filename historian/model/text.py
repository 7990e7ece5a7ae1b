"""Text values: the optional text a point carries (batch IDs, recipe names, state texts).

A text is any Python ``str`` that encodes to UTF-8 (control characters and the empty string
included) of at most :data:`MAX_TEXT_BYTES` bytes; ``None`` means the point has no text. Longer
texts and strings that are not valid Unicode (lone surrogates) are refused with
:class:`~historian.errors.InvalidDataError` before anything is written.

Examples
--------
>>> text_array(["B-001", None, ""], 3).tolist()
['B-001', None, '']
>>> text_array(["x" * (MAX_TEXT_BYTES + 1)], 1)
Traceback (most recent call last):
...
historian.errors.InvalidDataError: text 0 is 65,537 bytes in UTF-8; the limit is 65,536 bytes ...
"""

from __future__ import annotations

from typing import Any

import numpy as np

from historian.errors import InvalidDataError

__all__ = ["MAX_TEXT_BYTES", "no_text", "text_array"]

#: The longest text one point can carry, in UTF-8 bytes (64 KiB).
MAX_TEXT_BYTES = 65_536


def no_text(text: np.ndarray) -> np.ndarray:
    """A bool array: True where the object array ``text`` holds ``None`` (no text)."""
    return np.fromiter((s is None for s in text), dtype=bool, count=len(text))


def _items(values: Any) -> list[Any]:
    if hasattr(values, "to_pylist"):  # pyarrow Array / ChunkedArray
        return list(values.to_pylist())
    if hasattr(values, "tolist") and not isinstance(values, str):  # numpy, pandas
        return list(values.tolist())
    if isinstance(values, str | bytes):
        raise InvalidDataError("texts must be a sequence of str, not one str")
    return list(values)


def text_array(values: Any, n_expected: int | None = None) -> np.ndarray:
    """Validated texts as an object array of ``str`` or ``None`` (no text).

    Raises :class:`~historian.errors.InvalidDataError` naming the first bad entry: not a str,
    not encodable as UTF-8, or longer than :data:`MAX_TEXT_BYTES`.
    """
    items = _items(values)
    if n_expected is not None and len(items) != n_expected:
        raise InvalidDataError(f"{len(items)} texts for {n_expected} times; give one per time")
    out = np.empty(len(items), dtype=object)
    for i, s in enumerate(items):
        if s is None:
            out[i] = None
            continue
        if not isinstance(s, str):
            raise InvalidDataError(
                f"text {i} is a {type(s).__name__} ({s!r:.40}); a text tag takes str or None"
            )
        try:
            size = len(s.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise InvalidDataError(
                f"text {i} is not valid Unicode ({exc.reason} at {exc.start}); texts are stored "
                "as UTF-8"
            ) from None
        if size > MAX_TEXT_BYTES:
            raise InvalidDataError(
                f"text {i} is {size:,} bytes in UTF-8; the limit is {MAX_TEXT_BYTES:,} bytes "
                "per point (store long documents elsewhere and keep a reference)"
            )
        out[i] = s
    return out
