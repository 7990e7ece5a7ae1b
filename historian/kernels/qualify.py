"""Qualification: per-tag rules that downgrade a point's OPC UA quality and say why.

Each rule that fires on a point sets a :class:`Reason` bit and proposes an OPC UA StatusCode; the
worst proposal wins, and it replaces the source's quality only when it is strictly worse (a
source's Bad is never upgraded, its sub-code is kept). The raw value is never changed.

========== =================================================== ==================================
reason     fires when                                          default quality
========== =================================================== ==================================
RANGE      value < lo or value > hi                            BadOutOfRange (``mode="hard"``) or
                                                               UncertainEngineeringUnitsExceeded
ROC        |dv/dt| > max_per_s against the previous point      UncertainSensorNotAccurate
FLATLINE   value within epsilon of the run start for longer    UncertainLastUsableValue
           than duration
SPIKE      |x - median| > k * 1.4826 * MAD over the last       UncertainSensorNotAccurate
           ``window`` points (Hampel)
GAP        first point after more than ``expected`` without   UncertainDataSubNormal
           data
NONFINITE  value is NaN or +/-inf (on unless disabled)         BadSensorFailure
FUTURE     time > now + tolerance                              BadInvalidTimestamp
PAST       time < earliest, or older than now - max_age        BadInvalidTimestamp
========== =================================================== ==================================

Streaming: a :class:`Qualifier` (one per tag) carries its state across calls, so the result for a
stream never depends on how it was cut into batches. Points are taken in arrival order; a point
older than the newest time seen so far (a *late* point), or one flagged FUTURE/PAST, is judged by
the stateless rules only (range, non-finite, future, past) and leaves the state untouched. The
stateful rules (rate of change, flatline, spike) look only at finite points whose source quality is
not Bad; the gap rule looks at every in-order point. See ``docs/qualification.md``.

Examples
--------
>>> import numpy as np
>>> from historian.kernels.qualify import Qualifier, reason_names
>>> qual = Qualifier({"range": {"lo": 0, "hi": 100}, "roc": {"max_per_s": 5}})
>>> t = np.array([0, 1, 2, 3], dtype=np.int64) * 1_000_000_000
>>> quality, reasons = qual.qualify(t, [10.0, 12.0, 150.0, np.nan], now_ns=10**18)
>>> [hex(int(c)) for c in quality]
['0x0', '0x0', '0x803c0000', '0x808c0000']
>>> [reason_names(r) for r in reasons]
[[], [], ['range', 'roc'], ['nonfinite']]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from historian.errors import InvalidArgumentError, InvalidDataError
from historian.kernels import _qualify_jit as _jit
from historian.kernels import _small
from historian.kernels.rules import (  # the rules and reasons live there; re-exported here
    _PRIORITY,  # noqa: F401 - the reference implementation in tests/kernels reads it from here
    INT64_MAX,
    INT64_MIN,
    REASONS_DTYPE,
    QualificationRules,
    Reason,
    reason_labels,
    reason_names,
)
from historian.model.times import duration_ns, now_ns, to_ns, to_ns_array

__all__ = [
    "REASONS_DTYPE",
    "QualificationRules",
    "Qualifier",
    "Reason",
    "find_gaps",
    "qualify_history",
    "reason_labels",
    "reason_names",
]


def _inputs(t_ns: Any, values: Any, quality: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(t_ns, np.ndarray) and t_ns.dtype == np.int64 and t_ns.ndim == 1:
        t = np.ascontiguousarray(t_ns)
    else:
        t = to_ns_array(t_ns)
    try:
        v = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidDataError(
            f"values must be numbers convertible to float64, got {type(values).__name__}"
        ) from None
    if v.ndim != 1:
        raise InvalidDataError(f"values must be 1-D, got shape {v.shape}")
    if v.shape[0] != t.shape[0]:
        raise InvalidDataError(f"{t.shape[0]} times but {v.shape[0]} values; they must match")
    if quality is None:
        q = np.zeros(t.shape[0], dtype=np.uint32)
    else:
        qa = np.asarray(quality)
        if qa.ndim == 0:
            qa = np.full(t.shape[0], qa)
        if qa.dtype.kind not in "iu" and not (qa.size == 0 and qa.dtype.kind == "f"):
            raise InvalidDataError(f"quality must be uint32 StatusCodes, got dtype {qa.dtype}")
        if qa.ndim != 1 or qa.shape[0] != t.shape[0]:
            raise InvalidDataError(f"{t.shape[0]} times but quality of shape {qa.shape}")
        if qa.dtype.kind == "i" and qa.size and (qa.min() < 0 or qa.max() >= 2**32):
            raise InvalidDataError("quality codes must lie in 0 .. 2**32-1 (uint32 StatusCodes)")
        q = np.ascontiguousarray(qa, dtype=np.uint32)
    return t, v, q


# ----------------------------------------------------------------------------- streaming

_STATE_FORMAT = 1


class Qualifier:
    """Streaming qualification for one tag: call :meth:`qualify` on each batch as it arrives.

    Parameters
    ----------
    rules : dict, QualificationRules or None
        The tag's rules (see :meth:`QualificationRules.from_dict`).

    Notes
    -----
    The result for a stream does not depend on how it is cut into batches, provided ``now_ns`` is
    the same (it only matters for the future/past rules). One instance is not thread-safe; the
    kernels release the GIL, so different tags can be qualified in parallel threads.

    Examples
    --------
    >>> import numpy as np
    >>> qual = Qualifier({"flatline": {"duration": "2s"}})
    >>> t = np.arange(5, dtype=np.int64) * 1_000_000_000
    >>> _, r1 = qual.qualify(t[:2], [1.0, 1.0], now_ns=0)
    >>> _, r2 = qual.qualify(t[2:], [1.0, 1.0, 2.0], now_ns=0)
    >>> r1.tolist() + r2.tolist()  # stuck for more than 2 s from t=3 s on
    [0, 0, 0, 4, 0]
    """

    def __init__(self, rules: QualificationRules | Mapping[str, Any] | None = None) -> None:
        self._rules = QualificationRules.from_dict(rules)
        self._lut_code, self._lut_rank = self._rules._lut()
        self._istate = np.zeros(_jit.ISTATE_SIZE, dtype=np.int64)
        self._fstate = np.zeros(_jit.FSTATE_SIZE, dtype=np.float64)
        w = self._rules.spike_window or 0
        self._ring = np.zeros(w, dtype=np.float64)
        self._sorted = np.zeros(w, dtype=np.float64)

    @classmethod
    def for_tag(cls, tag: Any) -> Qualifier:
        """A qualifier for a :class:`~historian.Tag`; a ``range`` rule without ``lo``/``hi``
        takes the tag's engineering range."""
        rules = dict(tag.rules or {})
        rng = rules.get("range")
        if isinstance(rng, Mapping) and rng.get("lo") is None and rng.get("hi") is None:
            if tag.lo is None and tag.hi is None:
                raise InvalidArgumentError(
                    f"tag {tag.name!r}: the 'range' rule has no lo/hi and the tag has no range"
                )
            rules["range"] = {**rng, "lo": tag.lo, "hi": tag.hi}
        return cls(rules)

    @property
    def rules(self) -> QualificationRules:
        """The rules this qualifier applies."""
        return self._rules

    def reset(self) -> None:
        """Forget the stream seen so far."""
        self._istate[:] = 0
        self._fstate[:] = 0.0

    def qualify(
        self, t_ns: Any, values: Any, quality: Any = None, now_ns: Any = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Qualify one batch; returns ``(quality_out uint32, reasons uint16)``.

        Parameters
        ----------
        t_ns : array of int64 ns (or anything :func:`historian.model.to_ns_array` takes)
        values : array of float64
        quality : array of uint32 StatusCodes from the source, or None (all Good)
        now_ns : int ns or any time :func:`historian.model.to_ns` takes, optional
            The current time for the future/past rules (default: the clock at the call).
        """
        t, v, q = _inputs(t_ns, values, quality)
        if now_ns is not None and not isinstance(now_ns, int | np.integer):
            now_ns = to_ns(now_ns)  # strings, datetimes; ints are taken as they are
        return self._run(t, v, q, None if now_ns is None else int(now_ns))

    def _run(
        self, t: np.ndarray, v: np.ndarray, q: np.ndarray, now: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        r = self._rules
        n = t.shape[0]
        out_q = np.empty(n, dtype=np.uint32)
        out_r = np.empty(n, dtype=np.uint16)
        if n == 0:
            return out_q, out_r
        if now is None and (r.future_tolerance_ns is not None or r.past_max_age_ns is not None):
            now = now_ns()
        future_limit, past_limit = INT64_MAX, INT64_MIN
        if r.future_tolerance_ns is not None:
            future_limit = min(int(now) + r.future_tolerance_ns, INT64_MAX)  # type: ignore[arg-type]
        if r.past_max_age_ns is not None:
            past_limit = max(int(now) - r.past_max_age_ns, INT64_MIN)  # type: ignore[arg-type]
        if r.past_earliest_ns is not None:
            past_limit = max(past_limit, r.past_earliest_ns)
        spike = r.spike_window is not None
        elig = np.zeros(n if spike else 0, dtype=np.uint8)
        rng = None
        if r.range_mode is not None:
            lo = -np.inf if r.range_lo is None else r.range_lo
            rng = (lo, np.inf if r.range_hi is None else r.range_hi)
        stateless = r.roc_max_per_s is None and r.flatline_ns is None and r.gap_ns is None
        if stateless and not spike and n <= _small.MAX_POINTS:  # numpy: nothing to compile
            return _small.qualify_small(
                t,
                v,
                q,
                rng,
                r.nonfinite,
                future_limit,
                past_limit,
                self._lut_code,
                self._lut_rank,
                self._istate,
            )
        _jit._qualify_core(
            t,
            v,
            q,
            out_q,
            out_r,
            elig,
            rng,
            r.roc_max_per_s,
            None if r.flatline_ns is None else (np.int64(r.flatline_ns), r.flatline_epsilon),
            r.gap_ns is not None,
            np.int64(r.gap_ns or 0),
            r.nonfinite,
            np.int64(future_limit),
            np.int64(past_limit),
            self._lut_code,
            self._lut_rank,
            self._istate,
            self._fstate,
        )
        if spike:
            _jit._spike_pass(
                v,
                q,
                elig,
                out_q,
                out_r,
                r.spike_window,
                r.spike_k * _jit.HAMPEL_SCALE,
                r.spike_min_deviation,
                self._ring,
                self._sorted,
                self._istate,
                self._lut_code,
                self._lut_rank,
            )
        return out_q, out_r

    def state_dict(self) -> dict[str, Any]:
        """The streaming state as a JSON-serialisable dict (persist it with the store)."""
        s, f = self._istate, self._fstate
        w = self._rules.spike_window or 0
        head, count = int(s[_jit.S_HEAD]), int(s[_jit.S_COUNT])
        window = [float(self._ring[(head + i) % w]) for i in range(count)] if w else []
        return {
            "format": _STATE_FORMAT,
            "rules": self._rules.to_dict(),
            "rules_version": self._rules.version,
            "last_t_ns": int(s[_jit.S_LAST_T]) if s[_jit.S_HAS_LAST] else None,
            "roc": [int(s[_jit.S_ROC_T]), float(f[_jit.F_ROC_V])] if s[_jit.S_HAS_ROC] else None,
            "flatline": (
                [int(s[_jit.S_RUN_T]), float(f[_jit.F_RUN_V])] if s[_jit.S_HAS_RUN] else None
            ),
            "spike_window": window,
        }

    @classmethod
    def from_state(
        cls, state: Mapping[str, Any], rules: QualificationRules | Mapping[str, Any] | None = None
    ) -> Qualifier:
        """Rebuild a qualifier from :meth:`state_dict`.

        With ``rules`` (e.g. after the tag's rules changed) the new rules continue from the saved
        state: the time clock, last value and flatline run carry over, and the spike window keeps
        its most recent points up to the new window length.
        """
        if not isinstance(state, Mapping) or state.get("format") != _STATE_FORMAT:
            raise InvalidArgumentError(
                f"not a Qualifier state (expected a dict with format={_STATE_FORMAT})"
            )
        self = cls(state["rules"] if rules is None else rules)
        s, f = self._istate, self._fstate
        try:
            if state.get("last_t_ns") is not None:
                s[_jit.S_HAS_LAST], s[_jit.S_LAST_T] = 1, int(state["last_t_ns"])
            if state.get("roc") is not None:
                s[_jit.S_HAS_ROC], s[_jit.S_ROC_T] = 1, int(state["roc"][0])
                f[_jit.F_ROC_V] = float(state["roc"][1])
            if state.get("flatline") is not None:
                s[_jit.S_HAS_RUN], s[_jit.S_RUN_T] = 1, int(state["flatline"][0])
                f[_jit.F_RUN_V] = float(state["flatline"][1])
            w = self._rules.spike_window or 0
            window = [float(x) for x in state.get("spike_window", [])][-w:] if w else []
        except (KeyError, TypeError, ValueError, IndexError, OverflowError) as exc:
            raise InvalidArgumentError(f"corrupt Qualifier state: {exc}") from None
        if w:
            self._ring[: len(window)] = window
            self._sorted[: len(window)] = sorted(window)
            s[_jit.S_HEAD], s[_jit.S_COUNT] = 0, len(window)
            if len(window) == w:
                s[_jit.S_HEAD] = 0
        return self


def qualify_history(
    t_ns: Any,
    values: Any,
    quality: Any = None,
    *,
    rules: QualificationRules | Mapping[str, Any] | None,
    now_ns: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Qualify a whole series in one call (fresh state); returns ``(quality_out, reasons)``.

    For re-qualifying stored history pass the raw source quality (not an earlier result) and a
    fixed ``now_ns`` so the result is reproducible.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(6, dtype=np.int64) * 1_000_000_000
    >>> q, r = qualify_history(t, [1, 1, 1, 9, 1, 1], rules={"spike": {"window": 3, "k": 3}})
    >>> r.tolist(), hex(int(q[3]))
    ([0, 0, 0, 8, 0, 0], '0x40930000')
    """
    return Qualifier(rules).qualify(t_ns, values, quality, now_ns=now_ns)


def find_gaps(
    t_ns: Any,
    expected: Any,
    *,
    start_ns: int | None = None,
    end_ns: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Intervals longer than ``expected`` without data: ``(gap_start_ns, gap_end_ns)``.

    Each gap runs from the last point before it to the first point after it. With ``start_ns`` /
    ``end_ns`` the window edges count as well (a sensor silent since its last point up to
    ``end_ns`` gives a final gap ending at ``end_ns``). Times are sorted first.

    Examples
    --------
    >>> import numpy as np
    >>> s, e = find_gaps(np.array([0, 1, 2, 10, 11], dtype=np.int64) * 10**9, "5s")
    >>> (s // 10**9).tolist(), (e // 10**9).tolist()
    ([2], [10])
    """
    gap = duration_ns(expected)
    ts = np.sort(to_ns_array(t_ns))
    lo = None if start_ns is None else to_ns(start_ns)
    hi = None if end_ns is None else to_ns(end_ns)
    if lo is not None and hi is not None and lo > hi:
        raise InvalidArgumentError(f"start_ns ({lo}) is after end_ns ({hi})")
    if lo is not None:
        ts = np.concatenate([np.array([lo], dtype=np.int64), ts[ts >= lo]])
    if hi is not None:
        ts = np.concatenate([ts[ts <= hi], np.array([hi], dtype=np.int64)])
    out_s = np.empty(max(ts.shape[0] - 1, 0), dtype=np.int64)
    out_e = np.empty_like(out_s)
    k = _jit._find_gaps(ts, gap, out_s, out_e)
    return out_s[:k].copy(), out_e[:k].copy()
