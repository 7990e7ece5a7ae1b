"""Shared vocabulary: tags, quality codes (OPC UA StatusCodes), times.

The Arrow schemas live in :mod:`historian.model.schema` (imported on its own, so that
``import historian`` does not import pyarrow).
"""

from historian.model import quality
from historian.model.tags import KINDS, MAX_TAG_LENGTH, Tag, validate_tag_name
from historian.model.times import duration_ns, now_ns, to_ns, to_ns_array

__all__ = [
    "KINDS",
    "MAX_TAG_LENGTH",
    "Tag",
    "duration_ns",
    "now_ns",
    "quality",
    "to_ns",
    "to_ns_array",
    "validate_tag_name",
]
