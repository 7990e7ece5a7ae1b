"""Asset paths, names and path patterns: validated so that none can become a file path, a tag
name fragment that escapes its pattern, an SQL fragment or a terminal escape.

An asset path is segments joined by ``/`` (``SiteA/Area2/Unit1/P-101``). A segment (and a
template or attribute name) starts with a letter, digit or ``_`` and holds letters, digits and
``_ - . :`` only, with no ``..``; a path has at most :data:`MAX_DEPTH` segments and
:data:`MAX_PATH_LENGTH` characters. Attribute names are identifiers (letters, digits, ``_``) so
that a derived expression can name them without quotes.

A path pattern matches segment by segment: ``*`` and ``?`` inside one segment (``P-*``), ``**``
for any number of segments, including none (``SiteA/**``: SiteA and everything under it).

Examples
--------
>>> validate_path("SiteA/Area2/P-101")
'SiteA/Area2/P-101'
>>> path_matches("SiteA/**/P-*", "SiteA/Area2/Unit1/P-101")
True
>>> validate_path("SiteA/../etc")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
historian.errors.InvalidArgumentError: invalid asset path 'SiteA/../etc': ...
"""

from __future__ import annotations

import fnmatch
import re
from functools import lru_cache

from historian.errors import InvalidArgumentError

__all__ = [
    "MAX_DEPTH",
    "MAX_PATH_LENGTH",
    "path_matches",
    "validate_attribute_name",
    "validate_name",
    "validate_path",
    "validate_pattern",
]

MAX_DEPTH = 12
MAX_PATH_LENGTH = 200
MAX_NAME_LENGTH = 64
_SEGMENT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:\-]*")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PATTERN_SEGMENT = re.compile(r"\*\*|[A-Za-z0-9_.:\-*?\[\]!]+")
_RULE = (
    "letters, digits and _ - . : only, starting with a letter, digit or _, no '..', at "
    f"most {MAX_NAME_LENGTH} characters"
)


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _segment_ok(seg: str) -> bool:
    return len(seg) <= MAX_NAME_LENGTH and _SEGMENT.fullmatch(seg) is not None and ".." not in seg


def validate_name(name: object, what: str = "template name") -> str:
    """``name`` if it is a valid template (or segment) name, else InvalidArgumentError."""
    if not isinstance(name, str):
        raise InvalidArgumentError(f"a {what} must be a str, not {type(name).__name__}")
    if not _segment_ok(name):
        raise InvalidArgumentError(f"invalid {what} {_shown(name)}: use {_RULE}")
    return name


def validate_attribute_name(name: object) -> str:
    """``name`` if it is a valid attribute name (an identifier), else InvalidArgumentError.

    >>> validate_attribute_name("Flow")
    'Flow'
    """
    if not isinstance(name, str):
        raise InvalidArgumentError(f"an attribute name must be a str, not {type(name).__name__}")
    if len(name) > MAX_NAME_LENGTH or _IDENT.fullmatch(name) is None:
        raise InvalidArgumentError(
            f"invalid attribute name {_shown(name)}: use letters, digits and _ only, starting "
            f"with a letter or _, at most {MAX_NAME_LENGTH} characters (derived expressions "
            "name attributes)"
        )
    return name


def validate_path(path: object) -> str:
    """``path`` if it is a valid asset path, else InvalidArgumentError naming the rule."""
    if not isinstance(path, str):
        raise InvalidArgumentError(f"an asset path must be a str, not {type(path).__name__}")
    if not path:
        raise InvalidArgumentError("the asset path is empty")
    if len(path) > MAX_PATH_LENGTH:
        raise InvalidArgumentError(
            f"the asset path {_shown(path)} is {len(path)} characters; at most "
            f"{MAX_PATH_LENGTH} are allowed"
        )
    segments = path.split("/")
    if len(segments) > MAX_DEPTH:
        raise InvalidArgumentError(
            f"the asset path {_shown(path)} has {len(segments)} levels; at most {MAX_DEPTH}"
        )
    if not all(_segment_ok(s) for s in segments):
        raise InvalidArgumentError(
            f"invalid asset path {_shown(path)}: segments joined by '/', each of {_RULE}"
        )
    return path


def validate_pattern(pattern: object) -> str:
    """``pattern`` if it is a valid path pattern (segments, ``*``, ``?``, ``[..]``, ``**``)."""
    if not isinstance(pattern, str):
        raise InvalidArgumentError(
            f"an asset path pattern must be a str, not {type(pattern).__name__}"
        )
    segments = pattern.split("/")
    if (
        not pattern
        or len(pattern) > MAX_PATH_LENGTH
        or len(segments) > 2 * MAX_DEPTH
        or not all(_PATTERN_SEGMENT.fullmatch(s) and ".." not in s for s in segments)
    ):
        raise InvalidArgumentError(
            f"invalid asset path pattern {_shown(pattern)}: segments joined by '/', with '*' "
            "and '?' inside a segment and '**' for any number of segments"
        )
    return pattern


def path_matches(pattern: str, path: str) -> bool:
    """True when ``path`` matches ``pattern`` (see the module docstring)."""
    return _match(tuple(pattern.split("/")), tuple(path.split("/")))


@lru_cache(maxsize=4096)
def _match(pat: tuple[str, ...], segs: tuple[str, ...]) -> bool:
    if not pat:
        return not segs
    head = pat[0]
    if head == "**":  # zero or more segments (memoised: patterns and paths are short)
        return any(_match(pat[1:], segs[i:]) for i in range(len(segs) + 1))
    return bool(segs) and fnmatch.fnmatchcase(segs[0], head) and _match(pat[1:], segs[1:])
