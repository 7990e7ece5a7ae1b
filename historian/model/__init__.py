"""Shared vocabulary: tags, quality codes (OPC UA StatusCodes), times, Arrow schemas."""

from historian.model import quality
from historian.model.schema import POINTS_SCHEMA
from historian.model.tags import KINDS, MAX_TAG_LENGTH, Tag, validate_tag_name
from historian.model.times import duration_ns, now_ns, to_ns, to_ns_array

__all__ = [
    "KINDS",
    "MAX_TAG_LENGTH",
    "POINTS_SCHEMA",
    "Tag",
    "duration_ns",
    "now_ns",
    "quality",
    "to_ns",
    "to_ns_array",
    "validate_tag_name",
]
