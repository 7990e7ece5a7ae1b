"""historian.model.labels against plain Python: the tag/label columns of long results."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from historian.model.labels import repeated_strings

names_st = st.lists(st.text(max_size=6), min_size=0, max_size=700)  # crosses _MANY_RUNS


@settings(max_examples=60, deadline=None)
@given(names=names_st, data=st.data())
def test_repeated_strings_is_each_name_repeated(names, data):
    counts = data.draw(st.lists(st.integers(0, 120), min_size=len(names), max_size=len(names)))
    got = repeated_strings(names, np.asarray(counts, dtype=np.int64))
    want = [n for n, c in zip(names, counts, strict=True) for _ in range(c)]
    assert got.type == pa.string()
    assert got.to_pylist() == want


def test_repeated_strings_many_short_runs_and_chunks():
    names = [f"TAG-{i:05d}.PV" for i in range(1000)]
    counts = np.full(1000, 3)
    assert repeated_strings(names, counts).to_pylist() == [n for n in names for _ in range(3)]
    chunked = repeated_strings(names, counts, max_bytes=1000)  # too big for one chunk
    assert chunked.num_chunks > 1
    assert chunked.to_pylist() == [n for n in names for _ in range(3)]
