"""Annotations: written like points (durable, last write wins, read by other processes),
hostile texts refused, counted by AnnotationCount in summaries, returned by read()."""

from __future__ import annotations

import getpass
import os

import numpy as np
import pyarrow as pa
import pytest

import historian
from historian.annotations import ReadResult, default_author
from historian.errors import (
    CorruptDataError,
    InvalidArgumentError,
    InvalidTagNameError,
    ReadOnlyStoreError,
)
from historian.storage import records

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000
TS = pa.timestamp("ns", tz="UTC")


@pytest.fixture
def h(tmp_path):
    with historian.open(str(tmp_path / "plant.hist")) as store:
        store.define("TIC-101.PV")
        store.write("TIC-101.PV", T0 + np.arange(10) * 10 * S, np.arange(10.0))
        yield store


def test_round_trip_schema_and_default_author(h):
    h.annotate("TIC-101.PV", T0 + 5 * S, "sensor replaced", author="jo")
    h.annotate("SiteA/Area2/Pump1", "2026-01-01T00:00:20Z", "seal leak", end=T0 + 40 * S)
    h.annotate("TIC-101.PV", T0 + 7 * S, "checked")
    t = h.annotations()
    assert t.column_names == ["target", "time", "end", "text", "author", "ingested"]
    assert t.schema.field("time").type == TS and t.schema.field("end").type == TS
    assert t.schema.field("ingested").type == TS
    rows = t.to_pylist()
    assert [r["target"] for r in rows] == ["SiteA/Area2/Pump1", "TIC-101.PV", "TIC-101.PV"]
    assert rows[0]["end"].value == T0 + 40 * S and rows[1]["end"] is None
    try:
        me = getpass.getuser()
    except (OSError, KeyError):
        me = None
    assert rows[1]["author"] == "jo" and rows[2]["author"] == me
    ingested = [r["ingested"].value for r in rows]
    assert len(set(ingested)) == 3
    assert h.annotations("TIC-101.PV", T0 + 6 * S, T0 + 8 * S).column("text").to_pylist() == [
        "checked"
    ]
    # a period annotation is returned for every window it overlaps
    assert h.annotations("SiteA/Area2/Pump1", T0 + 30 * S, T0 + 31 * S).num_rows == 1
    assert h.annotations("SiteA/Area2/Pump1", T0 + 40 * S, T0 + 50 * S).num_rows == 0


def test_last_write_wins_per_target_time_author(h):
    h.annotate("TIC-101.PV", T0, "frist", author="jo")
    h.annotate("TIC-101.PV", T0, "other view", author="sam")
    h.annotate("TIC-101.PV", T0, "first", author="jo")  # a correction replaces
    rows = h.annotations().to_pylist()
    assert [(r["author"], r["text"]) for r in rows] == [("jo", "first"), ("sam", "other view")]
    assert len(os.listdir(os.path.join(h.path, "annotations"))) == 3  # every version kept


def test_other_processes_see_them_and_a_reopen_keeps_them(h, tmp_path):
    h.annotate("TIC-101.PV", T0, "one", author="jo")
    with historian.open(h.path, mode="r") as reader:
        assert reader.annotations().column("text").to_pylist() == ["one"]
        h.annotate("TIC-101.PV", T0 + S, "two", author="jo")
        assert reader.annotations().column("text").to_pylist() == ["one", "two"]
    h.close()
    with historian.open(h.path) as again:
        again.annotate("TIC-101.PV", T0, "one, edited", author="jo")
        assert again.annotations().column("text").to_pylist() == ["one, edited", "two"]


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("\x1b[2J\x1b[31mfake alarm", "control character U\\+001B at position 0"),
        ("nul\x00byte", "U\\+0000"),
        ("del\x7f", "U\\+007F"),
        ("c1\x9b31m", "U\\+009B"),
        ("line\u2028sep", "U\\+2028"),
        ("abc\u202eevil.exe", "bidirectional control U\\+202E"),
        ("iso\u2066late", "bidirectional control U\\+2066"),
        ("bad \ud800 surrogate", "lone surrogate"),
        ("x" * (4000 + 1), "4,001 characters; the limit is 4,000"),
        ("   \n\t", "empty"),
    ],
)
def test_hostile_texts_are_refused_and_nothing_is_written(h, text, match):
    with pytest.raises(InvalidArgumentError, match=match):
        h.annotate("TIC-101.PV", T0, text, author="jo")
    assert h.annotations().num_rows == 0


