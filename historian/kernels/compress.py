"""Compression at the source: exception deadband and swinging-door trending (PI's two filters).

Both drop points that a straight line (swinging door) or the last reported value (deadband)
already describe within a ``deviation``, so a collector stores far fewer points of a slow signal.

- **Exception deadband** (PI *exception reporting*): a point is reported when it differs from the
  last reported value by more than ``deviation``, when its quality differs, when its value is not
  finite, or when ``max_time`` has passed since the last report. When a point is reported, the
  point received just before it (held back until then) is reported too, so the start of a change
  is not lost. Guarantee: every dropped value lies within ``deviation`` of the last reported value
  before it.
- **Swinging door** (PI *compression*): a point is kept only when no straight line from the last
  kept point passes within ``deviation`` of every point since. Guarantee (``min_time = 0``): every
  dropped value lies within ``deviation`` of the straight line between the kept points around it.
  ``max_time`` bounds the time between kept points; ``min_time`` lets points closer than that to
  the last kept one be dropped regardless (PI's CompMin; it lifts the guarantee for those points).

Streaming: a compressor object carries its state; :meth:`~_Compressor.push` returns the points
decided so far (possibly one held from an earlier batch), :meth:`~_Compressor.flush` the point
still held. The concatenated output never depends on how the stream was cut into batches. A point
not newer than the newest point seen (late or duplicate time) is passed through as kept and leaves
the state alone. One-shot :func:`deadband_mask` / :func:`swinging_door_mask` keep the first and the
last point.

Examples
--------
>>> import numpy as np
>>> t = np.arange(6, dtype=np.int64) * 1_000_000_000
>>> swinging_door_mask(t, [0.0, 1.0, 2.0, 3.0, 3.0, 3.0], deviation=0.1).tolist()
[True, False, False, True, False, True]
>>> deadband_mask(t, [0.0, 0.05, 0.08, 1.0, 1.02, 1.0], deviation=0.1).tolist()
[True, False, True, True, False, True]
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np

from historian.errors import InvalidArgumentError
from historian.kernels._jit import njit
from historian.kernels.qualify import _inputs
from historian.model.times import duration_ns

__all__ = [
    "DeadbandCompressor",
    "Emitted",
    "SwingingDoorCompressor",
    "compressor_from_dict",
    "deadband_mask",
    "swinging_door_mask",
]

_NO_MAX = np.int64(-1)

# int64 state layout shared by both kernels
I_HAS_A, I_A_T, I_A_Q, I_HAS_H, I_H_T, I_H_Q, I_H_IDX, I_LAST_T, I_SEEN = range(9)
# float64 state layout: value of the anchor (last reported/archived), of the held point, door
F_A_V, F_H_V, F_LO, F_HI = range(4)


@njit(cache=True, nogil=True)
def _deadband(
    t: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    deviation: float,
    max_ns: int | np.integer,
    ist: np.ndarray,
    fst: np.ndarray,
    out: np.ndarray,
) -> int:
    """Exception reporting; writes the global indices reported, returns how many."""
    n = t.shape[0]
    k = 0
    base = ist[I_SEEN]
    for i in range(n):
        ti = t[i]
        x = v[i]
        qi = np.int64(q[i])
        gi = base + i
        if ist[I_HAS_A] == 0:
            out[k] = gi
            k += 1
            ist[I_HAS_A] = 1
            ist[I_A_T] = ti
            ist[I_A_Q] = qi
            fst[F_A_V] = x
            ist[I_LAST_T] = ti
            continue
        if ti <= ist[I_LAST_T]:
            out[k] = gi
            k += 1
            continue
        ist[I_LAST_T] = ti
        av = fst[F_A_V]
        exceed = (
            qi != ist[I_A_Q]
            or not np.isfinite(x)
            or not np.isfinite(av)
            or abs(x - av) > deviation
            or (max_ns >= 0 and np.uint64(ti) - np.uint64(ist[I_A_T]) >= np.uint64(max_ns))
        )
        if exceed:
            if ist[I_HAS_H] != 0:
                out[k] = ist[I_H_IDX]
                k += 1
            out[k] = gi
            k += 1
            ist[I_A_T] = ti
            ist[I_A_Q] = qi
            fst[F_A_V] = x
            ist[I_HAS_H] = 0
        else:
            ist[I_HAS_H] = 1
            ist[I_H_T] = ti
            ist[I_H_Q] = qi
            ist[I_H_IDX] = gi
            fst[F_H_V] = x
    ist[I_SEEN] = base + n
    return k


@njit(cache=True, nogil=True, inline="always")
def _door(ti: int, x: float, at: int, av: float, deviation: float) -> tuple[float, float]:
    dt = np.float64(np.uint64(ti) - np.uint64(at))
    return (x - deviation - av) / dt, (x + deviation - av) / dt


@njit(cache=True, nogil=True)
def _swinging_door(
    t: np.ndarray,
    v: np.ndarray,
    q: np.ndarray,
    deviation: float,
    min_ns: int | np.integer,
    max_ns: int | np.integer,
    ist: np.ndarray,
    fst: np.ndarray,
    out: np.ndarray,
) -> int:
    """Swinging-door trending; writes the global indices kept, returns how many."""
    n = t.shape[0]
    k = 0
    base = ist[I_SEEN]
    for i in range(n):
        ti = t[i]
        x = v[i]
        qi = np.int64(q[i])
        gi = base + i
        if ist[I_HAS_A] == 0:
            out[k] = gi
            k += 1
            ist[I_HAS_A] = 1
            ist[I_A_T] = ti
            ist[I_A_Q] = qi
            fst[F_A_V] = x
            ist[I_LAST_T] = ti
            continue
        if ti <= ist[I_LAST_T]:
            out[k] = gi
            k += 1
            continue
        ist[I_LAST_T] = ti
        at = ist[I_A_T]
        av = fst[F_A_V]
        if not np.isfinite(x) or not np.isfinite(av) or qi != ist[I_A_Q]:
            if ist[I_HAS_H] != 0:
                out[k] = ist[I_H_IDX]
                k += 1
            out[k] = gi
            k += 1
            ist[I_A_T] = ti
            ist[I_A_Q] = qi
            fst[F_A_V] = x
            ist[I_HAS_H] = 0
            continue
        if ist[I_HAS_H] == 0:
            lo, hi = _door(ti, x, at, av, deviation)
            fst[F_LO] = lo
            fst[F_HI] = hi
        else:
            elapsed = np.uint64(ti) - np.uint64(at)
            if min_ns > 0 and elapsed < np.uint64(min_ns):
                inside = True
            else:
                slope = (x - av) / np.float64(elapsed)
                inside = fst[F_LO] <= slope <= fst[F_HI] and not (
                    max_ns >= 0 and elapsed > np.uint64(max_ns)
                )
            if inside:
                lo, hi = _door(ti, x, at, av, deviation)
                fst[F_LO] = max(fst[F_LO], lo)
                fst[F_HI] = min(fst[F_HI], hi)
            else:
                out[k] = ist[I_H_IDX]
                k += 1
                ist[I_A_T] = ist[I_H_T]
                ist[I_A_Q] = ist[I_H_Q]
                fst[F_A_V] = fst[F_H_V]
                lo, hi = _door(ti, x, ist[I_A_T], fst[F_A_V], deviation)
                fst[F_LO] = lo
                fst[F_HI] = hi
        ist[I_HAS_H] = 1
        ist[I_H_T] = ti
        ist[I_H_Q] = qi
        ist[I_H_IDX] = gi
        fst[F_H_V] = x
    ist[I_SEEN] = base + n
    return k


class Emitted(NamedTuple):
    """Points a compressor decided to keep, in the order decided (times may not be sorted)."""

    indices: np.ndarray  # int64: position in the whole stream since the compressor started
    t_ns: np.ndarray  # int64
    values: np.ndarray  # float64
    quality: np.ndarray  # uint32


def _deviation(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidArgumentError(f"{what}: 'deviation' must be a number, not {value!r}")
    f = float(value)
    if not np.isfinite(f) or f < 0:
        raise InvalidArgumentError(f"{what}: 'deviation' must be finite and >= 0, got {value!r}")
    return f


def _opt_duration(value: Any, what: str, key: str) -> int | None:
    if value is None:
        return None
    try:
        ns = duration_ns(value)
    except InvalidArgumentError as exc:
        raise InvalidArgumentError(f"{what}: {key!r} is not a duration ({exc})") from None
    if ns >= 2**63:
        raise InvalidArgumentError(f"{what}: {key!r} is longer than int64 nanoseconds")
    return ns


class _Compressor(abc.ABC):
    _name = ""

    def __init__(self) -> None:
        self._ist = np.zeros(9, dtype=np.int64)
        self._fst = np.zeros(4, dtype=np.float64)

    @abc.abstractmethod
    def _kernel(self, t: np.ndarray, v: np.ndarray, q: np.ndarray, out: np.ndarray) -> int:
        """Run the compressor's Numba kernel over one batch; returns how many indices it wrote."""

    def _indices(self, t: np.ndarray, v: np.ndarray, q: np.ndarray) -> np.ndarray:
        # each point is emitted at most once, plus the one held from an earlier batch
        out = np.empty(t.shape[0] + 1, dtype=np.int64)
        k = self._kernel(t, v, q, out)
        return out[:k] if k > t.shape[0] // 2 else out[:k].copy()

    def push(self, t_ns: Any, values: Any, quality: Any = None) -> Emitted:
        """Feed one batch; returns the points decided as kept (see the module notes)."""
        t, v, q = _inputs(t_ns, values, quality)
        held = (
            (
                int(self._ist[I_H_IDX]),
                int(self._ist[I_H_T]),
                float(self._fst[F_H_V]),
                int(self._ist[I_H_Q]),
            )
            if self._ist[I_HAS_H]
            else None
        )
        base = int(self._ist[I_SEEN])
        idx = self._indices(t, v, q)
        k = idx.shape[0]
        if k == 0:
            return Emitted(idx, idx.copy(), np.zeros(0), np.zeros(0, dtype=np.uint32))
        local = idx - base
        old = local < 0
        safe = np.where(old, 0, local)
        et, ev, eq = t[safe], v[safe], q[safe]
        if old.any():  # the point held back from an earlier batch
            assert held is not None and np.all(idx[old] == held[0])
            et[old], ev[old], eq[old] = held[1], held[2], held[3]
        return Emitted(idx, et, ev, eq)

    def flush(self) -> Emitted:
        """Emit the point still held (the newest one, when not yet reported); at most one."""
        if not self._ist[I_HAS_H]:
            z = np.zeros(0, dtype=np.int64)
            return Emitted(z, z.copy(), np.zeros(0), np.zeros(0, dtype=np.uint32))
        s, f = self._ist, self._fst
        e = Emitted(
            np.array([s[I_H_IDX]]),
            np.array([s[I_H_T]]),
            np.array([f[F_H_V]]),
            np.array([s[I_H_Q]], dtype=np.uint32),
        )
        s[I_A_T], s[I_A_Q], f[F_A_V] = s[I_H_T], s[I_H_Q], f[F_H_V]
        s[I_HAS_H] = 0
        return e

    def state_dict(self) -> dict[str, Any]:
        """The streaming state as a JSON-serialisable dict."""
        return {
            "kind": self._name,
            "config": self.config(),
            "int": [int(x) for x in self._ist],
            "float": [float(x) for x in self._fst],
        }

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """The compressor's settings as a dict (what :func:`compressor_from_dict` takes)."""

    @staticmethod
    def from_state(state: Mapping[str, Any]) -> DeadbandCompressor | SwingingDoorCompressor:
        """Rebuild a compressor from :meth:`state_dict`."""
        try:
            c = compressor_from_dict({state["kind"]: state["config"]})
            assert c is not None
            c._ist[:] = np.asarray(state["int"], dtype=np.int64)
            c._fst[:] = np.asarray(state["float"], dtype=np.float64)
        except (KeyError, TypeError, ValueError, AssertionError) as exc:
            raise InvalidArgumentError(f"not a compressor state: {exc!r}") from None
        return c


