"""SQL attacks on a real store (issue 10, item 1): each is refused with a HistorianError, no file
of the store changes (SHA-256 of every file before and after), nothing appears outside it, and a
later ``h.sql`` on the same object returns what it returned before the attack.

The store has committed Parquet files (two flushes) and is opened read-only (``mode="r"``, the
way a notebook or the CLI opens it) and as the writer with points still in the write-ahead log.
"""

from __future__ import annotations

import glob
import os
import re
import time

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest

import historian
from historian.cli import main
from historian.errors import CorruptDataError, HistorianError, QueryError

S = 1_000_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z

#: Touches every view and the functions an attack would like to replace.
BASELINE = """
SELECT tag, count(*) AS n, round(sum(value), 6) AS total, max(value) AS top,
       count(*) FILTER (WHERE NOT isnan(value)) AS numbers, max(time_ns) AS last
FROM points GROUP BY tag
UNION ALL
SELECT 'points_all', count(*), round(sum(value), 6), max(value), 0, 0 FROM points_all
UNION ALL
SELECT 'tags', count(*), 0, 0, 0, 0 FROM tags
ORDER BY 1
"""


def _build(path) -> None:
    rng = np.random.default_rng(7)
    with historian.open(path, mode="w") as w:
        w.define("TIC-101.PV", unit="degC")
        w.define("FIC-102.PV", unit="m3/h")
        t = T0 + np.arange(2_000) * S
        temp = np.full(2_000, 60.0)
        temp[1_000:1_010] = 95.0  # an excursion an attacker would like to hide
        w.write("TIC-101.PV", t, temp)
        w.flush()
        w.write("FIC-102.PV", t, rng.normal(10.0, 1.0, 2_000))
        w.flush()


def _data_files(root) -> list[str]:
    return sorted(glob.glob(os.path.join(root, "points", "day=*", "*.parquet")))


