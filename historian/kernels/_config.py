"""Shared pieces of the aggregate kernels: status constants, configuration, input preparation.

numpy only (plus the quality constants of :mod:`historian.model.quality`, which import numpy only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from historian.errors import InvalidArgumentError, InvalidDataError
from historian.model import quality as _q

__all__ = [
    "AggregateConfig",
    "PreparedSeries",
    "interval_edges",
    "prepare_series",
    "validate_arrays",
]

# StatusCodes the aggregates produce (plain ints, usable inside numba code as globals).
GOOD = _q.GOOD
UNCERTAIN_SUB_NORMAL = _q.UNCERTAIN_DATA_SUB_NORMAL
BAD = _q.BAD
BAD_NO_DATA = _q.BAD_NO_DATA
CALCULATED = _q.HISTORIAN_CALCULATED
INTERPOLATED = _q.HISTORIAN_INTERPOLATED
PARTIAL = _q.HISTORIAN_PARTIAL
MULTI_VALUE = _q.HISTORIAN_MULTI_VALUE
INFO_DATA_VALUE = _q.INFO_TYPE_DATA_VALUE


_ALIASES = {
    "treatuncertainasbad": "treat_uncertain_as_bad",
    "percentdatabad": "percent_data_bad",
    "percentbad": "percent_data_bad",
    "percentdatagood": "percent_data_good",
    "percentgood": "percent_data_good",
    "useslopedextrapolation": "use_sloped_extrapolation",
}


@dataclass(frozen=True)
class AggregateConfig:
    """OPC UA Part 13 AggregateConfiguration.

    Parameters
    ----------
    treat_uncertain_as_bad : bool
        Uncertain samples count as Bad (excluded from the values and counted in the Bad time).
    percent_data_bad : float
        Minimum percentage of Bad data (time or samples) that makes an interval Bad.
    percent_data_good : float
        Minimum percentage of Good data that makes an interval Good; in between it is
        ``UncertainDataSubNormal``.
    use_sloped_extrapolation : bool
        Past the last sample, extrapolate along the last slope instead of holding the last value.

    Examples
    --------
    >>> c = AggregateConfig.from_any({"TreatUncertainAsBad": True, "PercentDataGood": 80})
    >>> c.treat_uncertain_as_bad, c.percent_data_good, c.percent_data_bad
    (True, 80.0, 100.0)
    """

    treat_uncertain_as_bad: bool = False
    percent_data_bad: float = 100.0
    percent_data_good: float = 100.0
    use_sloped_extrapolation: bool = False

    def __post_init__(self) -> None:
        for name in ("percent_data_bad", "percent_data_good"):
            value = float(getattr(self, name))
            if not 0.0 <= value <= 100.0:
                raise InvalidArgumentError(f"{name} must be within 0..100, got {value!r}")
            object.__setattr__(self, name, value)
        object.__setattr__(self, "treat_uncertain_as_bad", bool(self.treat_uncertain_as_bad))
        object.__setattr__(self, "use_sloped_extrapolation", bool(self.use_sloped_extrapolation))

    @classmethod
    def from_any(cls, config: Any) -> AggregateConfig:
        """An AggregateConfig from None, an AggregateConfig, or a dict of Part 13 or snake names."""
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        if not isinstance(config, dict):
            raise InvalidArgumentError(
                f"config must be a dict or AggregateConfig, not {type(config).__name__}"
            )
        kwargs: dict[str, Any] = {}
        fields = set(cls.__dataclass_fields__)
        for key, value in config.items():
            norm = str(key).replace("_", "").replace(" ", "").lower()
            name = _ALIASES.get(norm)
            if name is None and key in fields:
                name = key
            if name is None:
                raise InvalidArgumentError(
                    f"unknown aggregate configuration key {key!r}; use TreatUncertainAsBad, "
                    "PercentDataBad, PercentDataGood, UseSlopedExtrapolation"
                )
            kwargs[name] = value
        return cls(**kwargs)


@dataclass
class PreparedSeries:
    """Validated, sorted, de-duplicated arrays ready for the numba twins."""

    t_ns: np.ndarray  # int64, strictly increasing
    values: np.ndarray  # float64
    quality: np.ndarray  # uint32
    all_good: bool  # every quality is Good and every value finite
    data_end_ns: int  # end of the known history (exclusive)


def _as_1d(name: str, arr: Any) -> np.ndarray:
    a = np.asarray(arr)
    if a.ndim != 1:
        raise InvalidDataError(f"{name} must be a 1-D array, got shape {a.shape}")
    return a


def validate_arrays(
    t_ns: Any, values: Any, quality: Any = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check dtypes and lengths; return int64 t, float64 v, uint32 q (no copy if possible)."""
    t = _as_1d("t_ns", t_ns)
    if t.dtype.kind == "M":
        t = t.astype("datetime64[ns]").astype(np.int64)
    if t.dtype.kind not in "iu":
        raise InvalidDataError(f"t_ns must be int64 nanoseconds, got dtype {t.dtype}")
    t = t.astype(np.int64, copy=False)
    v = _as_1d("values", values)
    if v.dtype.kind not in "fiub":
        raise InvalidDataError(f"values must be numeric, got dtype {v.dtype}")
    v = v.astype(np.float64, copy=False)
    if quality is None:
        q = np.zeros(t.size, dtype=np.uint32)
    else:
        q = _as_1d("quality", quality)
        if q.dtype.kind not in "iu":
            raise InvalidDataError(f"quality must be uint32 StatusCodes, got dtype {q.dtype}")
        q = q.astype(np.uint32, copy=False)
    if not (t.size == v.size == q.size):
        raise InvalidDataError(
            f"lengths differ: t_ns has {t.size}, values {v.size}, quality {q.size}"
        )
    return t, v, q


