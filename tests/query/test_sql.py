"""h.sql on real stores: views, last-write-wins, NaN, exact ns, hostile parameters, lock-down."""

from __future__ import annotations

import os
import pathlib
import re

import duckdb
import numpy as np
import pyarrow as pa
import pytest

import historian
from historian.errors import InvalidArgumentError, QueryError

S = 1_000_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z


@pytest.fixture
def h(tmp_path):
    with historian.open(tmp_path / "s.hist", duckdb_threads=1) as store:
        yield store


def _rows(rel):
    return rel.fetchall()


def test_points_view_columns_and_types(h):
    h.define("TIC-101.PV")
    h.write("TIC-101.PV", [T0, T0 + S], [1.5, 2.5])
    rel = h.sql("SELECT * FROM points")
    assert rel.columns == [
        "tag",
        "time",
        "time_ns",
        "value",
        "quality",
        "good",
        "reasons",
        "ingested",
        "text",
    ]
    table = rel.to_arrow_table()
    assert table.column("text").null_count == 2  # numbers carry no text
    assert isinstance(table, pa.Table)
    time_type = table.column("time").type
    assert time_type.unit == "ns" and time_type.tz in ("UTC", "Etc/UTC")
    assert table.column("quality").type == pa.uint32()
    assert table.column("time_ns").to_pylist() == [T0, T0 + S]
    df = h.sql("SELECT tag, value FROM points ORDER BY time").df()
    assert df["value"].tolist() == [1.5, 2.5]
    pl = h.sql("SELECT tag, value FROM points ORDER BY time").pl()
    assert pl["value"].to_list() == [1.5, 2.5]


def test_tags_view(h):
    h.define("FIC-101.PV", unit="m3/h", description="feed")
    h.define("TIC-101.PV", unit="degC")
    got = _rows(h.sql("SELECT name, unit FROM tags ORDER BY name"))
    assert got == [("FIC-101.PV", "m3/h"), ("TIC-101.PV", "degC")]


@pytest.mark.parametrize("flush", [False, True])
def test_nan_is_null_and_bad(h, flush):
    h.define("A")
    h.write("A", [T0, T0 + S, T0 + 2 * S], [1.0, float("nan"), 3.0])
    if flush:
        h.flush()
    (mx, avg, n, n_all, above) = _rows(
        h.sql(
            "SELECT max(value), avg(value), count(value), count(*), "
            "count(*) FILTER (WHERE value > 2) FROM points"
        )
    )[0]
    assert (mx, avg, n, n_all, above) == (3.0, 2.0, 2, 3, 1)
    bad = _rows(h.sql("SELECT quality, good FROM points WHERE value IS NULL"))
    assert bad[0][0] >= 0x80000000 and bad[0][1] is False


def test_last_write_wins_across_files_and_pending(h):
    h.define("A")
    h.write("A", [T0, T0 + S], [1.0, 2.0])
    h.flush()
    h.write("A", [T0 + S], [20.0])  # newer version in another file
    h.flush()
    h.write("A", [T0], [10.0])  # newest, not yet flushed
    got = _rows(h.sql("SELECT time_ns, value FROM points ORDER BY time_ns"))
    assert got == [(T0, 10.0), (T0 + S, 20.0)]
    assert _rows(h.sql("SELECT count(*) FROM points_all"))[0][0] == 4
    # the same as h.read
    read = h.read("A")
    assert read.column("value").to_pylist() == [10.0, 20.0]


def test_exact_nanoseconds_across_file_units(h):
    h.define("A")
    h.define("B")
    h.write("B", [T0, T0 + S], [1.0, 2.0])  # a file whose times fit milliseconds
    h.flush()
    h.write("A", [T0 + 1, T0 + 2], [1.0, 2.0])  # a file that needs ns
    h.flush()
    h.write("A", [T0 + 3], [3.0])  # pending
    got = _rows(h.sql("SELECT tag, time_ns FROM points ORDER BY tag, time_ns"))
    assert got == [("A", T0 + 1), ("A", T0 + 2), ("A", T0 + 3), ("B", T0), ("B", T0 + S)]
    # time itself is exact, and Arrow gets timestamp[ns]
    got = h.sql("SELECT time FROM points WHERE tag = 'A' ORDER BY time").to_arrow_table()
    assert got.column("time").cast("int64").to_pylist() == [T0 + 1, T0 + 2, T0 + 3]
    # ns-precise filters on time
    assert _rows(
        h.sql(
            "SELECT count(*) FROM points WHERE tag = 'A' AND time > $t::TIMESTAMPTZ_NS",
            {"t": "2026-01-01T00:00:00.000000001Z"},
        )
    ) == [(2,)]
    assert _rows(h.sql("SELECT count(*) FROM points WHERE time_ns > $t", {"t": T0 + 1})) == [(3,)]


