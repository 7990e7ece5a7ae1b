"""kill -9 of the sender at random moments (mid-file, between file and commit, after a commit):
the copy resumes from its newest complete version and ends equal to the source, nothing twice."""

from __future__ import annotations

import os
import random

from replica_fixtures import (
    assert_same,
    cli,
    kill9,
    late_and_compact,
    newest_version,
    wait_for,
    write_versions,
)

import historian


def _partial(it: str) -> bool:
    try:  # the copier removes the folder when a version is complete: no isdir-then-listdir race
        return bool(os.listdir(os.path.join(it, "tmp", "replicate")))
    except FileNotFoundError:
        return False


def test_sender_killed_ten_times_at_random(tmp_path):
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    # enough versions that ten kills (up to 4 versions each) never reach the newest one
    write_versions(ot, 60, points=1500)
    late_and_compact(ot)
    newest = newest_version(ot)
    rng = random.Random(15)
    kills = 0
    while kills < 10 and newest_version(it) < newest:
        # slow enough that a kill lands inside a file as often as between versions
        p = cli("replicate", ot, it, "--poll", "0.05", "--max-bytes-per-s", "150000")
        try:
            if kills % 2:
                # a partial file of a newer version than the last complete one; with only the
                # newest left, a partial file of it (nothing newer can become complete first)
                at = min(newest_version(it) + 1, newest - 1)
                wait_for(lambda at=at, p=p: (_partial(it) and newest_version(it) >= at)
                         or p.poll() is not None, what="a file half-copied")  # fmt: skip
            else:
                target = min(newest, newest_version(it) + rng.randint(1, 4))
                wait_for(lambda target=target, p=p: newest_version(it) >= target
                         or p.poll() is not None, what=f"version {target}")  # fmt: skip
        finally:
            kill9(p)
        kills += 1
    assert kills == 10, "the source was copied before ten kills: make it bigger"
    st = historian.replicate(ot, it, once=True)
    assert st.versions_behind == 0 and st.replicated_version == newest
    assert not _partial(it)
    assert_same(ot, it)
