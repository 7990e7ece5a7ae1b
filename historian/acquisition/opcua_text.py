"""OPC UA values that are texts: String, LocalizedText, EnumValueType and enumerations.

- ``String``: stored as the point's text (no number);
- ``LocalizedText``: its ``Text`` (the locale is not kept);
- ``EnumValueType`` (a structure of Value, DisplayName, Description): the number in ``value``
  and ``DisplayName.Text`` in ``text``;
- a variable whose DataType is an enumeration (an Int32 on the wire): the number in ``value``
  and the label from the DataType's ``EnumStrings`` or ``EnumValues`` property, or its
  ``DataTypeDefinition`` (an EnumDefinition), in ``text`` (read once per DataType when the
  source connects: :func:`enum_labels`).

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
from typing import Any

import numpy as np

from historian.acquisition.samples import SampleBatch
from historian.model import quality as q
from historian.model.text import MAX_TEXT_BYTES

__all__ = ["enum_labels", "fit_text", "label_enums", "point_text", "text_value"]

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


async def enum_labels(client: Any, nodes: Sequence[tuple[str, Any]]) -> dict[str, dict[int, str]]:
    """``{tag: {number: label}}`` for the ``(tag, node id)`` whose DataType is an enumeration.

    One Read of the DataType attributes (in chunks), then per distinct non-builtin DataType its
    ``EnumStrings`` (LocalizedText[]) or ``EnumValues`` (EnumValueType[]) property. Best effort:
    a server that refuses is logged at WARNING and its enumerations are stored as numbers only.
    """
    from asyncua import ua

    types: dict[str, Any] = {}
    try:
        for i in range(0, len(nodes), _READ_CHUNK):
            chunk = nodes[i : i + _READ_CHUNK]
            params = ua.ReadParameters()
            for _, nid in chunk:
                rv = ua.ReadValueId()
                rv.NodeId = nid
                rv.AttributeId = ua.AttributeIds.DataType
                params.NodesToRead.append(rv)
            for (tag, _), dv in zip(chunk, await client.uaclient.read(params), strict=True):
                dt = dv.Value.Value if dv.Value is not None else None
                builtin = dt is not None and dt.NamespaceIndex == 0 and isinstance(
                    dt.Identifier, int) and dt.Identifier < 256  # fmt: skip
                if dt is not None and not builtin:
                    types[tag] = dt
        labels_of: dict[Any, dict[int, str]] = {}
        for dt in {str(t): t for t in types.values()}.values():
            labels_of[str(dt)] = await _labels_of_type(client, dt)
    except Exception as exc:  # best effort: numbers are still stored
        logger.warning("opcua: cannot read enumeration labels (%s); enumerations are stored "
                       "as numbers only", exc)  # fmt: skip
        return {}
    return {tag: labels_of[str(dt)] for tag, dt in types.items() if labels_of.get(str(dt))}


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
    return {int(f.Value): fit_text(str(getattr(f.DisplayName, "Text", None) or f.Name))[0]
            for f in fields if isinstance(getattr(f, "Value", None), int)}


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
