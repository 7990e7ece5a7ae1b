"""A process for kill -9 tests of annotations and frames: prints each acknowledged write.

Usage: python _annotator_proc.py STORE
Every line "ack a <i>" (annotation i) or "ack f <i>" (frame i) is printed only after the call
returned. The record logs are merged every 8 files (so kills also land inside merges).
"""

from __future__ import annotations

import sys

import historian
from historian.storage import records

T0 = 1_767_225_600_000_000_000
S = 1_000_000_000


def main() -> None:
    records.MERGE_FILES = 8
    h = historian.open(sys.argv[1])
    h.define("TIC-101.PV")
    print("ready", flush=True)
    i = 0
    while True:
        h.annotate("TIC-101.PV", T0 + i * S, f"note {i}", author="op")
        print("ack a", i, flush=True)
        if i % 3 == 0:
            h.add_frame(
                f"B-{i}",
                T0 + i * S,
                T0 + (i + 2) * S,
                asset="Site/Unit1",
                template="Batch",
                attributes={"i": i},
            )
            print("ack f", i, flush=True)
        i += 1


if __name__ == "__main__":
    main()
