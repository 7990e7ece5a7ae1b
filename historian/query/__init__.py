"""Query layer: Arrow tables over the kernels (summaries, interpolated values, plot values).

Imports pyarrow; the kernels stay numpy + numba only.
"""

from historian.query.retrieval import (
    AggregateConfig,
    interpolated_for_tags,
    plot_for_tag,
    summarize,
    summary_for_tags,
)

__all__ = [
    "AggregateConfig",
    "interpolated_for_tags",
    "plot_for_tag",
    "summarize",
    "summary_for_tags",
]

# --- sql/correlate/events/asof ---
from historian.query.asof import asof_join, match_asof, wide
from historian.query.correlate import aligned_matrix, correlate
from historian.query.events import Condition, event_periods, events, parse_condition
from historian.query.sql import SqlEngine

__all__ += [
    "Condition",
    "SqlEngine",
    "aligned_matrix",
    "asof_join",
    "correlate",
    "event_periods",
    "events",
    "match_asof",
    "parse_condition",
    "wide",
]
# --- end of sql/correlate/events/asof ---