def test_negative_times(h):
    h.define("A")
    h.write("A", [-1_500], [1.0])  # 1.5 us before the epoch
    assert _rows(
        h.sql("SELECT time_ns, epoch_ns(time), epoch_us(time::TIMESTAMPTZ) FROM points")
    ) == [(-1_500, -1_500, -2)]


def test_tag_and_time_filters_reach_the_parquet_scan(h):
    h.define("A")
    h.write("A", [T0, T0 + S], [1.0, 2.0])
    h.flush()
    h.write("A", [T0 + S], [5.0])  # a correction in a second file: the window is needed
    h.flush()
    plan = h.sql(
        "SELECT * FROM points WHERE tag = $t AND time >= $s",
        {"t": "A", "s": "2026-01-01T00:00:01Z"},
        explain=True,
    ).fetchall()[0][1]
    # printed top-down: the time filter sits below the deduplication (a window, or the
    # arg_max aggregate DuckDB rewrites it to), next to the scan; the tag filter is handed to
    # the pyarrow dataset scan (row-group statistics). DuckDB does not hand nanosecond
    # timestamp filters to an Arrow scan, so time is filtered just above it.
    dedup = max(plan.find("Window"), plan.find("Group By"))
    assert dedup >= 0 and plan.rfind("time >=") > dedup
    scan = plan[plan.rfind("PYTHON_ARROW_SCAN") - 400 :]
    assert re.search(r"Filters:\s*\"tag\" = 'A'", plan), plan
    assert "Filters:" in scan or "Filters:" in plan[plan.find("PYTHON_ARROW_SCAN") :]


def test_empty_store(h):
    assert _rows(h.sql("SELECT count(*) FROM points")) == [(0,)]
    h.define("A")
    assert _rows(h.sql("SELECT count(*), max(value) FROM points")) == [(0, None)]


