"""write_table checks only the tags a table's rows use, not every entry of its dictionary."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

import historian
from historian.errors import TagNotFoundError

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000


def big_table(n_tags: int, per_tag: int) -> pa.Table:
    names = [f"T{k:04d}" for k in range(n_tags)]
    codes = np.repeat(np.arange(n_tags, dtype=np.int32), per_tag)
    times = np.tile(T0 + np.arange(per_tag, dtype=np.int64) * S, n_tags)
    return pa.table(
        {
            "tag": pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(names)),
            "time": pa.array(times, pa.timestamp("ns", tz="UTC")),
            "value": pa.array(codes.astype(np.float64) + 0.5),
        }
    )


def test_slice_of_dictionary_table_needs_only_its_tags(tmp_path):
    table = big_table(1000, 3)
    part = table.slice(100 * 3, 50 * 3)  # tags T0100..T0149; the dictionary keeps 1,000 names
    assert len(part.column("tag").chunk(0).dictionary) == 1000
    with historian.open(tmp_path) as h:
        for k in range(100, 150):
            h.define(f"T{k:04d}")
        assert h.write_table(part) == 150
        got = h.read(None, T0, T0 + 10 * S)
        assert sorted(set(got.column("tag").to_pylist())) == [f"T{k:04d}" for k in range(100, 150)]
        assert got.column("value").to_pylist() == [k + 0.5 for k in range(100, 150) for _ in "abc"]


def test_unused_bad_names_ignored_used_unknown_refused(tmp_path):
    names = pa.array(["A", "not a valid name\n", "B", "C"])
    rows = pa.array([0, 2, 0], pa.int32())
    table = pa.table(
        {
            "tag": pa.DictionaryArray.from_arrays(rows, names),
            "time": pa.array([T0, T0, T0 + S], pa.timestamp("ns", tz="UTC")),
            "value": pa.array([1.0, 2.0, 3.0]),
        }
    )
    with historian.open(tmp_path) as h:
        h.define("A")
        with pytest.raises(TagNotFoundError, match=r"\['B'\]"):  # C is unused: not named
            h.write_table(table)
        h.define("B")
        assert h.write_table(table) == 3
        got = h.read(["A", "B"])
        assert got.column("tag").to_pylist() == ["A", "A", "B"]
        assert got.column("value").to_pylist() == [1.0, 3.0, 2.0]
