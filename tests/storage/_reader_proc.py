"""A reader process: reads a store in a loop while another process writes it.

Usage: python _reader_proc.py STORE SECONDS
Prints one JSON line: reads, failures (with the first errors), and the largest row count seen.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

import historian


def main() -> None:
    path, seconds = sys.argv[1], float(sys.argv[2])
    reads = failures = 0
    errors: list[str] = []
    seen_max = 0
    last_counts: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    h = historian.open(path, mode="r")
    while time.monotonic() < deadline:
        try:
            t = h.read()
            tags = t.column("tag").to_numpy(zero_copy_only=False)
            times = t.column("time").cast("int64").to_numpy()
            values = t.column("value").to_numpy()
            for tag in np.unique(tags):
                m = tags == tag
                tt = times[m]
                if np.any(np.diff(tt) <= 0):
                    raise AssertionError(f"{tag}: times not strictly increasing")
                # The writer only appends: what was visible stays visible.
                if m.sum() < last_counts.get(tag, 0):
                    raise AssertionError(
                        f"{tag}: {m.sum()} rows after {last_counts[tag]} were visible"
                    )
                last_counts[tag] = int(m.sum())
                if not np.array_equal(values[m], np.round((tt - tt[0] * 0) / 1e9 % 1000, 3)):
                    raise AssertionError(f"{tag}: wrong values")
            seen_max = max(seen_max, t.num_rows)
            reads += 1
        except Exception as exc:
            failures += 1
            if len(errors) < 5:
                errors.append(f"{type(exc).__name__}: {exc}")
    print(
        json.dumps({"reads": reads, "failures": failures, "errors": errors, "max_rows": seen_max})
    )


if __name__ == "__main__":
    main()
