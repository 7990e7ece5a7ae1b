"""A writer of text points for the kill -9 test; prints each acknowledged batch.

Usage: python _text_writer_proc.py STORE
Every line "ack <first_index> <count>" is printed (and flushed) only after write() returned.
The text of point ``i`` is :func:`text_of` (i), so the test can check every acknowledged one.
"""

from __future__ import annotations

import sys

import numpy as np

import historian

T0 = 1_767_225_600_000_000_000
TAG = "BATCH.ID"


def text_of(i: int) -> str:
    return f"B-{i:06d} é\u2603 {'x' * (i % 7)}"


def main() -> None:
    # background=False: the flushes and compactions run inside write(), so 60 acknowledged
    # writes mean files exist when the test kills this process
    h = historian.open(
        sys.argv[1], flush_points=700, flush_seconds=0.1, auto_compact_files=3, background=False
    )
    h.define_many({TAG: {"type": "string"}})
    print("ready", flush=True)
    i = 0
    while True:
        n = 1 + i % 97
        idx = np.arange(i, i + n)
        h.write(TAG, T0 + idx * 1_000_000_000, [text_of(int(k)) for k in idx])
        print("ack", i, n, flush=True)
        i += n


if __name__ == "__main__":
    main()
