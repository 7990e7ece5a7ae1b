"""OPC UA values that are texts: String, LocalizedText, EnumValueType and enumerations.

- ``String``: stored as the point's text (no number);
- ``LocalizedText``: its ``Text`` (the locale is not kept);
- ``EnumValueType`` (a structure of Value, DisplayName, Description): the number in ``value``
  and ``DisplayName.Text`` in ``text``;
- a variable whose DataType is an enumeration (an Int32 on the wire): the number in ``value``
  and the label from the DataType's ``EnumStrings`` or ``EnumValues`` property, or its
  ``DataTypeDefinition`` (an EnumDefinition), in ``text`` (read once per DataType when the
  source connects: :func:`node_types`).

A variable whose DataType is String or LocalizedText (or a subtype, e.g. LocaleId) makes a text
tag: :func:`node_types` reports it, and the collector defines the tag ``type="string"`` before
its first value is written (unless the tag already holds numbers).

A text longer than :data:`~historian.model.text.MAX_TEXT_BYTES` is cut at that many bytes (on a
character boundary) and its StatusCode becomes ``Uncertain_DataSubNormal``, so one oversized
server string can never stop the collector's writes.

Examples
--------
>>> text_value("B-001")
(nan, 'B-001')
>>> text_value(12.5) is None
True
>>> fit_text("\\u00e9" * 40_000)[1]
True
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from historian.acquisition.samples import SampleBatch
from historian.model import quality as q
from historian.model.text import MAX_TEXT_BYTES

__all__ = [
    "TEXT_DATA_TYPES",
    "NodeTypes",
    "enum_labels",
    "fit_text",
    "label_enums",
    "node_types",
    "point_text",
    "text_value",
]

logger = logging.getLogger(__name__)
_READ_CHUNK = 1000


def fit_text(s: str) -> tuple[str, bool]:
    """(``s`` at most MAX_TEXT_BYTES of UTF-8, whether it was cut); invalid code points are
    replaced (U+FFFD)."""
    raw = s.encode("utf-8", errors="replace")
    if len(raw) <= MAX_TEXT_BYTES:
        return (s if raw.decode("utf-8") == s else raw.decode("utf-8")), False
    return raw[:MAX_TEXT_BYTES].decode("utf-8", errors="ignore"), True


def text_value(value: Any) -> tuple[float, str] | None:
    """(number or NaN, text) for a String, LocalizedText or EnumValueType value; else None."""
    if isinstance(value, str):
        return math.nan, value
    name = type(value).__name__
    if name == "LocalizedText":
        return math.nan, str(getattr(value, "Text", None) or "")
    if name == "EnumValueType":
        label = getattr(getattr(value, "DisplayName", None), "Text", None) or ""
        number = getattr(value, "Value", None)
        return (float(number) if isinstance(number, int) else math.nan), str(label)
    return None


def point_text(code: int, value: Any) -> tuple[float, int, str | None] | None:
    """(value, status, text) of a Good/Uncertain text value, or None when it is no text."""
    got = text_value(value)
    if got is None:
        return None
    number, text = got
    text, cut = fit_text(text)
    return number, (q.UNCERTAIN_DATA_SUB_NORMAL if cut else code), text


#: DataTypes whose values are texts: String, LocalizedText and the String subtypes of
#: namespace 0 (LocaleId, NumericRange, NormalizedString, DecimalString, DurationString,
#: TimeString, DateString, UriString, SemanticVersionString, EncodedTicket, TrimmedString).
#: Other DataTypes are followed up their HasSubtype chain to one of these (a vendor's String).
TEXT_DATA_TYPES = frozenset((12, 21, 291, 295, 12877, 12878, 12879, 12880, 12881, 23751, 24263,
                             25726, 31918))  # fmt: skip


@dataclass(frozen=True)
class NodeTypes:
    """What the DataTypes of a source's nodes say about its tags (:func:`node_types`).

    Attributes
    ----------
    labels : dict of str to dict of int to str
        Enumeration tags: ``{tag: {number: label}}``.
    text : tuple of str
        Tags whose DataType is String or LocalizedText (or a subtype): text tags.
    """

    labels: dict[str, dict[int, str]] = field(default_factory=dict)
    text: tuple[str, ...] = ()


async def node_types(client: Any, nodes: Sequence[tuple[str, Any]]) -> NodeTypes:
    """The text tags and enumeration labels of the ``(tag, node id)`` of one session.

    One Read of the DataType attributes (1,000 nodes a request); then per distinct DataType
    outside the builtin ones its supertype chain (a few Browse calls) and, for the others, its
    ``EnumStrings`` (LocalizedText[]) or ``EnumValues`` (EnumValueType[]) property. Best effort:
    a server that refuses is logged at WARNING and the tags are stored as numbers (whose points
    still carry the texts the server sends).
    """
    from asyncua import ua

    types: dict[str, Any] = {}
    text: list[str] = []
    try:
        for i in range(0, len(nodes), _READ_CHUNK):
            chunk = nodes[i : i + _READ_CHUNK]
            results = await client.uaclient.read_attributes(
                [nid for _, nid in chunk], ua.AttributeIds.DataType
            )
            for (tag, _), dv in zip(chunk, results, strict=True):
                dt = dv.Value.Value if dv.Value is not None else None
                if dt is not None and _is_ns0(dt) and dt.Identifier in TEXT_DATA_TYPES:
                    text.append(tag)
                elif dt is not None and not (_is_ns0(dt) and dt.Identifier < 256):
                    types[tag] = dt  # a subtype: an enumeration, a vendor String, ...
        labels_of: dict[str, dict[int, str]] = {}
        text_type: dict[str, bool] = {}
        for dt in {str(t): t for t in types.values()}.values():
            text_type[str(dt)] = await _is_text_type(client, dt)
            if not text_type[str(dt)]:
                labels_of[str(dt)] = await _labels_of_type(client, dt)
    except Exception as exc:  # best effort: numbers are still stored
        logger.warning("opcua: cannot read the DataTypes of the nodes (%s); their tags are "
                       "numbers and enumerations carry no labels", exc)  # fmt: skip
        return NodeTypes()
    text += [tag for tag, dt in types.items() if text_type[str(dt)]]
    labels = {tag: labels_of[str(dt)] for tag, dt in types.items() if labels_of.get(str(dt))}
    return NodeTypes(labels, tuple(tag for tag, _ in nodes if tag in set(text)))


async def enum_labels(client: Any, nodes: Sequence[tuple[str, Any]]) -> dict[str, dict[int, str]]:
    """``{tag: {number: label}}`` for the ``(tag, node id)`` whose DataType is an enumeration
    (the ``labels`` of :func:`node_types`)."""
    return (await node_types(client, nodes)).labels


def _is_ns0(dt: Any) -> bool:
    return dt is not None and dt.NamespaceIndex == 0 and isinstance(dt.Identifier, int)


async def _is_text_type(client: Any, dtype: Any) -> bool:
    """True when ``dtype`` derives from String or LocalizedText (its HasSubtype chain)."""
    from asyncua import ua

    node = client.get_node(dtype)
    for _ in range(16):  # a DataType hierarchy is a few levels deep; a cycle ends here
        if _is_ns0(node.nodeid) and (node.nodeid.Identifier in TEXT_DATA_TYPES
                                     or node.nodeid.Identifier < 256):  # fmt: skip
            return bool(node.nodeid.Identifier in TEXT_DATA_TYPES)
        parents = await node.get_referenced_nodes(
            refs=ua.ObjectIds.HasSubtype, direction=ua.BrowseDirection.Inverse
        )
        if not parents:
            return False
        node = parents[0]
    return False


async def _labels_of_type(client: Any, dtype: Any) -> dict[int, str]:
    from asyncua import ua

    node = client.get_node(dtype)
    for name in ("EnumStrings", "EnumValues"):
        try:
            child = await node.get_child(f"0:{name}")
            value = await child.read_value()
        except ua.UaError:
            continue
        out: dict[int, str] = {}
        for i, item in enumerate(value or []):
            got = text_value(item)
            if got is not None:
                number = i if name == "EnumStrings" else int(got[0])
                out[number] = fit_text(got[1])[0]
        return out
    try:  # OPC UA 1.04: the DataType's DataTypeDefinition attribute (an EnumDefinition)
        definition = await node.read_attribute(ua.AttributeIds.DataTypeDefinition)
    except ua.UaError:
        return {}
    fields = getattr(definition.Value.Value, "Fields", None) or []
    return {
        int(f.Value): fit_text(str(getattr(f.DisplayName, "Text", None) or f.Name))[0]
        for f in fields
        if isinstance(getattr(f, "Value", None), int)
    }


def label_enums(batch: SampleBatch, labels: Mapping[str, Mapping[int, str]]) -> SampleBatch:
    """``batch`` with the label of each enumeration point (by tag) in ``text``."""
    if not labels:
        return batch
    text: list[str | None] = list(batch.text) if batch.text is not None else [None] * len(batch)
    found = False
    for i, tag in enumerate(batch.tags):
        table = labels.get(tag)
        v = batch.values[i]
        if table is not None and text[i] is None and np.isfinite(v) and float(v).is_integer():
            label = table.get(int(v))
            if label is not None:
                text[i], found = label, True
    if not found:
        return batch
    return SampleBatch(batch.tags, batch.t_ns, batch.values, batch.quality, batch.source, text)
