"""OPC UA Part 13 AnnotationCount: the number of annotations in each interval.

Part 13 (5.4.3.20) defines AnnotationCount as "a count of all Annotations in the interval",
an Int32 reported at the interval start with the status Good, Calculated; the Partial bit when
the interval is only partly inside the data of the variable, Bad_NoData before the start or
after the end of its data. So the count needs two things: the annotation times and the data
range of the series they annotate (its first sample that is not a ``Bad_NoData`` marker, and
the end of its history). No bounding values are used.

The count is two binary searches per interval edge (numpy's ``searchsorted`` runs in C and
releases nothing it needs to): no Numba kernel is needed for it.

Examples
--------
>>> import numpy as np
>>> edges = np.array([0, 10, 20, 30], dtype=np.int64)
>>> r = annotation_count(edges, np.array([1, 5, 12], dtype=np.int64), data_start_ns=0,
...                      data_end_ns=25)
>>> r[0].tolist(), [hex(s) for s in r[2].tolist()]
([2.0, 1.0, 0.0], ['0x401', '0x401', '0x405'])
"""

from __future__ import annotations

from typing import Any

import numpy as np

from historian.errors import InvalidDataError
from historian.kernels._config import BAD_NO_DATA, CALCULATED, INFO_DATA_VALUE, PARTIAL

__all__ = ["ANNOTATION_COUNT", "annotation_count", "annotation_times"]

#: The Part 13 name of the aggregate.
ANNOTATION_COUNT = "AnnotationCount"

# Calculated (and the DataValue info type every historian bit comes with, as in _part13)
_CALCULATED = np.uint32(CALCULATED | INFO_DATA_VALUE)
_PARTIAL = np.uint32(PARTIAL)
_BAD_NO_DATA = np.uint32(BAD_NO_DATA)


def annotation_times(annotations_ns: Any) -> np.ndarray:
    """The annotation times as a sorted int64 array (``None``: no annotations).

    >>> annotation_times([30, 10, 20]).tolist()
    [10, 20, 30]
    """
    if annotations_ns is None:
        return np.zeros(0, dtype=np.int64)
    a = np.asarray(annotations_ns)
    if a.dtype.kind == "M":
        a = a.astype("datetime64[ns]").astype(np.int64)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        raise InvalidDataError(
            f"annotations must be a 1-D array of int64 ns times (or datetime64), not {a.dtype} "
            f"of shape {a.shape}"
        )
    return np.sort(a.astype(np.int64, copy=False), kind="stable")


def annotation_count(
    edges_ns: np.ndarray,
    annotations_ns: Any,
    *,
    data_start_ns: int | None,
    data_end_ns: int | None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """AnnotationCount per interval ``[edges[k], edges[k+1])``: (values, times, status).

    Parameters
    ----------
    edges_ns
        int64 interval edges, increasing.
    annotations_ns
        Annotation times (int64 ns or datetime64), any order; ``None`` for none.
    data_start_ns, data_end_ns
        The data range of the annotated series: its first real sample (``None``: no data) and
        the end of its history (exclusive).

    Returns
    -------
    tuple of numpy arrays
        float64 counts (NaN where Bad_NoData), int64 times (the interval starts), uint32
        StatusCodes (Good with the Calculated bit and the DataValue info type, as every
        calculated aggregate here; plus Partial for an interval partly outside the data range;
        Bad_NoData for one wholly outside it).
    """
    edges = np.asarray(edges_ns, dtype=np.int64)
    a, b = edges[:-1], edges[1:]
    ann = annotation_times(annotations_ns)
    counts = (np.searchsorted(ann, b, "left") - np.searchsorted(ann, a, "left")).astype(np.float64)
    status = np.full(a.size, _CALCULATED, dtype=np.uint32)
    if data_start_ns is None or data_end_ns is None:
        outside = np.ones(a.size, dtype=bool)
    else:
        ds, de = int(data_start_ns), int(data_end_ns)
        outside = (a >= de) | (b <= ds)
        status[(a < ds) | (b > de)] |= _PARTIAL
    status[outside] = _BAD_NO_DATA
    counts[outside] = np.nan
    return counts, a.copy(), status