class DeadbandCompressor(_Compressor):
    """Exception deadband (PI exception reporting), streaming.

    Parameters
    ----------
    deviation : float
        Report a value when it differs from the last reported one by more than this.
    max_time : duration, optional
        Report a value anyway once this long has passed since the last report.

    Examples
    --------
    >>> c = DeadbandCompressor(deviation=0.5)
    >>> c.push([0, 1, 2], [1.0, 1.2, 1.3]).indices.tolist()
    [0]
    >>> c.push([3], [2.0]).indices.tolist()  # reports the held point 2, then point 3
    [2, 3]
    >>> c.flush().indices.tolist()
    []
    """

    _name = "deadband"

    def __init__(self, deviation: float, max_time: Any = None) -> None:
        super().__init__()
        self.deviation = _deviation(deviation, "deadband")
        self.max_ns = _opt_duration(max_time, "deadband", "max_time")

    def _kernel(self, t: np.ndarray, v: np.ndarray, q: np.ndarray, out: np.ndarray) -> int:
        mx = _NO_MAX if self.max_ns is None else np.int64(self.max_ns)
        return int(_deadband(t, v, q, self.deviation, mx, self._ist, self._fst, out))

    def config(self) -> dict[str, Any]:
        return {"deviation": self.deviation, "max_time": self.max_ns and f"{self.max_ns}ns"}