@pytest.mark.parametrize(
    ("author", "match"),
    [
        ("jo\nroot", "U\\+000A"),
        ("jo\tx", "U\\+0009"),
        ("a" * 121, "limit is 120"),
        ("\u202ejo", "bidirectional"),
        (42, "author must be a str"),
    ],
)
def test_hostile_authors_are_refused(h, author, match):
    with pytest.raises(InvalidArgumentError, match=match):
        h.annotate("TIC-101.PV", T0, "ok", author=author)
    assert h.annotations().num_rows == 0


def test_texts_people_write_are_kept_as_written(h):
    text = "Température > 80 °C\r\ncheck valve 💧 (ñ, 日本語)\ttab"
    h.annotate("TIC-101.PV", T0, text, author="Zoë O'Brien")
    row = h.annotations().to_pylist()[0]
    assert row["text"] == text.replace("\r\n", "\n") and row["author"] == "Zoë O'Brien"


def test_bad_targets_times_and_ends(h):
    with pytest.raises(InvalidTagNameError, match="annotation target"):
        h.annotate("../tags.json", T0, "x")
    with pytest.raises(InvalidTagNameError):
        h.annotate("a'; DROP TABLE points; --", T0, "x")
    h.annotate("_Site/Area_1/P-101", T0, "an asset path that is no tag name", author="jo")
    assert h.annotations().column("target").to_pylist() == ["_Site/Area_1/P-101"]
    with pytest.raises(InvalidArgumentError, match="before its time"):
        h.annotate("TIC-101.PV", T0 + S, "x", end=T0)
    with pytest.raises(historian.errors.InvalidTimeError):
        h.annotate("TIC-101.PV", "not a time", "x")
    assert h.annotations().num_rows == 1


def test_read_only_store_and_replica_refuse_writes(h):
    with (
        historian.open(h.path, mode="r") as ro,
        pytest.raises(ReadOnlyStoreError, match="mode='r'"),
    ):
        ro.annotate("TIC-101.PV", T0, "x")
    with historian.open(h.path, mode="r") as ro, pytest.raises(ReadOnlyStoreError):
        ro.add_frame("B-1", T0, T0 + S)
    assert h.annotations().num_rows == 0 and h.frames().num_rows == 0


def test_read_with_annotations(h):
    h.annotate("TIC-101.PV", T0 + 15 * S, "in the window", author="jo")
    h.annotate("TIC-101.PV", T0 + 95 * S, "after it", author="jo")
    h.annotate("OTHER.PV", T0 + 15 * S, "another tag", author="jo")
    plain = h.read("TIC-101.PV", T0, T0 + 50 * S)
    assert isinstance(plain, pa.Table) and plain.column_names == ["tag", "time", "value", "quality"]
    got = h.read("TIC-101.PV", T0, T0 + 50 * S, annotations=True)
    assert isinstance(got, ReadResult)
    points, notes = got
    assert points.equals(plain)
    assert notes.column("text").to_pylist() == ["in the window"]
    assert got.annotations.column_names == ["target", "time", "end", "text", "author", "ingested"]


def test_annotation_count_in_summaries(h):
    for k in (1, 2, 3, 25, 25):  # two authors at 25 s: two annotations
        h.annotate("TIC-101.PV", T0 + k * S, f"n{k}", author=f"a{k % 2}" if k == 25 else "x")
    h.annotate("TIC-101.PV", T0 + 25 * S, "second author", author="zz")
    s = h.summary("TIC-101.PV", T0, T0 + 120 * S, "20s", stats=["annotation_count", "count"])
    counts = [r["value"] for r in s.to_pylist() if r["stat"] == "annotation_count"]
    assert counts[:2] == [3.0, 2.0]
    status = [r["status"] for r in s.to_pylist() if r["stat"] == "annotation_count"]
    assert status[0] == 0x401 and status[4] & 0x4  # the data end at 90 s: Partial
    assert status[5] == 0x809B0000 and counts[5] is None  # after the end of data
    cal = h.summary(
        "TIC-101.PV", "2026-01-01", "2026-01-02", "1d", tz="UTC", stats=["AnnotationCount"]
    )
    assert cal.column("value").to_pylist() == [5.0]


