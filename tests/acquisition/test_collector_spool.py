"""The store-and-forward spool: durable frames with a CRC, torn tails, bounds, restarts."""

from __future__ import annotations

import asyncio

import numpy as np
import pyarrow as pa
import pytest

import historian
from historian.acquisition.collector import Collector
from historian.acquisition.spool import Spool
from historian.model import quality as q


def table(tag: str, start: int, n: int, quality: int = 0) -> pa.Table:
    t = np.arange(start, start + n, dtype=np.int64)
    return pa.table({
        "tag": [tag] * n, "time": pa.array(t, pa.int64()), "value": t.astype(float),
        "quality": pa.array([quality] * n, pa.uint32()),
    })  # fmt: skip


def test_fifo_across_segments_and_reopen(tmp_path):
    sp = Spool(tmp_path, max_bytes=10**9, segment_bytes=3000)
    for i in range(10):
        sp.append(table("A", i * 50, 50))
    assert sp.points == 500 and sp.segments > 2
    sp2 = Spool(tmp_path, max_bytes=10**9)  # a restart finds everything, in order
    got = []
    while (seg := sp2.oldest()) is not None:
        got += sp2.read(seg).column("time").to_pylist()
        sp2.remove(seg)
    assert got == list(range(500)) and sp2.points == 0 and not list(tmp_path.glob("seg-*"))


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_torn_or_corrupt_tail_is_skipped_not_fatal(tmp_path, damage, caplog):
    sp = Spool(tmp_path)
    sp.append(table("A", 0, 10))
    sp.append(table("A", 10, 10))
    (seg,) = tmp_path.glob("seg-*")
    data = bytearray(seg.read_bytes())
    if damage == "truncate":
        data = data[:-7]  # a crash in the middle of the second frame
    else:
        data[-3] ^= 0xFF  # a bit flip inside the second frame: CRC mismatch
    seg.write_bytes(bytes(data))
    sp2 = Spool(tmp_path)
    assert "skipped" in caplog.text
    s = sp2.oldest()
    assert sp2.read(s).column("time").to_pylist() == list(range(10))


def test_bound_drops_oldest_segments_and_reports_losses(tmp_path):
    sp = Spool(tmp_path, max_bytes=8000, segment_bytes=2000)
    losses = []
    for i in range(30):
        losses += sp.append(table("A" if i % 2 else "B", i * 10, 10))
    assert sp.nbytes <= 8000 and sp.dropped_points > 0
    assert sum(x.count for x in losses) == sp.dropped_points
    assert min(x.first_ns for x in losses if x.tag == "B") == 0
    # earlier loss markers that get dropped again are not counted as data
    sp.append(table("A", 10_000, 1, quality=q.BAD_DATA_LOST))
    before = sp.dropped_points
    for i in range(30):
        sp.append(table("C", 20_000 + i * 10, 10))
    assert sp.dropped_points - before <= 300


def test_spool_left_by_an_earlier_run_is_written_at_next_start(tmp_path):
    (tmp_path / "c.toml").write_text('[store]\npath = "plant.hist"\n[collector]\n'
                                     'batch_interval = "20ms"\n')  # fmt: skip
    with historian.open(tmp_path / "plant.hist") as h:
        h.define("A")
    ts = pa.timestamp("ns", tz="UTC")
    sp = Spool(tmp_path / "plant.hist.spool")
    t = table("A", 1_000, 25)
    sp.append(t.set_column(1, "time", t.column("time").cast(ts)))
    c = Collector(tmp_path / "c.toml")

    async def main():
        task = asyncio.create_task(c.arun())
        for _ in range(200):
            await asyncio.sleep(0.02)
            if c.health().written_points >= 25:
                break
        c.request_stop()
        await task

    asyncio.run(main())
    with historian.open(tmp_path / "plant.hist", mode="r") as h:
        got = h.read("A").column("value").to_pylist()
    assert got == [float(x) for x in range(1_000, 1_025)]
    assert not list((tmp_path / "plant.hist.spool").glob("seg-*"))