@pytest.fixture(params=["r", "w"])
def opened(request, tmp_path):
    """(store, h, outside): a store opened read-only, or as the writer with unflushed points."""
    path = tmp_path / "plant.hist"
    _build(path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.csv").write_text("user,password\nadmin,hunter2\n")
    if request.param == "r":
        h = historian.open(path, mode="r")
    else:
        h = historian.open(path, mode="w", flush_seconds=3600)
        h.write("TIC-101.PV", [T0 + 5_000 * S], [61.0])  # in the write-ahead log only
    try:
        yield path, h, outside
    finally:
        h.close()


def _attacks(store, outside) -> list[str]:
    points = os.path.join(store, "points")
    files = _data_files(store)
    target = files[0] if files else os.path.join(points, "part.parquet")  # a committed file
    log = os.path.join(points, "_delta_log", "00000000000000000099.json")
    evil = os.path.join(outside, "x.csv")
    return [
        # writes into the store (the attacks that worked before the fix)
        f"EXPLAIN ANALYZE COPY (SELECT tag, time, 60.0 AS value FROM points) TO '{target}' "
        "(FORMAT parquet)",
        f"COPY (SELECT tag, time, 60.0 AS value FROM points) TO '{target}' (FORMAT parquet)",
        f"EXPLAIN ANALYZE COPY (SELECT '{{\"remove\":{{}}}}' AS j) TO '{log}' (FORMAT csv)",
        f"COPY (SELECT 1 AS j) TO '{log}'",
        f"EXPLAIN ANALYZE COPY (SELECT * FROM points) TO '{points}' "
        "(FORMAT parquet, PARTITION_BY (tag), OVERWRITE)",
        f"COPY (SELECT * FROM points) TO '{points}' (FORMAT parquet, PARTITION_BY (tag), "
        "OVERWRITE)",
        f"EXPLAIN ANALYZE COPY (SELECT 1) TO '{evil}'",
        f"EXPORT DATABASE '{outside}/export'",
        # catalog changes that would change later results
        "EXPLAIN ANALYZE CREATE MACRO main.isnan(x) AS true",
        "CREATE MACRO isnan(x) AS true",
        "CREATE TEMP MACRO isnan(x) AS true",
        "CREATE OR REPLACE VIEW points AS SELECT * FROM points_all LIMIT 0",
        "EXPLAIN ANALYZE CREATE OR REPLACE TEMP VIEW points AS SELECT 1 AS tag",
        "DROP VIEW points",
        "INSERT INTO tags VALUES ('x')",
        "DELETE FROM points",
        "UPDATE points SET value = 0",
        # other databases, settings, extensions, secrets
        f"ATTACH '{store}/evil.db' AS evil",
        f"EXPLAIN ANALYZE ATTACH '{outside}/evil.db' AS evil",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "SET allowed_directories = ['/']",
        "RESET ALL",
        "SET VARIABLE x = 1",
        "INSTALL httpfs",
        "LOAD httpfs",
        "FORCE INSTALL httpfs FROM core_nightly",
        "CREATE SECRET s (TYPE s3, KEY_ID 'a', SECRET 'b')",
        "USE memory",
        "CHECKPOINT",
        "VACUUM",
        "PRAGMA threads = 64",
        "PRAGMA database_list",
        "CALL pragma_version()",
        "CALL checkpoint()",
        # file reads, inside and outside the store
        f"SELECT * FROM read_csv('{outside}/secret.csv')",
        f"SELECT * FROM read_csv_auto('{outside}/secret.csv')",
        f"SELECT * FROM read_parquet('{target}')",
        f"SELECT * FROM parquet_metadata('{target}')",
        f"SELECT * FROM read_text('{store}/tags.json')",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_blob('/etc/hostname')",
        f"SELECT * FROM read_json('{points}/_delta_log/*.json')",
        f"SELECT * FROM glob('{store}/**')",
        "SELECT * FROM glob('/*')",
        f"SELECT * FROM sniff_csv('{outside}/secret.csv')",
        f"SELECT count(*) FROM '{target}'",
        "SELECT * FROM duckdb_extensions()",
        f"SELECT * FROM query('COPY (SELECT 1) TO ''{evil}''')",
        "SELECT * FROM query('CREATE MACRO isnan(x) AS true')",
        # several statements, and statements hidden in comments
        f"SELECT 1; COPY (SELECT 1) TO '{evil}'",
        "SELECT 1; CREATE MACRO isnan(x) AS true",
        f"SELECT 1 /* harmless */; EXPLAIN ANALYZE COPY (SELECT 1) TO '{evil}'",
        f"/* SELECT 1 */ COPY (SELECT 1) TO '{evil}'",
        f"-- SELECT 1\nCOPY (SELECT 1) TO '{evil}'",
        f"SELECT 1 -- \n; COPY (SELECT 1) TO '{evil}'",
        f"SELECT 1;\x00COPY (SELECT 1) TO '{evil}'",
        "",
        "   -- only a comment",
        "SELECT 1 AS x" + " + 1" * 500_000,  # a parser-sized denial of service
    ]


def _attack_ids() -> list[str]:
    return [f"{i}-" + (re.sub(r"\W+", "-", a[:40]).strip("-") or "empty")
            for i, a in enumerate(_attacks("/s", "/o"))]  # fmt: skip


@pytest.mark.parametrize("index", range(len(_attacks("/s", "/o"))), ids=_attack_ids())
def test_attack_is_refused_and_changes_nothing(file_hashes, opened, index):
    store, h, outside = opened
    attack = _attacks(str(store), str(outside))[index]
    before_rows = h.sql(BASELINE).fetchall()
    before_read = h.read(["TIC-101.PV", "FIC-102.PV"])
    before_files = file_hashes(store)
    before_outside = file_hashes(outside)

    with pytest.raises(HistorianError) as info:
        h.sql(attack)
    assert str(info.value)  # a message that says what to fix
    if info.value.__cause__ is not None:
        assert isinstance(info.value.__cause__, duckdb.Error | ValueError | TypeError)

    assert file_hashes(store) == before_files
    assert file_hashes(outside) == before_outside
    assert h.sql(BASELINE).fetchall() == before_rows
    assert h.read(["TIC-101.PV", "FIC-102.PV"]).equals(before_read)
    assert h.sql(
        "SELECT max(value) FROM points WHERE tag = $t", {"t": "TIC-101.PV"}
    ).fetchall() == [(95.0,)]


@pytest.mark.parametrize("explain", [True, "analyze"])
@pytest.mark.parametrize("index", [0, 2, 4, 8, 17], ids=["copy-file", "copy-log", "partition",
                                                       "macro", "attach"])  # fmt: skip
def test_the_explain_option_wraps_only_a_validated_select(file_hashes, opened, index, explain):
    store, h, outside = opened
    attack = _attacks(str(store), str(outside))[index].removeprefix("EXPLAIN ANALYZE ")
    before = file_hashes(store)
    with pytest.raises(QueryError, match="read-only"):
        h.sql(attack, explain=explain)
    assert file_hashes(store) == before
    plan = h.sql("SELECT count(*) FROM points WHERE tag = $t", {"t": "A"}, explain=explain)
    assert "PYTHON_ARROW_SCAN" in "".join(str(c) for row in plan.fetchall() for c in row)


def test_file_paths_as_parameters_reach_no_file(file_hashes, opened):
    store, h, outside = opened
    before = file_hashes(store)
    for fn, path in (("read_csv", f"{outside}/secret.csv"), ("read_text", f"{store}/tags.json"),
                     ("read_parquet", _data_files(store)[0]), ("glob", f"{store}/*")):  # fmt: skip
        with pytest.raises(QueryError, match="no file, network or extension access"):
            h.sql(f"SELECT * FROM {fn}($p)", {"p": path})
    assert file_hashes(store) == before


PROBES = [
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM duckdb_databases()",
    "SELECT * FROM pragma_database_list",
    "SELECT * FROM duckdb_views()",
    "SELECT * FROM duckdb_tables()",
    "SELECT * FROM duckdb_temporary_files()",
    "SELECT * FROM duckdb_secrets()",
    "SELECT * FROM duckdb_memory()",
    "SELECT current_setting('secret_directory'), current_setting('temp_directory'), "
    "current_setting('home_directory'), current_setting('extension_directory')",
    "SELECT current_setting('enable_external_access'), current_setting('lock_configuration'), "
    "current_setting('allowed_directories')",
    "SUMMARIZE SELECT * FROM points",
    "SHOW ALL TABLES",
]


@pytest.mark.parametrize("probe", PROBES)
def test_probes_reveal_no_path(file_hashes, opened, probe, monkeypatch, tmp_path, tmp_path_factory):
    store, h, _ = opened
    # DuckDB lists the working directory in allowed_paths (from the in-memory database's name;
    # external access is off, so it grants nothing): run from elsewhere, as a service does.
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    before = file_hashes(store)
    text = repr(h.sql(probe).fetchall())
    for secret in (str(store), str(tmp_path), os.path.expanduser("~"), "part-", "_delta_log"):
        assert secret not in text, (probe, secret)
    assert file_hashes(store) == before


def test_the_database_is_locked_down(opened):
    _, h, _ = opened
    got = h.sql(
        "SELECT current_setting('enable_external_access'), current_setting('lock_configuration'),"
        " current_setting('allowed_directories'), current_setting('temp_directory'),"
        " current_setting('autoload_known_extensions'), current_setting('TimeZone')"
    ).fetchall()
    assert got == [(False, True, [], "", False, "UTC")]


def test_nothing_a_query_creates_survives_it(opened):
    """Each call has its own database: even a connection of the engine changed by hand (as an
    EXPLAIN ANALYZE CREATE MACRO once did) does not reach the next call."""
    _, h, _ = opened
    before = h.sql(BASELINE).fetchall()
    con = h._sql_engine._connect()
    con.execute("CREATE MACRO main.isnan(x) AS true")
    con.execute("CREATE TEMP VIEW points AS SELECT 1 AS tag")
    assert h.sql(BASELINE).fetchall() == before
    con.close()
    assert h.sql("SELECT count(*) FROM duckdb_functions() WHERE function_name = 'isnan' "
                 "AND function_type = 'macro'").fetchall() == [(0,)]  # fmt: skip


# ------------------------------------------------------------------ checksums, limits
def _flip_a_value_byte(path: str) -> None:
    """Flip one byte in the middle of the first row group's value column (inside a data page)."""
    meta = pq.ParquetFile(path).metadata
    names = [meta.schema.column(i).name for i in range(meta.num_columns)]
    col = meta.row_group(0).column(names.index("value"))
    offset = col.data_page_offset + col.total_compressed_size // 2
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x10]))


