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