HOSTILE = [
    "A' OR '1'='1",
    "'; DROP TABLE points; --",
    'A"; DROP VIEW points; --',
    "Ünïcødé-温度.PV",
    "A%",
    "A\\",
    "\x00A",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_parameters_return_nothing_and_change_nothing(h, value):
    h.define("A")
    h.write("A", [T0, T0 + S], [1.0, 2.0])
    h.flush()
    before = h.read("A")
    files = sorted(os.listdir(os.path.join(h.path, "points")))
    assert _rows(h.sql("SELECT * FROM points WHERE tag = $tag", {"tag": value})) == []
    assert _rows(h.sql("SELECT * FROM points WHERE tag = ?", [value])) == []
    assert _rows(h.sql("SELECT count(*) FROM points WHERE tag LIKE ?", [value]))[0][0] in (0, 2)
    # the store is unchanged and the views still work
    assert h.read("A").equals(before)
    assert sorted(os.listdir(os.path.join(h.path, "points"))) == files
    assert _rows(h.sql("SELECT count(*) FROM points"))[0][0] == 2


def test_parameters_select_the_right_rows(h):
    names = ["TIC-101.PV", "TIC-101.SP", "A:B/c_d"]
    for i, n in enumerate(names):
        h.define(n)
        h.write(n, [T0, T0 + S], [float(i), float(i) + 0.5])
    for i, n in enumerate(names):
        got = _rows(h.sql("SELECT value FROM points WHERE tag = $t ORDER BY time", {"t": n}))
        assert got == [(float(i),), (float(i) + 0.5,)]
    got = _rows(
        h.sql(
            "SELECT count(*) FROM points WHERE time >= $s AND value > $v",
            {"s": "2026-01-01T00:00:01Z", "v": 0.7},
        )
    )
    assert got == [(2,)]


@pytest.mark.parametrize(
    "statement",
    [
        "DROP VIEW points",
        "CREATE TABLE x AS SELECT 1",
        "COPY (SELECT 1) TO 'x.csv'",
        "ATTACH 'x.db'",
        "SET threads = 8",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SELECT 1; DROP VIEW points",
        "PRAGMA threads=4",
        "EXPLAIN SELECT 1",  # EXPLAIN is the explain= option, around a validated SELECT
        "EXPLAIN ANALYZE COPY (SELECT 1) TO 'x.csv'",
    ],
)
def test_only_select_statements(h, statement):
    with pytest.raises(QueryError):
        h.sql(statement)


def test_locked_down_file_access(h, tmp_path):
    h.define("A")
    h.write("A", [T0], [1.0])
    h.flush()
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    for q in (
        f"SELECT * FROM read_csv('{secret}')",
        "SELECT * FROM read_text('/etc/hostname')",
        "SELECT * FROM glob('/etc/*')",
        f"SELECT * FROM read_text('{h.path}/tags.json')",
    ):
        with pytest.raises(QueryError, match="no file, network or extension access") as info:
            h.sql(q)
        assert isinstance(info.value.__cause__, duckdb.Error)
    # the configuration is locked, even for code holding a connection of the engine
    con = h._sql_engine._connect()
    try:
        with pytest.raises(duckdb.Error):
            con.execute("SET enable_external_access = true")
        assert con.execute("SELECT current_setting('allowed_directories')").fetchall() == [([],)]
    finally:
        con.close()


def test_threads_option_and_lazy_duckdb(tmp_path):
    with historian.open(tmp_path / "t.hist", duckdb_threads=1) as h:
        assert h._sql_engine.threads == 1  # no DuckDB database until a query, one per query
        assert _rows(h.sql("SELECT current_setting('threads')")) == [(1,)]
    with pytest.raises(InvalidArgumentError):
        historian.open(tmp_path / "u.hist", duckdb_threads=0)


def test_relation_survives_later_snapshots(h):
    h.define("A")
    h.write("A", [T0], [1.0])
    rel = h.sql("SELECT count(*) FROM points")
    h.write("A", [T0 + S], [2.0])
    assert _rows(h.sql("SELECT count(*) FROM points")) == [(2,)]
    assert _rows(rel) == [(1,)]  # a relation keeps the snapshot it was made on


def test_sql_after_close_raises(tmp_path):
    h = historian.open(tmp_path / "c.hist")
    h.sql("SELECT 1").fetchall()
    h.close()
    with pytest.raises(historian.HistorianError):
        h.sql("SELECT 1")


def test_no_formatted_sql_in_the_package():
    root = pathlib.Path(historian.__file__).parent
    pattern = re.compile(r"""\.(execute|sql|query)\(\s*f["']""")
    offenders = [
        f"{p.relative_to(root)}:{i}"
        for p in root.rglob("*.py")
        for i, line in enumerate(p.read_text().splitlines(), 1)
        if 'execute(f"' in line or "execute(f'" in line or pattern.search(line)
    ]
    assert offenders == []


def test_values_match_read(h):
    rng = np.random.default_rng(1)
    h.define("A")
    t = T0 + np.sort(rng.choice(10**6, 500, replace=False)) * 1000
    v = np.round(rng.normal(size=500), 3)  # stored as value_int
    v[::7] = rng.normal(size=v[::7].size)  # stored as double
    h.write("A", t, v)
    h.flush()
    got = h.sql("SELECT time_ns, value FROM points ORDER BY time_ns").to_arrow_table()
    assert got.column("time_ns").to_pylist() == t.tolist()
    assert got.column("value").to_pylist() == v.tolist()


def test_reader_process_view(tmp_path):
    path = tmp_path / "shared.hist"
    with historian.open(path) as w:
        w.define("A")
        w.write("A", [T0, T0 + S], [1.0, 2.0])
        w.flush()
        w.write("A", [T0 + 2 * S], [3.0])  # in the writer's WAL, not yet in a file
        with historian.open(path, mode="r") as r:
            got = _rows(r.sql("SELECT count(*), sum(value) FROM points WHERE tag = ?", ["A"]))
            assert got in ([(2, 3.0)], [(3, 6.0)])  # files, plus the WAL if the reader sees it


@pytest.mark.parametrize(
    ("query", "params", "fact"),
    [
        ("SELEC nonsense", None, "SQL syntax error"),
        ("SELECT nope FROM points", None, "points, points_all and tags"),
        ("SELECT * FROM no_such_table", None, "points, points_all and tags"),
        (
            "SELECT * FROM points WHERE tag = $tag",
            {"other": "A"},
            "not provided for the following parameters: tag",
        ),
        ("SELECT 1; SELECT 2", None, "exactly one SELECT statement, got 2"),
        ("EXPLAIN SELECT 1", None, r"explain=True"),
    ],
)
def test_errors_say_what_to_fix_and_keep_the_cause(h, query, params, fact):
    with pytest.raises(QueryError, match=fact) as info:
        h.sql(query, params)
    cause = info.value.__cause__
    assert cause is None or isinstance(cause, duckdb.Error)


def test_explain_option(h):
    h.define("A")
    h.write("A", [T0], [1.0])
    plan = h.sql("SELECT count(*) FROM points", explain=True).fetchall()
    assert plan[0][0] == "physical_plan"
    analyzed = h.sql("SELECT count(*) FROM points", explain="analyze").fetchall()
    assert "Total Time" in analyzed[0][1]
    with pytest.raises(InvalidArgumentError, match="explain"):
        h.sql("SELECT 1", explain="yes")


def test_concurrent_queries_from_threads(h):
    from concurrent.futures import ThreadPoolExecutor

    for i, name in enumerate(("A", "B", "C")):
        h.define(name)
        h.write(name, T0 + np.arange(1_000) * S, np.arange(1_000) + 1_000.0 * i)
    h.flush()
    query = "SELECT tag, count(*), sum(value) FROM points WHERE tag = $t GROUP BY tag"
    expected = {n: _rows(h.sql(query, {"t": n})) for n in ("A", "B", "C")}
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda n: (n, _rows(h.sql(query, {"t": n}))), ["A", "B", "C"] * 4))
    assert all(rows == expected[n] for n, rows in got)


