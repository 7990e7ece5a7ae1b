"""Soak: replication survives many kill -9 of the sender while the OT store keeps changing.

A writer adds flushed commits (with late data and a compaction now and then) while
``historian replicate SRC DST`` runs as a subprocess and is killed with SIGKILL at random
moments, again and again. At the end one ``--once`` catch-up must leave the IT copy answering
``read``, ``read(as_of=...)``, ``summary`` and SQL over ``points_all`` exactly like the source:
nothing missing, nothing twice. Prints kills, versions and the time spent.

Run:  python benchmarks/bench_replicate_soak.py --kills 200
(the test suite runs the same loop with 10 + 12 kills: tests/gateway/test_replicate_kill.py and
test_replicate_tls.py)
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "gateway"))

from replica_fixtures import (
    assert_same,
    cli,
    kill9,
    late_and_compact,
    newest_version,
    write_versions,
)

import historian


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=200, help="SIGKILLs of the sender (default 200)")
    ap.add_argument("--seed", type=int, default=1)
    # A file is copied whole or redone: with a cap so low that a compacted file takes longer
    # than the time between two kills, the copy stops advancing until the kills stop (measured:
    # at 400 kB/s the copy stalled at the first compaction for 140 kills, then caught up).
    ap.add_argument("--max-bytes-per-s", type=int, default=4_000_000, help="sender's cap")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        ot, it = os.path.join(tmp, "ot.hist"), os.path.join(tmp, "it.hist")
        write_versions(ot, 5, points=1500)
        t0 = time.perf_counter()
        written = 5
        for kill in range(args.kills):
            p = cli(
                "replicate",
                ot,
                it,
                "--poll",
                "0.02",
                "--max-bytes-per-s",
                str(args.max_bytes_per_s),
            )
            try:
                # the OT side keeps changing under the sender: new commits, late data, compaction
                write_versions(ot, 1, start=written, points=1500, seed=kill)
                written += 1
                if kill % 25 == 24:
                    late_and_compact(ot)
                time.sleep(
                    rng.uniform(0.3, 1.5)
                )  # a random moment after start-up: the point of a soak
            finally:
                kill9(p)
            if kill % 20 == 19:
                print(f"{kill + 1} kills: source v{newest_version(ot)}, copy v{newest_version(it)}")
        st = historian.replicate(ot, it, once=True)
        assert st.versions_behind == 0, st
        assert_same(ot, it)
        elapsed = time.perf_counter() - t0
        print(
            f"{args.kills} kills, {newest_version(ot) + 1} versions replicated exactly once "
            f"in {elapsed:.1f} s: the copy equals the source (read, as_of, summary, SQL)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