def test_a_flipped_byte_raises_corrupt_data_like_h_read(tmp_path):
    path = tmp_path / "plant.hist"
    rng = np.random.default_rng(3)
    with historian.open(path, mode="w") as w:
        w.define("A")
        w.write("A", T0 + np.arange(50_000) * S, rng.normal(size=50_000))  # stored as doubles
        w.flush()
        expected = w.sql("SELECT sum(value) FROM points").fetchall()
    (data,) = _data_files(path)
    _flip_a_value_byte(data)
    with historian.open(path, mode="r") as h:
        with pytest.raises(CorruptDataError, match="checksum") as info:
            h.sql("SELECT sum(value) FROM points")
        assert isinstance(info.value.__cause__, duckdb.Error)
        with pytest.raises(CorruptDataError, match="checksum") as info:  # h.read refuses too,
            h.read("A")
        assert str(data) in str(info.value)  # naming the damaged file
        assert expected != [(None,)]  # the sum the damaged file would otherwise have changed
        # what the damaged page does not hold still answers
        assert h.sql("SELECT count(*) FROM tags").fetchall() == [(1,)]


def test_time_limit_interrupts_a_long_query(opened):
    _, h, _ = opened
    h._sql_engine._timeout = 0.5  # as historian.open(path, sql_timeout=0.5)
    t = time.perf_counter()
    with pytest.raises(QueryError, match=r"after 0\.5 s.*sql_timeout") as info:
        h.sql("SELECT sum(a.range * b.range) FROM range(1000000) a, range(1000000) b")
    assert time.perf_counter() - t < 30
    assert isinstance(info.value.__cause__, duckdb.Error)
    assert h.sql("SELECT count(*) FROM points WHERE tag = ?", ["FIC-102.PV"]).fetchall() == [
        (2_000,)
    ]


