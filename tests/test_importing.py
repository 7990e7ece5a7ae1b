"""historian.importing: CSV/Parquet/pandas/polars/Arrow history in, a row-by-row report out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import historian
from historian.errors import InvalidArgumentError
from historian.importing import ImportReport, import_history
from historian.model import quality as q

T0 = "2026-03-01T00:00:00Z"
T0_NS = historian.model.to_ns(T0)
S = 1_000_000_000

MESSY_CSV = """tag,time,value,quality
TIC-101.PV,2026-03-01T00:00:00Z,20.5,
TIC-101.PV,2026-03-01T00:00:01Z,20.6,0
NOPE-1,2026-03-01T00:00:02Z,1.0,0
TIC-101.PV,not a time,20.7,0
TIC-101.PV,2026-03-01T00:00:04Z,twenty,0
TIC-101.PV,2026-03-01T00:00:05Z,,Bad_NoCommunication
TIC-101.PV,2026-03-01T00:00:06Z,,0
TIC-101.PV,2026-03-01T00:00:07Z,21.0,Splendid
bad tag!,2026-03-01T00:00:08Z,1.0,0
,2026-03-01T00:00:09Z,1.0,0
TIC-101.PV,,21.1,0
TIC-101.PV,2026-03-01T00:00:11Z,21.2,0x40940000
TIC-101.PV,2026-03-01T00:00:12Z,21.3,-5
TIC-101.PV,2026-03-01T00:00:13,21.4,2150694912
"""


@pytest.fixture
def h(tmp_path):
    with historian.open(tmp_path / "plant.hist") as store:
        store.define("TIC-101.PV", unit="degC")
        yield store


def _write(tmp_path, text, name="history.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_csv_rejects_row_by_row_with_reasons(h, tmp_path):
    report = import_history(h, _write(tmp_path, MESSY_CSV), progress=False)
    assert isinstance(report, ImportReport)
    assert report.rows == 14
    rej = {r["row"]: r for r in report.rejected.to_pylist()}
    assert {i: r["reason"] for i, r in rej.items()} == {
        2: "unknown tag",
        3: "unparseable time",
        4: "non-numeric value",
        6: "empty value",
        7: "invalid quality",
        8: "invalid tag name",
        9: "empty tag",
        10: "empty time",
        12: "invalid quality",
    }
    assert report.written == 14 - len(rej)
    # the raw text is kept, and the detail says what to do
    assert rej[4]["value"] == "twenty" and "not a number" in rej[4]["detail"]
    assert rej[3]["time"] == "not a time" and "ISO 8601" in rej[3]["detail"]
    assert "h.define('NOPE-1'" in rej[2]["detail"] and "define=True" in rej[2]["detail"]
    assert "Bad quality" in rej[6]["detail"]
    assert "StatusCode" in rej[7]["detail"]
    assert report.reasons()["invalid quality"] == 2
    assert not report.ok and report.tags == ["TIC-101.PV"]

    got = h.read("TIC-101.PV").to_pylist()
    times = [(r["time"].timestamp() - T0_NS / S) for r in got]
    assert times == [0, 1, 5, 11, 13]
    quals = [r["quality"] for r in got]
    assert quals == [
        0,
        0,
        q.BAD_NO_COMMUNICATION,
        q.UNCERTAIN_ENGINEERING_UNITS_EXCEEDED,
        2150694912,
    ]
    assert got[2]["value"] is None  # a Bad point without a value is kept as history
    assert "3 written" not in repr(report) and "9 rejected" in repr(report)
    assert "unknown tag" in report._repr_html_()


def test_define_creates_unknown_tags(h, tmp_path):
    text = "tag,time,value\nFIC-101.PV,2026-03-01T00:00:00Z,1\nLIC-101.PV,2026-03-01T00:00:00Z,2\n"
    report = import_history(h, _write(tmp_path, text), define=True, progress=False)
    assert report.ok and report.written == 2
    assert report.defined == ["FIC-101.PV", "LIC-101.PV"]
    assert set(h.tags()["name"].to_pylist()) == {"FIC-101.PV", "LIC-101.PV", "TIC-101.PV"}


def test_chunks_keep_global_row_numbers_and_last_write_wins(h, tmp_path):
    lines = ["tag,time,value"]
    for i in range(10):
        lines.append(f"TIC-101.PV,{T0_NS + i * S},{i}" if i != 7 else "TIC-101.PV,x,7")
    lines.append(f"TIC-101.PV,{T0_NS},99")  # a repeat of row 0, later in the file: it wins
    report = import_history(
        h, _write(tmp_path, "\n".join(lines) + "\n"), chunk_rows=3, progress=False
    )
    assert report.rows == 11 and report.written == 10
    assert report.rejected.column("row").to_pylist() == [7]
    values = h.read("TIC-101.PV").column("value").to_pylist()
    assert values[0] == 99 and len(values) == 9


def test_parquet_and_column_names(h, tmp_path):
    table = pa.table(
        {
            "Name": ["TIC-101.PV"] * 3,
            "Timestamp": pa.array([T0_NS, T0_NS + S, T0_NS + 2 * S], pa.timestamp("ns", "UTC")),
            "Val": [1.0, None, 3.0],
            "Status": pa.array([0, q.BAD_SENSOR_FAILURE, 0], pa.uint32()),
        }
    )
    path = tmp_path / "h.parquet"
    pq.write_table(table, path)
    report = import_history(
        h, path, tag="Name", time="Timestamp", value="Val", quality="Status", progress=False
    )
    assert report.ok and report.written == 3
    assert h.read("TIC-101.PV").column("quality").to_pylist() == [0, q.BAD_SENSOR_FAILURE, 0]


def test_pandas_with_times_in_the_index(h):
    idx = pd.date_range("2026-03-01", periods=4, freq="1s", tz="UTC", name="time")
    df = pd.DataFrame({"tag": "TIC-101.PV", "value": [1.0, 2.0, 3.0, 4.0]}, index=idx)
    report = import_history(h, df, progress=False)
    assert report.ok and report.written == 4
    assert h.read("TIC-101.PV").column("time")[0].as_py().timestamp() == T0_NS / S


def test_polars_and_arrow_text_columns(h):
    df = pl.DataFrame(
        {
            "tag": ["TIC-101.PV", "TIC-101.PV"],
            "time": ["2026-03-01 00:00:00", "2026-03-01T01:00:00+01:00"],
            "value": ["1.5", "2.5"],
        }
    )
    report = import_history(h, df, progress=False)
    assert report.ok and report.written == 1  # both rows are the same instant: the last wins
    assert h.read("TIC-101.PV").column("value").to_pylist() == [2.5]


def test_float_times_are_rejected_not_guessed(h):
    table = pa.table({"tag": ["TIC-101.PV"], "time": [1.7e9], "value": [1.0]})
    report = import_history(h, table, progress=False)
    assert report.reasons() == {"unparseable time": 1}
    assert "float" in report.rejected.column("detail")[0].as_py()


def test_missing_column_names_the_columns_there_are(h, tmp_path):
    path = _write(tmp_path, "name,ts,v\nA,0,1\n")
    with pytest.raises(InvalidArgumentError, match=r"no column 'tag'.*name, ts, v.*tag="):
        import_history(h, path, progress=False)
    with pytest.raises(InvalidArgumentError, match="quality=None"):
        import_history(h, path, tag="name", time="ts", value="v", quality="q", progress=False)
    with pytest.raises(InvalidArgumentError, match="format="):
        import_history(h, _write(tmp_path, "x", "data.bin"), progress=False)
    with pytest.raises(InvalidArgumentError, match="no file"):
        import_history(h, tmp_path / "missing.csv", progress=False)


def test_progress_bar_and_a_bigger_file(h, tmp_path, capsys):
    n = 200_000
    t = T0_NS + np.arange(n, dtype=np.int64) * S
    table = pa.table(
        {
            "tag": pa.array(["TIC-101.PV"] * n),
            "time": pa.array(t, pa.timestamp("ns", "UTC")),
            "value": np.sin(np.arange(n) / 100.0),
        }
    )
    import pyarrow.csv as pacsv

    path = tmp_path / "big.csv"
    pacsv.write_csv(table, path)
    report = import_history(h, path, progress=True, chunk_rows=64_000)
    assert report.ok and report.written == n
    assert "importing big.csv" in capsys.readouterr().err
    assert h.read("TIC-101.PV").num_rows == n


def test_top_level_export():
    assert historian.import_history is import_history


def test_semicolon_csv_with_a_bom_and_a_wide_export_melted(h, tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufefftag;time;value\nTIC-101.PV;2026-03-01T00:00:00Z;1.5\n".encode())
    report = import_history(h, path, progress=False)
    assert report.ok and report.written == 1
    wide = pd.DataFrame(
        {
            "time": pd.date_range("2026-03-01 01:00", periods=2, freq="1min"),
            "TIC-101.PV": [1.0, 2.0],
        }
    )
    report = import_history(h, wide.melt(id_vars="time", var_name="tag"), progress=False)
    assert report.ok and report.written == 2


def test_the_report_keeps_at_most_max_rejected_rows_and_counts_all(h, tmp_path):
    import historian.limits as hl

    path = tmp_path / "many-bad.csv"
    path.write_text(
        "tag,time,value\n"
        + "".join(f"NOPE,2026-03-01T00:00:{i:02d}Z,1.0\n" for i in range(50))
        + "TIC-101.PV,2026-03-01T00:01:00Z,nan?\n"
    )
    h.define("TIC-101.PV")
    with hl.using(max_rejected_rows=7):
        report = import_history(h, path, progress=False, chunk_rows=10)
    assert report.rejected.num_rows == 7 and report.rejected_rows == 51
    assert report.rejected.column("row").to_pylist() == list(range(7))  # the first ones
    assert report.reasons() == {"unknown tag": 50, "non-numeric value": 1}  # all, not the 7 kept
    assert not report.ok and "51 rejected" in repr(report)


@pytest.mark.parametrize("damage", ["truncated gzip", "row longer than the block", "bad footer"])
def test_an_unreadable_source_is_invalid_data_with_the_cause(h, tmp_path, damage):
    import gzip

    from historian.errors import InvalidDataError

    if damage == "truncated gzip":
        path = tmp_path / "x.csv.gz"
        data = gzip.compress(b"tag,time,value\n" + b"A,2026-03-01T00:00:00Z,1.0\n" * 1000)
        path.write_bytes(data[: len(data) // 2])
    elif damage == "row longer than the block":
        path = tmp_path / "long.csv"
        path.write_text("tag,time,value\nA,2026-03-01T00:00:00Z," + "1" * (9 << 20) + "\n")
    else:
        path = tmp_path / "bad.parquet"
        path.write_bytes(b"PAR1" + b"\x00" * 64 + b"PAR1")
    with pytest.raises(InvalidDataError, match=path.name) as info:
        import_history(h, path, define=True, progress=False)
    assert info.value.__cause__ is not None
