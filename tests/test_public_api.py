"""The API reference: every public name is there, documented (numpydoc, with an example), sorted;
and the notebook reprs of a Historian are helpful and cheap."""

from __future__ import annotations

import glob
import inspect
import os
import re
import subprocess
import sys

import pytest

import historian

PUBLIC = [n for n in historian.__all__ if n != "__version__"]  # a str: its doc is str's
EXAMPLES = re.compile(r"^Examples\n-{8,}\n(.*?)(?=^\S.*\n-{3,}\n|\Z)", re.S | re.M)


def _doc(obj) -> str:
    return inspect.getdoc(obj) or ""


def test_all_is_sorted_and_unique():
    assert historian.__all__ == sorted(historian.__all__)
    assert len(set(historian.__all__)) == len(historian.__all__)


@pytest.mark.parametrize("name", historian.__all__)
def test_every_public_name_exists(name):
    assert getattr(historian, name) is not None
    assert name in dir(historian)  # lazy names too: tab completion in a notebook lists them


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_has_a_numpydoc_example(name):
    doc = _doc(getattr(historian, name))
    summary = doc.strip().splitlines()[0] if doc.strip() else ""
    assert summary, f"historian.{name} has no docstring"
    m = EXAMPLES.search(doc)
    assert m, f"historian.{name}: the docstring has no numpydoc 'Examples' section"
    assert ">>>" in m.group(1), f"historian.{name}: the Examples section has no >>> example"


PUBLIC_METHODS = sorted(
    n for n, v in inspect.getmembers(historian.Historian)
    if not n.startswith("_") and (callable(v) or isinstance(v, property))
)  # fmt: skip


@pytest.mark.parametrize("name", PUBLIC_METHODS)
def test_every_historian_method_has_an_example(name):
    doc = _doc(getattr(historian.Historian, name))
    assert doc.strip(), f"Historian.{name} has no docstring"
    assert EXAMPLES.search(doc), f"Historian.{name}: no numpydoc 'Examples' section"


def test_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+([.-]?\w+)?", historian.__version__)


def test_import_historian_stays_light():
    code = (
        "import sys, historian\n"
        "heavy = [m for m in ('duckdb', 'pandas', 'polars', 'asyncua', 'pymodbus', 'numba',"
        " 'matplotlib', 'deltalake') if m in sys.modules]\n"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


# ---------------------------------------------------------------------------- notebook reprs
@pytest.fixture
def store(tmp_path):
    path = tmp_path / "plant.hist"
    with historian.open(path) as h:
        h.define("TIC-101.PV", unit="degC")
        h.define("FIC-101.PV", unit="m3/h")
        t = [f"2026-01-01T00:{m:02d}:00Z" for m in range(60)]
        h.write("TIC-101.PV", t, [float(i) for i in range(60)])
        h.flush()
        h.write("FIC-101.PV", ["2026-01-01T02:00:00Z"], [1.0])  # not flushed yet
        yield h


def test_repr_of_a_writer(store):
    text = repr(store)
    assert text.startswith(f"Historian({store.path!r}, writer): 2 tags, 61 points "
                           "(1 not yet in files)")  # fmt: skip
    assert "2026-01-01 00:00:00 -> 2026-01-01 00:59:00 UTC (59min)" in text
    assert re.search(r"1 file, [\d.]+ kB", text)


def test_repr_of_a_reader_and_its_html(store):
    with historian.open(store.path, mode="r") as r:
        text = repr(r)
        # the point still in the writer's WAL is counted: the reader's reads return it
        assert "read-only): 2 tags, 61 points (1 not yet in files)" in text
        page = r._repr_html_()
    for part in (
        "<table>",
        "path",
        store.path,
        "read-only",
        "FIC-101.PV, TIC-101.PV",
        "time span",
        "bytes/row",
        "on disk",
    ):
        assert part in page
    store.close()
    assert repr(store) == f"Historian({store.path!r}, closed)"
    assert "closed" in store._repr_html_()


def test_repr_of_an_empty_store_says_what_to_do(tmp_path):
    with historian.open(tmp_path / "new.hist") as h:
        assert repr(h).endswith("0 tags, 0 points, 0 files, 0 B")
        assert "h.define(name, unit=...)" in h._repr_html_()


def test_repr_and_info_count_a_corrected_point_once(store):
    store.write("TIC-101.PV", ["2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"], [100.0, 101.0])
    store.flush()  # two corrections: rows in files, not new points
    info = store.info()
    assert info["points_in_files"] == 63 and info["points"] == 61 and info["points_exact"]
    assert "2 tags, 61 points, " in repr(store)
    assert store.read().num_rows == 61
    with historian.open(store.path, mode="r") as r:
        assert "61 points" in repr(r) and "61 points" in r._repr_html_()


def test_reprs_of_a_store_whose_data_files_are_gone_still_work(store):
    store.close()
    for f in glob.glob(os.path.join(store.path, "points", "day=*", "*.parquet")):
        os.unlink(f)
    with historian.open(store.path, mode="r") as r:
        assert "61 rows" in repr(r)  # counted from the commit log: the files cannot be read
        assert "61 rows" in r._repr_html_()
        assert r.info()["health"] == "damaged"