def test_time_limit_option_of_open(tmp_path):
    path = tmp_path / "p.hist"
    _build(path)
    with historian.open(path, mode="r", sql_timeout=0.5) as h:
        assert h._sql_engine.timeout == 0.5
        with pytest.raises(QueryError, match="sql_timeout"):
            h.sql("SELECT count(*) FROM range(1000000) a, range(1000000) b WHERE a.range < b.range")
    with pytest.raises(historian.errors.InvalidArgumentError, match="sql_timeout"):
        historian.open(path, mode="r", sql_timeout=0)


def test_memory_limit(tmp_path):
    path = tmp_path / "p.hist"
    _build(path)
    with historian.open(path, mode="r", duckdb_memory_limit="64MB") as h:
        with pytest.raises(QueryError, match="duckdb_memory_limit") as info:
            h.sql("SELECT count(*) FROM (SELECT DISTINCT range FROM range(30000000))")
        assert isinstance(info.value.__cause__, duckdb.OutOfMemoryException)
        assert h.sql("SELECT count(*) FROM points").fetchall() == [(4_000,)]
    with pytest.raises(historian.errors.InvalidArgumentError, match="duckdb_memory_limit"):
        historian.open(path, mode="r", duckdb_memory_limit="lots")


def test_result_budget(tmp_path):
    path = tmp_path / "p.hist"
    _build(path)
    with historian.open(path, mode="r", sql_max_result_bytes=1_000_000) as h:
        with pytest.raises(QueryError, match="sql_max_result_bytes"):
            h.sql("SELECT range FROM range(10000000)")
        assert h.sql("SELECT * FROM points").to_arrow_table().num_rows == 4_000  # ~250 kB
    with historian.open(path, mode="r", sql_max_result_bytes=None) as h:
        assert h.sql("SELECT range FROM range(300000)").to_arrow_table().num_rows == 300_000


def test_the_result_is_a_relation_over_materialized_data(opened):
    _, h, _ = opened
    rel = h.sql("SELECT tag, count(*) AS n FROM points GROUP BY tag ORDER BY tag")
    assert rel.columns == ["tag", "n"]
    assert rel.fetchall()[1] == ("TIC-101.PV", rel.fetchall()[1][1])
    assert rel.to_arrow_table().num_rows == 2
    assert rel.arrow().read_all().num_rows == 2
    assert rel.df()["n"].sum() == rel.pl()["n"].sum()


# ------------------------------------------------------------------ the CLI, same engine
def test_cli_refuses_the_attacks_and_changes_nothing(file_hashes, tmp_path, capsys):
    store = tmp_path / "plant.hist"
    _build(store)
    attacks = _attacks(str(store), str(tmp_path))
    before = file_hashes(store)
    for attack in (attacks[0], attacks[4], attacks[8], attacks[35]):  # copy, partition, macro, read
        assert main(["query", str(store), attack]) == 2, attack
        err = capsys.readouterr().err
        assert err.startswith("historian query: error:") and err.count("\n") == 1, err
    assert file_hashes(store) == before
    assert main(["query", str(store), "SELECT max(value) AS m FROM points WHERE tag = $t",
                 "--param", "t=TIC-101.PV", "--format", "json"]) == 0  # fmt: skip
    assert capsys.readouterr().out.strip() == '[{"m": 95.0}]'


def test_cli_time_limit(tmp_path, capsys):
    store = tmp_path / "plant.hist"
    _build(store)
    assert main(["query", str(store), "--timeout", "0.5",
                 "SELECT count(*) FROM range(1000000) a, range(1000000) b WHERE a.range < b.range"]
                ) == 2  # fmt: skip
    assert "--timeout" in capsys.readouterr().err


def test_cli_csv_escapes_spreadsheet_formulas(tmp_path, capsys):
    store = tmp_path / "plant.hist"
    _build(store)
    sql = ("SELECT * FROM (VALUES ('=HYPERLINK(\"http://x\")', -1.5), ('+1', 2.0), ('-2', 3.0),"
           " ('@SUM(A1)', 4.0), (chr(9) || 'tab', 5.0), (chr(13) || 'cr', 6.0), ('ok', 7.0))"
           " t(text, number)")  # fmt: skip
    assert main(["query", str(store), sql, "--format", "csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == '"text","number"'
    assert lines[1] == '"\'=HYPERLINK(""http://x"")",-1.5'  # numbers are never touched
    assert [line.split(",")[0] for line in lines[2:5]] == ['"\'+1"', '"\'-2"', '"\'@SUM(A1)"']
    assert lines[-1] == '"ok",7.0'
    assert main(["query", str(store), sql, "--format", "csv", "--no-escape-formulas"]) == 0
    assert capsys.readouterr().out.splitlines()[1].startswith('"=HYPERLINK')
