"""Qualification rules and reasons: the per-tag rule set, parsed and checked once, and its bits.

:class:`QualificationRules` is the validated form of a tag's ``rules`` mapping (from the tag
definition or a TOML config): every unknown rule or key is refused naming the fix, durations and
qualities are parsed, and ``version`` fingerprints the rules so stored reasons can be matched to
the rules that made them. :class:`Reason` holds one bit per rule; :func:`reason_names` and
:func:`reason_labels` read a reasons bitmask. :mod:`historian.kernels.qualify` applies the rules.

Examples
--------
>>> from historian.kernels.rules import QualificationRules, Reason, reason_names
>>> QualificationRules.from_dict({"range": {"lo": 0, "hi": 100}}).range_hi
100.0
>>> reason_names(Reason.RANGE | Reason.GAP)
['range', 'gap']
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from historian.errors import InvalidArgumentError
from historian.model import quality as _q
from historian.model.times import DAY_NS, HOUR_NS, NS_PER_S, duration_ns, to_ns

__all__ = [
    "INT64_MAX",
    "INT64_MIN",
    "REASONS_DTYPE",
    "QualificationRules",
    "Reason",
    "reason_labels",
    "reason_names",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
REASONS_DTYPE = np.dtype(np.uint16)
"""dtype of the reasons array (16 bits; 8 are in use)."""


class Reason(enum.IntFlag):
    """Which rule fired on a point: one bit per rule, OR-ed together (stored as uint16)."""

    RANGE = 1 << 0
    ROC = 1 << 1
    FLATLINE = 1 << 2
    SPIKE = 1 << 3
    GAP = 1 << 4
    NONFINITE = 1 << 5
    FUTURE = 1 << 6
    PAST = 1 << 7


# When several rules of the same severity fire, the first in this order gives the sub-code.
_PRIORITY = (
    Reason.NONFINITE,
    Reason.FUTURE,
    Reason.PAST,
    Reason.RANGE,
    Reason.SPIKE,
    Reason.ROC,
    Reason.FLATLINE,
    Reason.GAP,
)
_RULE_OF_REASON = {
    Reason.RANGE: "range",
    Reason.ROC: "roc",
    Reason.FLATLINE: "flatline",
    Reason.SPIKE: "spike",
    Reason.GAP: "gap",
    Reason.NONFINITE: "nonfinite",
    Reason.FUTURE: "future",
    Reason.PAST: "past",
}
_DEFAULT_QUALITY = {
    "range": _q.BAD_OUT_OF_RANGE,
    "roc": _q.UNCERTAIN_SENSOR_NOT_ACCURATE,
    "flatline": _q.UNCERTAIN_LAST_USABLE_VALUE,
    "spike": _q.UNCERTAIN_SENSOR_NOT_ACCURATE,
    "gap": _q.UNCERTAIN_DATA_SUB_NORMAL,
    "nonfinite": _q.BAD_SENSOR_FAILURE,
    "future": _q.BAD_INVALID_TIMESTAMP,
    "past": _q.BAD_INVALID_TIMESTAMP,
}
_RANGE_MODES = {"hard": _q.BAD_OUT_OF_RANGE, "engineering": _q.UNCERTAIN_ENGINEERING_UNITS_EXCEEDED}
_KEYS = {
    "range": ("lo", "hi", "mode", "quality"),
    "roc": ("max_per_s", "quality"),
    "flatline": ("duration", "epsilon", "quality"),
    "spike": ("window", "k", "min_deviation", "quality"),
    "gap": ("expected", "quality"),
    "nonfinite": ("quality",),
    "future": ("tolerance", "quality"),
    "past": ("max_age", "earliest", "quality"),
}
_EXAMPLE = (
    '{"range": {"lo": 0, "hi": 200}, "roc": {"max_per_s": 5}, '
    '"flatline": {"duration": "10min", "epsilon": 0}, "spike": {"window": 11, "k": 5}, '
    '"gap": {"expected": "5s"}, "future": {"tolerance": "5min"}, "past": {"max_age": "365d"}}'
)


def reason_names(reasons: int) -> list[str]:
    """The rule names in a reasons bitmask, e.g. ``['range', 'roc']``.

    >>> reason_names(Reason.RANGE | Reason.SPIKE)
    ['range', 'spike']
    """
    r = int(reasons)
    return [_RULE_OF_REASON[b] for b in Reason if r & b]


def reason_labels(reasons: Any) -> list[str]:
    """:func:`reason_names` for a whole column (numpy, Arrow, pandas, a list), as text: the
    rules joined by ``","`` (``""`` when none fired); each distinct bitmask is named once.

    >>> reason_labels([0, Reason.RANGE | Reason.SPIKE, 0])
    ['', 'range,spike', '']
    """
    if hasattr(reasons, "to_numpy") and not isinstance(reasons, np.ndarray):
        try:
            reasons = reasons.to_numpy(zero_copy_only=False)
        except TypeError:  # pandas / polars
            reasons = reasons.to_numpy()
    arr = np.asarray(reasons, dtype=np.int64)
    uniq, inverse = np.unique(arr, return_inverse=True)
    labels = [",".join(reason_names(int(r))) for r in uniq]
    return [labels[i] for i in inverse.ravel().tolist()]


# ----------------------------------------------------------------------------- rules


def _format_ns(ns: int) -> str:
    """An exact, readable duration string (``600000000000`` -> ``'10min'``)."""
    for unit, size in (
        ("d", DAY_NS),
        ("h", HOUR_NS),
        ("min", 60 * NS_PER_S),
        ("s", NS_PER_S),
        ("ms", 10**6),
        ("us", 10**3),
    ):
        if ns and ns % size == 0:
            return f"{ns // size}{unit}"
    return f"{ns}ns"


def _number(
    rule: str, key: str, value: Any, *, minimum: float | None = None, strict: bool = False
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidArgumentError(
            f"qualification rule {rule!r}: {key!r} must be a number, not {value!r}"
        )
    f = float(value)
    if not math.isfinite(f):
        raise InvalidArgumentError(f"qualification rule {rule!r}: {key!r} must be finite, not {f}")
    if minimum is not None and (f < minimum or (strict and f == minimum)):
        op = ">" if strict else ">="
        raise InvalidArgumentError(
            f"qualification rule {rule!r}: {key!r} must be {op} {minimum:g}, got {f:g}"
        )
    return f


def _duration(rule: str, key: str, value: Any) -> int:
    try:
        ns = duration_ns(value)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(
            f"qualification rule {rule!r}: {key!r} is not a duration ({exc}); "
            "use seconds or a string such as '5s', '10min'"
        ) from None
    if ns > INT64_MAX:
        raise InvalidArgumentError(
            f"qualification rule {rule!r}: {key!r} is longer than int64 nanoseconds (292 years)"
        )
    return ns


def _quality(rule: str, value: Any) -> int:
    if isinstance(value, str):
        try:
            return _q.code(value)
        except KeyError:
            raise InvalidArgumentError(
                f"qualification rule {rule!r}: unknown quality {value!r}; use an OPC UA StatusCode "
                "name such as 'Bad_OutOfRange' or 'Uncertain_SensorNotAccurate', or an int"
            ) from None
    if isinstance(value, int | np.integer) and not isinstance(value, bool) and 0 <= value < 2**32:
        return int(value)
    raise InvalidArgumentError(
        f"qualification rule {rule!r}: 'quality' must be a StatusCode name or a uint32, "
        f"not {value!r}"
    )


def _quality_text(code: int) -> str | int:
    text = _q.name(code)
    try:
        if _q.code(text) == code:
            return text
    except KeyError:
        pass
    return code


@dataclasses.dataclass(frozen=True)
class QualificationRules:
    """A validated, normalised rule set (durations in ns, qualities as StatusCodes).

    Build it with :meth:`from_dict`; ``None`` for a rule means the rule is off. ``nonfinite`` is
    on unless the dict says ``"nonfinite": False``.

    Examples
    --------
    >>> r = QualificationRules.from_dict({"flatline": {"duration": "600s"}})
    >>> r.to_dict()["flatline"]
    {'duration': '10min', 'epsilon': 0.0, 'quality': 'UncertainLastUsableValue'}
    >>> r.version == QualificationRules.from_dict({"flatline": {"duration": "10min"}}).version
    True
    """

    range_lo: float | None = None
    range_hi: float | None = None
    range_mode: str | None = None  # None: the range rule is off
    range_quality: int = _q.BAD_OUT_OF_RANGE
    roc_max_per_s: float | None = None
    roc_quality: int = _DEFAULT_QUALITY["roc"]
    flatline_ns: int | None = None
    flatline_epsilon: float = 0.0
    flatline_quality: int = _DEFAULT_QUALITY["flatline"]
    spike_window: int | None = None
    spike_k: float = 3.0
    spike_min_deviation: float = 0.0
    spike_quality: int = _DEFAULT_QUALITY["spike"]
    gap_ns: int | None = None
    gap_quality: int = _DEFAULT_QUALITY["gap"]
    nonfinite: bool = True
    nonfinite_quality: int = _DEFAULT_QUALITY["nonfinite"]
    future_tolerance_ns: int | None = None
    future_quality: int = _DEFAULT_QUALITY["future"]
    past_max_age_ns: int | None = None
    past_earliest_ns: int | None = None
    past_quality: int = _DEFAULT_QUALITY["past"]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | QualificationRules | None) -> QualificationRules:
        """Parse and validate a rules dict (the JSON form stored on :class:`~historian.Tag`).

        Raises :class:`~historian.errors.InvalidArgumentError` naming the bad key and the fix.

        >>> QualificationRules.from_dict({"rnage": {}})
        Traceback (most recent call last):
        ...
        historian.errors.InvalidArgumentError: unknown qualification rule 'rnage'; ...
        """
        if d is None:
            return cls()
        if isinstance(d, QualificationRules):
            return d
        if not isinstance(d, Mapping):
            raise InvalidArgumentError(
                f"qualification rules must be a dict such as {_EXAMPLE}, not {type(d).__name__}"
            )
        kw: dict[str, Any] = {}
        for rule, body in d.items():
            if rule not in _KEYS:
                raise InvalidArgumentError(
                    f"unknown qualification rule {rule!r}; known rules: {', '.join(_KEYS)} "
                    f"(example: {_EXAMPLE})"
                )
            if body is None or body is False:
                if rule == "nonfinite":
                    kw["nonfinite"] = False
                continue
            if body is True:
                body = {}
            if not isinstance(body, Mapping):
                raise InvalidArgumentError(
                    f"qualification rule {rule!r} must be a dict of settings, not {body!r}"
                )
            for key in body:
                if key not in _KEYS[rule]:
                    raise InvalidArgumentError(
                        f"qualification rule {rule!r}: unknown key {key!r}; "
                        f"allowed: {', '.join(_KEYS[rule])}"
                    )
            getattr(cls, f"_parse_{rule}")(body, kw)
        return cls(**kw)

    @staticmethod
    def _parse_range(b: Mapping[str, Any], kw: dict[str, Any]) -> None:
        lo = None if b.get("lo") is None else _number("range", "lo", b["lo"])
        hi = None if b.get("hi") is None else _number("range", "hi", b["hi"])
        if lo is None and hi is None:
            raise InvalidArgumentError(
                "qualification rule 'range' needs 'lo' and/or 'hi', e.g. {'lo': 0, 'hi': 200}"
            )
        if lo is not None and hi is not None and lo > hi:
            raise InvalidArgumentError(
                f"qualification rule 'range': lo ({lo:g}) is above hi ({hi:g})"
            )
        mode = b.get("mode", "hard")
        if mode not in _RANGE_MODES:
            raise InvalidArgumentError(
                f"qualification rule 'range': 'mode' must be 'hard' (Bad_OutOfRange) or "
                f"'engineering' (Uncertain_EngineeringUnitsExceeded), not {mode!r}"
            )
        kw.update(range_lo=lo, range_hi=hi, range_mode=mode)
        code = _quality("range", b["quality"]) if "quality" in b else _RANGE_MODES[mode]
        kw["range_quality"] = code

    @staticmethod
    def _parse_roc(b: Mapping[str, Any], kw: dict[str, Any]) -> None:
        if "max_per_s" not in b:
            raise InvalidArgumentError(
                "qualification rule 'roc' needs 'max_per_s' (largest |change| per second)"
            )
        kw["roc_max_per_s"] = _number("roc", "max_per_s", b["max_per_s"], minimum=0.0)
        if "quality" in b:
            kw["roc_quality"] = _quality("roc", b["quality"])

    @staticmethod
    def _parse_flatline(b: Mapping[str, Any], kw: dict[str, Any]) -> None:
        if "duration" not in b:
            raise InvalidArgumentError(
                "qualification rule 'flatline' needs 'duration', e.g. {'duration': '10min'}"
            )
        kw["flatline_ns"] = _duration("flatline", "duration", b["duration"])
        kw["flatline_epsilon"] = _number("flatline", "epsilon", b.get("epsilon", 0.0), minimum=0.0)
        if "quality" in b:
            kw["flatline_quality"] = _quality("flatline", b["quality"])

    @staticmethod
    def _parse_spike(b: Mapping[str, Any], kw: dict[str, Any]) -> None:
        w = b.get("window", 11)
        if isinstance(w, bool) or not isinstance(w, int | np.integer) or not 3 <= w <= 100_000:
            raise InvalidArgumentError(
                f"qualification rule 'spike': 'window' must be an int from 3 to 100000 "
                f"(points, including the current one), not {w!r}"
            )
        kw["spike_window"] = int(w)
        kw["spike_k"] = _number("spike", "k", b.get("k", 3.0), minimum=0.0, strict=True)
        kw["spike_min_deviation"] = _number(
            "spike", "min_deviation", b.get("min_deviation", 0.0), minimum=0.0
        )
        if "quality" in b:
            kw["spike_quality"] = _quality("spike", b["quality"])

    @staticmethod
    def _parse_gap(b: Mapping[str, Any], kw: dict[str, Any]) -> None:
        if "expected" not in b:
            raise InvalidArgumentError(
                "qualification rule 'gap' needs 'expected' (longest normal time between points), "
                "e.g. {'expected': '5s'}"
            )
        kw["gap_ns"] = _duration("gap", "expected", b["expected"])
        if "quality" in b:
            kw["gap_quality"] = _quality("gap", b["quality"])

    @staticmethod
    def _parse_nonfinite(b: Mapping[str, Any], kw: dict[str, Any]) -> None:
        kw["nonfinite"] = True
        if "quality" in b:
            kw["nonfinite_quality"] = _quality("nonfinite", b["quality"])

    @staticmethod
    def _parse_future(b: Mapping[str, Any], kw: dict[str, Any]) -> None:
        kw["future_tolerance_ns"] = _duration("future", "tolerance", b.get("tolerance", "5min"))
        if "quality" in b:
            kw["future_quality"] = _quality("future", b["quality"])

    @staticmethod
    def _parse_past(b: Mapping[str, Any], kw: dict[str, Any]) -> None:
        if b.get("max_age") is None and b.get("earliest") is None:
            raise InvalidArgumentError(
                "qualification rule 'past' needs 'max_age' (e.g. '365d', relative to now) and/or "
                "'earliest' (an absolute time such as '2000-01-01T00:00:00Z')"
            )
        if b.get("max_age") is not None:
            kw["past_max_age_ns"] = _duration("past", "max_age", b["max_age"])
        if b.get("earliest") is not None:
            try:
                kw["past_earliest_ns"] = to_ns(b["earliest"])
            except Exception as exc:
                raise InvalidArgumentError(
                    f"qualification rule 'past': 'earliest' is not a time ({exc})"
                ) from None
        if "quality" in b:
            kw["past_quality"] = _quality("past", b["quality"])

    def to_dict(self) -> dict[str, Any]:
        """The canonical JSON-serialisable form (equivalent spellings give equal dicts)."""
        d: dict[str, Any] = {}
        if self.range_mode is not None:
            d["range"] = {
                "lo": self.range_lo,
                "hi": self.range_hi,
                "mode": self.range_mode,
                "quality": _quality_text(self.range_quality),
            }
        if self.roc_max_per_s is not None:
            d["roc"] = {"max_per_s": self.roc_max_per_s, "quality": _quality_text(self.roc_quality)}
        if self.flatline_ns is not None:
            d["flatline"] = {
                "duration": _format_ns(self.flatline_ns),
                "epsilon": self.flatline_epsilon,
                "quality": _quality_text(self.flatline_quality),
            }
        if self.spike_window is not None:
            d["spike"] = {
                "window": self.spike_window,
                "k": self.spike_k,
                "min_deviation": self.spike_min_deviation,
                "quality": _quality_text(self.spike_quality),
            }
        if self.gap_ns is not None:
            d["gap"] = {
                "expected": _format_ns(self.gap_ns),
                "quality": _quality_text(self.gap_quality),
            }
        d["nonfinite"] = (
            {"quality": _quality_text(self.nonfinite_quality)} if self.nonfinite else False
        )
        if self.future_tolerance_ns is not None:
            d["future"] = {
                "tolerance": _format_ns(self.future_tolerance_ns),
                "quality": _quality_text(self.future_quality),
            }
        if self.past_max_age_ns is not None or self.past_earliest_ns is not None:
            past: dict[str, Any] = {}
            if self.past_max_age_ns is not None:
                past["max_age"] = _format_ns(self.past_max_age_ns)
            if self.past_earliest_ns is not None:
                past["earliest"] = self.past_earliest_ns
            past["quality"] = _quality_text(self.past_quality)
            d["past"] = past
        return d

    @property
    def version(self) -> str:
        """A stable hash of the canonical rules (12 hex digits): store it with the results."""
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    @property
    def stateful(self) -> bool:
        """True when a rule needs the state carried between batches."""
        return any(
            x is not None
            for x in (self.roc_max_per_s, self.flatline_ns, self.spike_window, self.gap_ns)
        )

    def _lut(self) -> tuple[np.ndarray, np.ndarray]:
        """For every reasons byte: the winning StatusCode and its severity rank (0, 1, 2)."""
        codes = {
            Reason.RANGE: self.range_quality,
            Reason.ROC: self.roc_quality,
            Reason.FLATLINE: self.flatline_quality,
            Reason.SPIKE: self.spike_quality,
            Reason.GAP: self.gap_quality,
            Reason.NONFINITE: self.nonfinite_quality,
            Reason.FUTURE: self.future_quality,
            Reason.PAST: self.past_quality,
        }
        lut_code = np.zeros(256, dtype=np.uint32)
        lut_rank = np.zeros(256, dtype=np.int64)
        for r in range(1, 256):
            best, rank = 0, -1
            for bit in _PRIORITY:
                if r & bit:
                    c = codes[bit]
                    k = _severity_rank(c)
                    if k > rank:
                        best, rank = c, k
            lut_code[r] = best
            lut_rank[r] = rank
        return lut_code, lut_rank


def _severity_rank(code: int) -> int:
    if code & _q.BAD:
        return 2
    return 1 if code & _q.UNCERTAIN else 0


# ----------------------------------------------------------------------------- inputs