def test_a_damaged_file_is_named(h):
    h.annotate("TIC-101.PV", T0, "will be damaged", author="jo")
    folder = os.path.join(h.path, "annotations")
    (name,) = os.listdir(folder)
    path = os.path.join(folder, name)
    with open(path, "rb") as f:
        data = bytearray(f.read())
    data[-5] ^= 0x01
    with open(path, "wb") as f:
        f.write(bytes(data))
    with historian.open(h.path, mode="r") as ro, pytest.raises(CorruptDataError) as exc:
        ro.annotations()
    assert name in str(exc.value) and "CRC32" in str(exc.value)


def test_many_writes_are_merged_and_a_crash_mid_merge_leaves_no_duplicates(h, monkeypatch):
    monkeypatch.setattr(records, "MERGE_FILES", 5)
    for i in range(12):
        h.annotate("TIC-101.PV", T0 + i * S, f"n{i}", author="jo")
    folder = os.path.join(h.path, "annotations")
    assert len(os.listdir(folder)) <= 6
    before = h.annotations()
    assert before.column("text").to_pylist() == [f"n{i}" for i in range(12)]
    # a merge killed before it deleted its inputs: the inputs and the merged file both there
    merged = max(os.listdir(folder), key=lambda n: os.path.getsize(os.path.join(folder, n)))
    copy = merged.replace(merged.split("-")[1], "f" * 16 + ".jsonl")
    with open(os.path.join(folder, merged), "rb") as a, open(os.path.join(folder, copy), "wb") as b:
        b.write(a.read())
    with historian.open(h.path, mode="r") as ro:
        assert ro.annotations().equals(before)


def test_threads_annotating_at_once_lose_nothing(h, monkeypatch):
    import threading

    monkeypatch.setattr(records, "MERGE_FILES", 10)

    def work(k: int) -> None:
        for i in range(20):
            h.annotate("TIC-101.PV", T0 + (100 * k + i) * S, f"t{k} n{i}", author=f"t{k}")

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = h.annotations()
    assert got.num_rows == 80
    assert len(set(got.column("ingested").cast(pa.int64()).to_pylist())) == 80
    assert len(os.listdir(os.path.join(h.path, "annotations"))) <= 11


def test_last_write_wins_against_a_model(tmp_path):
    """Random annotate / reopen sequences give what a dict keyed by (target, time, author)
    says, in the writer and in a fresh reader."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    op = st.one_of(
        st.tuples(
            st.just("note"),
            st.sampled_from(["A", "B", "Site/P1"]),
            st.integers(0, 4),
            st.sampled_from(["jo", "sam", None]),
            st.text("abc", min_size=1, max_size=3),
        ),
        st.tuples(st.just("reopen")),
    )
    counter = iter(range(10**6))

    @settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(ops=st.lists(op, max_size=12))
    def run(ops):
        path = str(tmp_path / f"s{next(counter)}.hist")
        model: dict[tuple, str] = {}
        h = historian.open(path)
        try:
            for o in ops:
                if o[0] == "reopen":
                    h.close()
                    h = historian.open(path)
                    continue
                _, target, k, author, text = o
                h.annotate(target, T0 + k * S, text, author=author)
                model[(target, T0 + k * S, author)] = text
            me = default_author()
            expected = {(t, ti, me if a is None else a): x for (t, ti, a), x in model.items()}
            with historian.open(path, mode="r") as reader:
                for store in (h, reader):
                    got = {
                        (r["target"], r["time"].value, r["author"]): r["text"]
                        for r in store.annotations().to_pylist()
                    }
                    assert got == expected
        finally:
            h.close()

    run()