class SwingingDoorCompressor(_Compressor):
    """Swinging-door trending (PI compression), streaming.

    Parameters
    ----------
    deviation : float
        Half-width of the door: dropped points lie within this of the line through kept ones.
    min_time : duration
        Points closer than this to the last kept point are not tested (PI CompMin); default 0.
    max_time : duration, optional
        Keep a point at least this often (PI CompMax).

    Examples
    --------
    >>> c = SwingingDoorCompressor(deviation=0.1)
    >>> c.push([0, 1, 2], [0.0, 1.0, 2.0]).indices.tolist()  # a straight line so far
    [0]
    >>> c.push([3], [0.0]).indices.tolist(), c.flush().indices.tolist()
    ([2], [3])
    """

    _name = "swinging_door"

    def __init__(self, deviation: float, min_time: Any = 0, max_time: Any = None) -> None:
        super().__init__()
        self.deviation = _deviation(deviation, "swinging_door")
        self.min_ns = _opt_duration(min_time, "swinging_door", "min_time") or 0
        self.max_ns = _opt_duration(max_time, "swinging_door", "max_time")

    def _kernel(self, t: np.ndarray, v: np.ndarray, q: np.ndarray, out: np.ndarray) -> int:
        mx = _NO_MAX if self.max_ns is None else np.int64(self.max_ns)
        return int(
            _swinging_door(
                t, v, q, self.deviation, np.int64(self.min_ns), mx, self._ist, self._fst, out
            )
        )

    def config(self) -> dict[str, Any]:
        return {
            "deviation": self.deviation,
            "min_time": f"{self.min_ns}ns",
            "max_time": self.max_ns and f"{self.max_ns}ns",
        }


