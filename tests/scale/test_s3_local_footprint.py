"""Opening an ``s3://`` store creates no stray local folder (issue 10, item 5).

A relative ``s3:`` folder in the working directory (``os.makedirs("s3://bucket/...")``) was a
real bug: a store on object storage must touch the local disk only in the ``local_dir`` the
caller named (the writer's WAL and temp files), and a reader not even there.
"""

from __future__ import annotations

import os

import historian


def _tree(folder) -> set[str]:
    return {os.path.relpath(os.path.join(d, n), folder)
            for d, dirs, files in os.walk(folder) for n in dirs + files}  # fmt: skip


def test_reader_and_writer_create_nothing_outside_local_dir(s3_uri, s3_options, tmp_path,
                                                           monkeypatch):  # fmt: skip
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    local = tmp_path / "local"
    with historian.open(s3_uri, storage_options=s3_options, local_dir=str(local)) as h:
        h.define("A")
        h.write("A", [0, 10**9], [1.0, 2.0])
        h.flush()
    assert _tree(cwd) == set()
    written = _tree(tmp_path)
    reader_local = tmp_path / "reader-local"
    with historian.open(s3_uri, mode="r", storage_options=s3_options,
                        local_dir=str(reader_local)) as r:  # fmt: skip
        assert r.read("A").column("value").to_pylist() == [1.0, 2.0]
    assert _tree(cwd) == set()
    assert _tree(tmp_path) == written  # the reader wrote nothing locally, not even its local_dir
