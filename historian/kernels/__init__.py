"""Numba kernels on plain numpy arrays: Part 13 aggregates, interpolation, plot values,
qualification and source compression.

Import numpy and numba only (no pyarrow, no store). Times are int64 ns, values float64,
quality uint32 OPC UA StatusCodes.

Examples
--------
>>> import numpy as np
>>> from historian.kernels import aggregate
>>> r = aggregate(np.array([0, 10**9], dtype=np.int64), np.array([0.0, 10.0]), None,
...               start_ns=0, end_ns=2 * 10**9, every_ns=2 * 10**9, stat="max")
>>> r.values.tolist()
[10.0]
"""

from historian.kernels._config import AggregateConfig
from historian.kernels.aggregates import (
    FRIENDLY_NAMES,
    PART13_NAMES,
    AggregateResult,
    aggregate,
    aggregate_many,
    resolve_stat,
)
from historian.kernels.interpolate import grid, interpolate
from historian.kernels.plot import plot, plot_indices

__all__ = [
    "FRIENDLY_NAMES",
    "PART13_NAMES",
    "AggregateConfig",
    "AggregateResult",
    "aggregate",
    "aggregate_many",
    "grid",
    "interpolate",
    "plot",
    "plot_indices",
    "resolve_stat",
]

# --- qualification and compression (other module) ---
from historian.kernels.compress import (
    DeadbandCompressor,
    Emitted,
    SwingingDoorCompressor,
    compressor_from_dict,
    deadband_mask,
    swinging_door_mask,
)
from historian.kernels.qualify import (
    REASONS_DTYPE,
    QualificationRules,
    Qualifier,
    Reason,
    find_gaps,
    qualify_history,
    reason_labels,
    reason_names,
)

__all__ += [
    "REASONS_DTYPE",
    "DeadbandCompressor",
    "Emitted",
    "QualificationRules",
    "Qualifier",
    "Reason",
    "SwingingDoorCompressor",
    "compressor_from_dict",
    "deadband_mask",
    "find_gaps",
    "qualify_history",
    "reason_labels",
    "reason_names",
    "swinging_door_mask",
]
# --- end of qualification and compression ---
