"""Read pins on object storage: a reader process on another "host" of an S3 store publishes
``readers/<token>.pin`` as an object, and the writer's vacuum leaves what it holds."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

import historian
from historian import testing
from historian.storage.fs import StoreFS

T0 = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
S = 1_000_000_000

_STREAMING_READER = """
import json, sys, historian
uri, options, local = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
with historian.open(uri, mode="r", storage_options=options, local_dir=local) as r:
    batches = r.read_batches("A", batch_rows=10)
    first = next(batches)
    print("held", flush=True)
    sys.stdin.readline()
    print(first.num_rows + sum(b.num_rows for b in batches), flush=True)
"""


def test_an_s3_reader_s_pin_keeps_its_files_until_its_stream_ends(s3_uri, s3_options, tmp_path):
    fs = StoreFS.from_uri(s3_uri, s3_options)
    with historian.open(
        s3_uri, storage_options=s3_options, local_dir=str(tmp_path / "w"),
        auto_compact_files=0, background=False,
    ) as h:  # fmt: skip
        h.define("A")
        for i in range(3):
            h.write("A", T0 + (np.arange(10) + 10 * i) * S, np.full(10, float(i)))
            h.flush()
        old = list(testing.commit_log(h).snapshot().paths)
        reader = subprocess.Popen(
            [sys.executable, "-c", _STREAMING_READER, s3_uri, json.dumps(s3_options),
             str(tmp_path / "r")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert reader.stdout.readline().strip() == "held"
            assert len(fs.list("readers")) == 1  # the pin, an object next to the data
            assert h.compact() == 3
            h.write("A", [T0 + 100 * S], [9.0])
            h.flush()
            assert testing.commit_log(h).vacuum(0) == []  # the reader's snapshot lists them
            assert all(fs.exists(f"points/{p}") for p in old)
            out, err = reader.communicate("go\n", timeout=120)
        finally:
            reader.kill()
            reader.wait()
        assert reader.returncode == 0, err
        assert out.strip() == "30"
        assert fs.list("readers") == []  # removed when the reader closed
        assert sorted(testing.commit_log(h).vacuum(0)) == sorted(old)
        assert not any(fs.exists(f"points/{p}") for p in old)
        assert h.read("A").num_rows == 31
