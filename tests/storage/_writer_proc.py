"""A writer process for crash tests: writes deterministic points, prints each acknowledged batch.

Usage: python _writer_proc.py STORE SEED
Every line "ack <tag> <first_index> <count>" is printed (and flushed) only after write() returned.
Values are a function of (tag, index) so the test can check them.
"""

from __future__ import annotations

import sys

import numpy as np

import historian

T0 = 1_767_225_600_000_000_000
TAGS = [f"T{i}" for i in range(4)]


def value(tag_no: int, idx: np.ndarray) -> np.ndarray:
    return np.round(tag_no * 1000 + idx * 0.01, 2)


def main() -> None:
    path, seed = sys.argv[1], int(sys.argv[2])
    rng = np.random.default_rng(seed)
    h = historian.open(
        path,
        flush_points=int(rng.integers(200, 3000)),
        flush_seconds=0.2,
        auto_compact_files=int(rng.integers(3, 6)),
        bulk_points=2000,
    )
    for tag in TAGS:
        h.define(tag)
    print("ready", flush=True)
    next_idx = {t: 0 for t in TAGS}
    while True:
        k = int(rng.integers(len(TAGS)))
        tag = TAGS[k]
        n = int(rng.integers(1, 400)) if rng.random() > 0.02 else 2500  # sometimes a bulk write
        start = next_idx[tag]
        idx = np.arange(start, start + n)
        if rng.random() < 0.2 and start > 50:  # late data and duplicates: rewrite an old range
            idx = np.sort(rng.choice(start, min(n, start), replace=False))
        else:
            next_idx[tag] = start + n
        h.write(tag, T0 + idx * 1_000_000_000, value(k, idx))
        print("ack", tag, ",".join(map(str, idx.tolist())), flush=True)
        if rng.random() < 0.05:
            h.compact()


if __name__ == "__main__":
    main()
