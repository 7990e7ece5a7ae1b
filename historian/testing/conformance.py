"""A conformance suite for stores, in the style of zarr's ``StoreTests``: what every store must
do, whatever holds its files (a local folder, S3, a new backend).

Subclass :class:`StoreTests` in a test module and provide the ``open_store`` fixture: a
function ``open_store(name, mode="auto", *, local="writer", **options)`` that opens (or
creates) the store ``name`` of this test with :func:`historian.open`. The same ``name`` must
open the same store, and the same ``(name, local)`` the same local folder (where the
write-ahead log of an ``s3://`` store lives), so that a test can reopen a store as the next
process on the same machine would; another ``local`` is another machine. pytest collects the
inherited tests (it needs the ``test`` extra: pytest and hypothesis).

Examples
--------
A local folder (``tests/storage/test_conformance.py`` runs this and the S3 one)::

    import historian
    import pytest
    from historian.testing.conformance import StoreTests

    class TestLocalStore(StoreTests):
        @pytest.fixture
        def open_store(self, tmp_path):
            def open_store(name, mode="auto", *, local="writer", **options):
                return historian.open(tmp_path / name, mode, **options)
            return open_store
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from historian.errors import ReadOnlyStoreError, StoreClosedError
from historian.testing.hooks import crash
from historian.testing.strategies import point_batches

__all__ = ["StoreTests"]

S = 10**9
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z
Opener = Callable[..., Any]


def _values(h: Any, tag: str = "A") -> list[float]:
    return list(h.read(tag).column("value").to_pylist())


def _times(h: Any, tag: str = "A") -> list[int]:
    return [int(t) for t in h.read(tag).column("time").cast("int64").to_pylist()]


class StoreTests:
    """The tests every store passes; see the module docstring for the ``open_store`` fixture."""

    @pytest.fixture
    def open_store(self) -> Opener:
        raise NotImplementedError("a StoreTests subclass provides the open_store fixture")

    # ------------------------------------------------------------------ round trips
    def test_points_read_back_as_written_before_and_after_flush_and_reopen(
        self, open_store: Opener
    ) -> None:
        @settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(batch=point_batches(max_size=40))
        def check(batch: Any) -> None:  # a fresh store per example
            times, values, quality = batch
            name = uuid.uuid4().hex[:8]
            order = np.argsort(times, kind="stable")
            with open_store(name) as h:
                h.define("A")
                assert h.write("A", times, values, quality) == len(times)
                for stage in ("pending", "flushed"):
                    got = h.read("A")
                    assert _times(h) == times[order].tolist(), stage
                    assert got.column("value").to_pylist() == values[order].tolist(), stage
                    assert got.column("quality").to_pylist() == quality[order].tolist(), stage
                    h.flush()
            with open_store(name) as again:
                assert _times(again) == times[order].tolist()
                assert _values(again) == values[order].tolist()

        check()

    def test_the_last_write_of_a_point_wins_across_a_flush(self, open_store: Opener) -> None:
        with open_store("p") as h:
            h.define("A")
            h.write("A", [T0, T0 + S], [1.0, 2.0])
            h.flush()
            h.write("A", [T0], [10.0])  # a correction, still in the WAL
            assert _values(h) == [10.0, 2.0]
            h.flush()
            h.compact(full=True)
            assert _values(h) == [10.0, 2.0]

    def test_as_of_reads_what_the_store_held_before_a_correction(self, open_store: Opener) -> None:
        import time

        with open_store("p") as h:
            h.define("A")
            h.write("A", [T0], [1.0])
            h.flush()
            before = time.time_ns()
            while time.time_ns() == before:  # the next ingest stamp is later (µs clock)
                pass
            h.write("A", [T0], [2.0])
            h.flush()
            assert _values(h) == [2.0]
            assert h.read("A", as_of=before).column("value").to_pylist() == [1.0]

    # ------------------------------------------------------------------ durability
    def test_a_crash_before_the_flush_loses_no_acknowledged_point(self, open_store: Opener) -> None:
        h = open_store("p", flush_seconds=3600)
        h.define("A")
        h.write("A", [T0, T0 + S], [1.0, 2.0])  # acknowledged: in the WAL
        crash(h)  # as kill -9
        with open_store("p") as again:  # the next writer on this machine replays the WAL
            assert _values(again) == [1.0, 2.0]

    def test_close_flushes_and_a_reader_elsewhere_sees_every_point(
        self, open_store: Opener
    ) -> None:
        with open_store("p") as h:
            h.define("A", unit="degC")
            h.write("A", T0 + np.arange(100) * S, np.arange(100.0))
        with open_store("p", "r", local="reader") as r:
            assert _values(r) == list(np.arange(100.0))
            assert r.tag("A").unit == "degC"
            assert r.info()["points_pending"] == 0

    # ------------------------------------------------------------------ maintenance
    def test_compaction_keeps_every_point_once(self, open_store: Opener) -> None:
        with open_store("p") as h:
            h.define("A")
            for i in range(4):
                h.write("A", [T0 + i * S, T0 + (i + 1) * S], [float(i), float(i + 1)])
                h.flush()
            before = h.info()["files"]
            assert h.compact(full=True) >= 2
            assert h.info()["files"] < before
            assert _values(h) == [0.0, 1.0, 2.0, 3.0, 4.0]

    def test_delete_and_retention_remove_exactly_their_points(self, open_store: Opener) -> None:
        with open_store("p") as h:
            h.define("A")
            h.write("A", T0 + np.arange(5) * 86_400 * S, np.arange(5.0))
            h.flush()
            assert h.delete("A", T0 + 86_400 * S, T0 + 2 * 86_400 * S) == 1
            assert h.retain(T0 + 3 * 86_400 * S) == 2
            assert _values(h) == [3.0, 4.0]
        with open_store("p", "r", local="reader") as r:
            assert _values(r) == [3.0, 4.0]

    def test_rename_and_delete_a_tag(self, open_store: Opener) -> None:
        with open_store("p") as h:
            h.define("OLD", unit="bar")
            h.define("GONE")
            h.write("OLD", [T0], [1.0])
            h.write("GONE", [T0], [2.0])
            h.rename_tag("OLD", "NEW")
            assert h.delete_tag("GONE") == 1
        with open_store("p", "r", local="reader") as r:
            assert r.tags().column("name").to_pylist() == ["NEW"]
            assert r.tag("NEW").unit == "bar" and _values(r, "NEW") == [1.0]

    # ------------------------------------------------------------------ queries
    def test_sql_and_summary_see_the_same_points_as_read(self, open_store: Opener) -> None:
        with open_store("p") as h:
            h.define("A")
            h.write("A", T0 + np.arange(60) * S, np.arange(60.0))
            h.flush()
            h.write("A", [T0 + 60 * S], [60.0])  # pending
            n = h.sql("SELECT count(*) FROM points WHERE tag = 'A'").fetchall()[0][0]
            assert n == h.read("A").num_rows == 61
            s = h.summary("A", T0, T0 + 61 * S, "61s", stats=["count", "max"])
            assert s.column("value").to_pylist() == [61, 60.0]

    # ------------------------------------------------------------------ refusals
    def test_a_read_only_store_refuses_writes_and_a_closed_one_every_call(
        self, open_store: Opener
    ) -> None:
        with open_store("p") as h:
            h.define("A")
            h.write("A", [T0], [1.0])
        with open_store("p", "r", local="reader") as r:
            assert r.read("A").num_rows == 1
            with pytest.raises(ReadOnlyStoreError, match="mode='r'"):
                r.write("A", [T0 + S], [2.0])
            assert _values(r) == [1.0]
        h = open_store("p")
        h.close()
        with pytest.raises(StoreClosedError, match="closed"):
            h.read("A")
        with pytest.raises(StoreClosedError, match="closed"):
            h.write("A", [T0 + S], [2.0])