def compressor_from_dict(
    d: Mapping[str, Any] | None,
) -> DeadbandCompressor | SwingingDoorCompressor | None:
    """The compressor a tag's ``compression`` dict asks for, or None.

    Accepts ``{"deadband": 0.1}``, ``{"deadband": {"deviation": 0.1, "max_time": "10min"}}``,
    ``{"swinging_door": 0.1}`` or
    ``{"swinging_door": {"deviation": 0.1, "min_time": "0s", "max_time": "1h"}}``.

    >>> type(compressor_from_dict({"swinging_door": 0.5})).__name__
    'SwingingDoorCompressor'
    """
    if not d:
        return None
    if not isinstance(d, Mapping) or len(d) != 1:
        raise InvalidArgumentError(
            "compression must be one of {'deadband': <deviation or settings>} or "
            f"{{'swinging_door': <deviation or settings>}}, not {d!r}"
        )
    ((kind, body),) = d.items()
    if isinstance(body, int | float) and not isinstance(body, bool):
        body = {"deviation": body}
    allowed = {
        "deadband": ("deviation", "max_time"),
        "swinging_door": ("deviation", "min_time", "max_time"),
    }
    if kind not in allowed:
        raise InvalidArgumentError(
            f"unknown compression {kind!r}; use 'deadband' or 'swinging_door'"
        )
    if not isinstance(body, Mapping):
        raise InvalidArgumentError(
            f"compression {kind!r} takes a deviation or a dict of settings, not {body!r}"
        )
    for key in body:
        if key not in allowed[kind]:
            raise InvalidArgumentError(
                f"compression {kind!r}: unknown key {key!r}; allowed: {', '.join(allowed[kind])}"
            )
    if "deviation" not in body:
        raise InvalidArgumentError(f"compression {kind!r} needs 'deviation'")
    if kind == "deadband":
        return DeadbandCompressor(body["deviation"], body.get("max_time"))
    return SwingingDoorCompressor(body["deviation"], body.get("min_time", 0), body.get("max_time"))


def _mask(c: _Compressor, t_ns: Any, values: Any, quality: Any) -> np.ndarray:
    t, v, q = _inputs(t_ns, values, quality)
    mask = np.zeros(t.shape[0], dtype=bool)
    mask[c._indices(t, v, q)] = True  # a fresh compressor: global indices are positions
    mask[c.flush().indices] = True
    return mask


def deadband_mask(
    t_ns: Any, values: Any, quality: Any = None, *, deviation: float, max_time: Any = None
) -> np.ndarray:
    """One-shot exception deadband: a boolean mask of the points to keep (first and last kept)."""
    return _mask(DeadbandCompressor(deviation, max_time), t_ns, values, quality)


def swinging_door_mask(
    t_ns: Any,
    values: Any,
    quality: Any = None,
    *,
    deviation: float,
    min_time: Any = 0,
    max_time: Any = None,
) -> np.ndarray:
    """One-shot swinging-door trending: a boolean mask of the points to keep (first and last
    kept)."""
    return _mask(SwingingDoorCompressor(deviation, min_time, max_time), t_ns, values, quality)