def prepare_series(
    t_ns: Any,
    values: Any,
    quality: Any = None,
    *,
    data_end_ns: int | None = None,
    drop_no_data: bool = True,
) -> PreparedSeries:
    """Validate dtypes and lengths, sort stably, keep the last of duplicate times.

    Samples whose StatusCode is ``Bad_NoData`` are markers ("no data here", e.g. the first
    archive entry of a point), not values: they are dropped when ``drop_no_data``.
    """
    t, v, q = validate_arrays(t_ns, values, quality)
    from historian.kernels._small import MAX_POINTS, scan_small

    if t.size > MAX_POINTS:
        from historian.kernels._prep import scan

        state, all_good = scan(t, v, q)
    else:  # numpy: nothing to compile for a first, small call
        state, all_good = scan_small(t, v, q)
    if state != 0:  # 1: sorted with duplicates, 2: unsorted
        if state == 2:
            order = np.argsort(t, kind="stable")
            t, v, q = t[order], v[order], q[order]
        keep = np.append(t[1:] != t[:-1], True)  # the last of each run of equal times
        t, v, q = t[keep], v[keep], q[keep]
        all_good = not q.any() and bool(np.isfinite(v).all())
    if drop_no_data and t.size and not all_good:
        marker = (q & np.uint32(_q.CODE_MASK)) == np.uint32(_q.BAD_NO_DATA)
        if marker.any():
            keep = ~marker
            t, v, q = t[keep], v[keep], q[keep]
    if data_end_ns is None:
        data_end_ns = int(t[-1]) + 1 if t.size else np.iinfo(np.int64).min
    return PreparedSeries(t, v, q, all_good, int(data_end_ns))


def interval_edges(start_ns: int, end_ns: int, every_ns: int) -> np.ndarray:
    """Edges of the intervals ``[start, start+every), ...`` up to ``end`` (last one truncated).

    >>> interval_edges(0, 100, 16).tolist()
    [0, 16, 32, 48, 64, 80, 96, 100]
    """
    start_ns, end_ns, every_ns = int(start_ns), int(end_ns), int(every_ns)
    if every_ns <= 0:
        raise InvalidArgumentError(f"every must be positive, got {every_ns} ns")
    if end_ns <= start_ns:
        raise InvalidArgumentError(f"end ({end_ns}) must be after start ({start_ns})")
    if start_ns < -(2**63) or end_ns >= 2**63:
        raise InvalidArgumentError("start and end must be int64 nanoseconds (years 1677-2262)")
    n = -(-(end_ns - start_ns) // every_ns)
    from historian.limits import current  # the one place for budgets (a stdlib-only module)

    current().check(
        "max_result_cells",
        n,
        "intervals of [start, end) at this `every`",
        "use a larger `every` or a shorter window",
    )
    if end_ns - start_ns < 2**62:
        offsets = np.minimum(np.arange(n + 1, dtype=np.int64) * every_ns, end_ns - start_ns)
        return start_ns + offsets
    return np.array([min(start_ns + k * every_ns, end_ns) for k in range(n + 1)], dtype=np.int64)
