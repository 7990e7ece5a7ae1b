"""Resource budgets (issue 10, item 4): every pathological request is refused up front.

Each budget of :mod:`historian.limits` is tried with a request over it (refused with a
``ResourceLimitError`` naming the limit, within a second, without the memory the request would
need), a request just under it (works), and the three ways to change it (per store, per block,
per process). The decompression bombs are real files: a forged Parquet data file whose footer
declares far more rows than the index, a highly compressible gzip CSV imported in a subprocess
whose peak RSS is measured.
"""

from __future__ import annotations

import glob
import gzip
import json
import os
import subprocess
import sys
import textwrap
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import historian
import historian.limits as hl
from historian.errors import CorruptDataError, InvalidArgumentError, ResourceLimitError

T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00:00Z
S = 10**9
YEAR = 365 * 86_400 * S


@pytest.fixture
def h(tmp_path):
    with historian.open(tmp_path / "plant.hist") as store:
        for name in ("A", "B", "C"):
            store.define(name)
            store.write(name, T0 + np.arange(100) * S, np.sin(np.arange(100) / 7.0))
        store.flush()
        yield store


def refused_fast(call: Callable[[], Any], limit: str) -> ResourceLimitError:
    """The call raises ResourceLimitError for ``limit`` within a second, allocating < 10 MB."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(ResourceLimitError) as info:
            call()
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    exc = info.value
    assert exc.limit == limit and exc.asked > exc.allowed
    assert elapsed < 1.0, f"refused after {elapsed:.2f} s, not up front"
    assert peak < 10 << 20, f"{peak >> 20} MB allocated before the refusal"
    text = str(exc)
    assert f"{exc.asked:,}" in text and f"{limit}={exc.allowed:,}" in text  # asked and the limit
    assert "limits=" in text and "set_limits" in text  # how to change it
    assert isinstance(exc, InvalidArgumentError)  # existing `except InvalidArgumentError` holds
    return exc


# ------------------------------------------------------------------ output budgets, up front
def test_summary_of_a_year_at_one_second_is_refused(h):
    exc = refused_fast(lambda: h.summary("A", T0, T0 + YEAR, "1s"), "max_result_cells")
    assert exc.asked == 365 * 86_400 * 4  # intervals x stats x tags
    assert "intervals" in str(exc) and "4 stats" in str(exc)


def test_summary_counts_every_tag_and_stat(h):
    # 10^7 intervals is fine for one stat of one tag, not for 4 stats of 3 tags
    end = T0 + 30_000_000 * S
    refused_fast(lambda: h.summary(["A", "B", "C"], T0, end, "1s"), "max_result_cells")
    with hl.using(max_result_cells=3 * 4 * 30_000_000 - 1):
        exc = refused_fast(lambda: h.summary(["A", "B", "C"], T0, end, "1s"), "max_result_cells")
    assert exc.asked == 3 * 4 * 30_000_000


def test_summarize_arrays_is_bounded_too():
    call = lambda: historian.summarize([0], [1.0], start=0, end=YEAR, every="1s", stats="twa")  # noqa: E731
    with hl.using(max_result_cells=1000):
        refused_fast(call, "max_result_cells")


def test_interpolated_is_refused_up_front(h):
    refused_fast(lambda: h.interpolated("A", T0, T0 + 4 * YEAR, "1s"), "max_result_cells")
    with hl.using(max_result_cells=1_000):
        # 601 grid points x (value + quality) x 1 tag = 1,202
        exc = refused_fast(
            lambda: h.interpolated("A", T0, T0 + 600 * S, "1s", quality=True), "max_result_cells"
        )
        assert exc.asked == 1_202
        assert h.interpolated("A", T0, T0 + 600 * S, "1s").num_rows == 601  # 601 values: fits


def test_plot_width_is_bounded(h):
    from historian.kernels import plot

    refused_fast(lambda: h.plot("A", T0, T0 + 100 * S, width=10**9), "max_plot_width")
    refused_fast(
        lambda: plot(np.arange(3), np.ones(3), None, start_ns=0, end_ns=3, width=10**9),
        "max_plot_width",
    )  # the kernel, called directly
    assert h.plot("A", T0, T0 + 100 * S, width=hl.DEFAULT_LIMITS.max_plot_width).num_rows == 100


def test_correlate_of_ten_thousand_tags_is_refused(h, tmp_path):
    # 10^4 tags (it ran 327 s and took 6.6 GB): refused before any value is read
    with historian.open(tmp_path / "wide.hist") as wide:
        wide.define_many({f"T{i:05d}.PV": {} for i in range(10_000)})
        exc = refused_fast(
            lambda: wide.correlate(None, T0, T0 + 86_400 * S, "1min", progress=False),
            "max_correlate_cells",
        )
    assert exc.asked == 10_000 * 9_999 // 2
    # the call against lowered limits: pairs x lags, then work
    with hl.using(max_correlate_cells=3 * 21 - 1):
        refused_fast(
            lambda: h.correlate(["A", "B", "C"], T0, T0 + 100 * S, "1s", "10s", progress=False),
            "max_correlate_cells",
        )
    with hl.using(max_correlate_work=3 * 21 * 100 - 1):
        refused_fast(
            lambda: h.correlate(["A", "B", "C"], T0, T0 + 100 * S, "1s", "10s", progress=False),
            "max_correlate_work",
        )
    with hl.using(max_correlate_cells=3 * 21, max_correlate_work=3 * 21 * 100):
        assert (
            h.correlate(["A", "B", "C"], T0, T0 + 100 * S, "1s", "10s", progress=False).num_rows
            == 3
        )


def test_correlate_with_a_huge_lag_is_refused(h):
    refused_fast(
        lambda: h.correlate(["A", "B"], T0, T0 + 100 * S, "1ns", "1000d", progress=False),
        "max_correlate_cells",
    )


def test_events_are_bounded(h):
    # sin(t/7) > 0 holds in 3 runs over 100 s (a period is 44 s)
    assert h.events("A > 0", T0, T0 + 100 * S).num_rows == 3
    with hl.using(max_events=2):
        refused_fast(lambda: h.events("A > 0", T0, T0 + 100 * S), "max_events")
    with hl.using(max_events=3):
        assert h.events("A > 0", T0, T0 + 100 * S).num_rows == 3
    refused_fast(lambda: h.events("A > 0", T0, T0 + 4 * YEAR, every="1s"), "max_result_cells")


# ------------------------------------------------------------------ configuration
def test_limits_per_store_per_block_and_per_process(tmp_path, h):
    call = lambda store: store.plot("A", T0, T0 + 100 * S, width=5000)  # noqa: E731
    with historian.open(h.path, mode="r", limits={"max_plot_width": 4999}) as small:
        assert small.limits.max_plot_width == 4999
        refused_fast(lambda: call(small), "max_plot_width")
        with hl.using(max_plot_width=10):  # the store's own limits win over the block's
            refused_fast(lambda: call(small), "max_plot_width")
        small.limits = {"max_plot_width": 5000}
        assert call(small).num_rows == 100
    assert call(h).num_rows == 100  # other stores keep the defaults
    with hl.using(max_plot_width=4999):
        refused_fast(lambda: call(h), "max_plot_width")
    assert call(h).num_rows == 100
    before = hl.set_limits(max_plot_width=4999)
    try:
        refused_fast(lambda: call(h), "max_plot_width")
    finally:
        hl.set_limits(before)
    assert hl.current() == hl.DEFAULT_LIMITS


@pytest.mark.parametrize(
    "bad", [{"max_plot_width": 0}, {"max_plot_width": "10"}, {"max_plot_widht": 10}, "big", 5]
)
def test_limits_are_validated(tmp_path, bad):
    with pytest.raises(InvalidArgumentError, match="limit"):
        historian.open(tmp_path / "s", limits=bad)


def test_defaults_let_normal_work_through(h):
    # a day of 1 s summaries of three tags, a week at 1 min interpolated, a 4k-pixel plot, and
    # (checked, not run) the budget of a year of one tag at 1 s interpolated
    from historian.query.retrieval import check_interpolated_budget

    check_interpolated_budget(1, T0, T0 + YEAR, S)
    assert h.summary(["A", "B", "C"], T0, T0 + 86_400 * S, "1s").num_rows == 3 * 86_400 * 4
    assert h.interpolated(["A", "B", "C"], T0, T0 + 7 * 86_400 * S, "1min").num_rows == 10_081
    assert h.plot("A", T0, T0 + 100 * S, width=4000).num_rows == 100


# ------------------------------------------------------------------ decompression bombs
def _forge_bomb(store_path: os.PathLike, rows: int) -> str:
    """Rewrite the store's data file as a bomb: the same historian index (600 rows of one tag,
    row groups of 16,384 rows) over one row group of ``rows`` copies of its first row: a few kB
    on disk that decode to ``rows`` x 40 bytes."""
    from historian.storage.files import INDEX_KEY

    (victim,) = glob.glob(os.path.join(store_path, "points", "day=*", "*.parquet"))
    table = pq.read_table(victim)
    assert json.loads(table.schema.metadata[INDEX_KEY])["rg_rows"] == 16_384
    bomb = table.take(pa.array(np.zeros(rows, np.int64)))
    pq.write_table(
        bomb.replace_schema_metadata(table.schema.metadata),
        victim,
        row_group_size=rows,
        compression="zstd",
    )
    return victim


def test_parquet_bomb_is_refused_before_decoding(tmp_path):
    path = tmp_path / "bomb.hist"
    with historian.open(path) as h:
        h.define("A")
        h.write("A", T0 + np.arange(600) * S, np.zeros(600))
        h.flush()
    victim = _forge_bomb(path, 2_000_000)
    assert os.path.getsize(victim) < 1 << 20
    from historian.storage.files import DataFile

    # the store refuses it (size check or this one)
    with historian.open(path, mode="r") as h, pytest.raises(CorruptDataError):
        h.read("A")
    tracemalloc.start()  # the read path itself, whatever the commit log says
    try:
        with pytest.raises(CorruptDataError, match="declares 2,000,000 rows"):
            DataFile(victim).read(["A"], T0, T0 + 600 * S)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 << 20


def test_decoded_size_budget_of_a_data_file(h):
    before = hl.set_limits(max_file_decoded_bytes=1000)  # reads run in the store's threads
    try:
        with pytest.raises(ResourceLimitError, match="max_file_decoded_bytes"):
            historian.open(h.path, mode="r").read("A")
    finally:
        hl.set_limits(before)
    assert h.read("A").num_rows == 100


_IMPORT = textwrap.dedent(
    """
    import json, resource, sys, tempfile, historian
    from historian.importing import import_history
    with historian.open(tempfile.mkdtemp(dir=sys.argv[2])) as h:
        h.define("A")
        r = import_history(h, sys.argv[1], progress=False, chunk_rows=100_000)
    print(json.dumps({"rows": r.rows, "written": r.written, "rejected": r.rejected_rows,
                      "kept": r.rejected.num_rows, "reasons": r.reasons(),
                      "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))
    """
)


def _gzip_csv(path: os.PathLike, rows: int, tag: str) -> None:
    line = f"{tag},2026-01-01T00:00:00Z,1.0\n".encode()
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(b"tag,time,value\n")
        for _ in range(rows // 100_000):
            f.write(line * 100_000)


def _import_rss(tmp_path: os.PathLike, rows: int, tag: str) -> dict:
    src = os.path.join(tmp_path, f"{tag}-{rows}.csv.gz")
    _gzip_csv(src, rows, tag)
    out = subprocess.run(
        [sys.executable, "-c", _IMPORT, src, os.fspath(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_gzip_csv_import_streams_in_bounded_memory(tmp_path):
    # rejected rows (an unknown tag) are the worst case: each one is reported
    small = _import_rss(tmp_path, 1_000_000, "NOPE")
    large = _import_rss(tmp_path, 8_000_000, "NOPE")  # 8x the rows, a ~0.6 MB gzip file
    assert large["rows"] == 8_000_000 and large["rejected"] == 8_000_000
    assert large["kept"] == hl.DEFAULT_LIMITS.max_rejected_rows
    assert large["reasons"] == {"unknown tag": 8_000_000}
    # before: +270 bytes a rejected row kept (+1.9 GB here); now only pyarrow's CSV reader
    # buffers grow, and they level off near 300 MB (measured: 40M rows peak at 1 GB RSS)
    assert large["rss_mb"] < small["rss_mb"] + 500, (small, large)


def test_dask_results_gathered_on_the_client_are_bounded_too(h):
    import historian.dask as hd

    refused_fast(
        lambda: hd.summary(h, "A", T0, T0 + YEAR, "1s", scheduler="sync"), "max_result_cells"
    )
    refused_fast(
        lambda: hd.interpolated(h, "A", T0, T0 + 4 * YEAR, "1s", scheduler="sync"),
        "max_result_cells",
    )
    small = hd.summary(h, "A", T0, T0 + 100 * S, "10s", scheduler="sync")
    assert small.equals(h.summary("A", T0, T0 + 100 * S, "10s"))


def test_parquet_import_of_a_dictionary_bomb_stays_bounded(tmp_path):
    # 1.3 MB of Parquet: 200,000 rows whose tag is one 10 kB string, dictionary-encoded, i.e.
    # 2 GB of text once decoded (it peaked at 4.1 GB RSS; now decoded 64 MB at a time)
    n = 200_000
    tag = pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, np.int32)), pa.array(["T" * 10_000]))
    times = pa.array(T0 + np.arange(n, dtype=np.int64) * S).cast(pa.timestamp("ns", tz="UTC"))
    src = tmp_path / "bomb.parquet"
    pq.write_table(pa.table({"tag": tag, "time": times, "value": np.ones(n)}), src)
    assert os.path.getsize(src) < 2 << 20
    code = _IMPORT.replace('h.define("A")', "pass")
    out = subprocess.run(
        [sys.executable, "-c", code, os.fspath(src), os.fspath(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["rows"] == n and result["reasons"] == {"invalid tag name": n}
    assert result["rss_mb"] < 1500, result