def test_the_dedup_window_runs_only_where_a_point_can_repeat(h):
    """Files that cannot share a (tag, time) are read without the window; a correction, a file
    that holds superseded versions, or unflushed points bring it back, and the rows are always
    the last writes."""

    def plan() -> str:
        return h.sql("SELECT * FROM points", explain=True).fetchall()[0][1]

    def has_window(text: str) -> bool:
        return "WINDOW" in text.upper() or "GROUP_BY" in text.upper().replace(" ", "_")

    h.define("A")
    h.define("B")
    h.write("A", [T0, T0 + S], [1.0, 2.0])
    h.flush()
    h.write("A", [T0 + 2 * S], [3.0])  # later times: the two files do not overlap in time
    h.write("B", [T0 + 2 * S], [7.0])
    h.flush()
    assert not has_window(plan())
    assert _rows(h.sql("SELECT tag, value FROM points ORDER BY tag, time")) == [
        ("A", 1.0),
        ("A", 2.0),
        ("A", 3.0),
        ("B", 7.0),
    ]
    h.write("B", [T0], [8.0])  # no file holds B before T0 + 2 s: still no window
    h.flush()
    assert not has_window(plan())
    h.write("A", [T0 + S // 2], [1.5])  # a new time, in a file overlapping A's first one
    h.flush()
    assert has_window(plan())
    h.compact(full=True)
    assert not has_window(plan())  # merged into one file without repeats
    h.write("A", [T0 + S], [20.0])  # pending: may repeat a stored point
    assert has_window(plan())
    h.flush()  # a file overlapping the first one in tag and time
    assert has_window(plan())
    assert _rows(h.sql("SELECT value FROM points WHERE tag = 'A' ORDER BY time")) == [
        (1.0,),
        (1.5,),
        (20.0,),
        (3.0,),
    ]
    h.compact(full=True)  # one file that keeps the superseded version for as-of reads
    assert len(h.scan_sources()[0]) == 1 and has_window(plan())
    assert _rows(h.sql("SELECT value FROM points WHERE tag = 'A' ORDER BY time")) == [
        (1.0,),
        (1.5,),
        (20.0,),
        (3.0,),
    ]
    assert _rows(h.sql("SELECT count(*) FROM points_all WHERE tag = 'A'")) == [(5,)]
