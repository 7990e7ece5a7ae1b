"""Diode mode through a loopback UDP relay that drops, duplicates, reorders and damages
datagrams: the copy applies only whole, verified commits, names the missing versions, and the
sender's periodic resend heals the gaps."""

from __future__ import annotations

import random
import socket
import threading

import pytest
from replica_fixtures import (
    T0,
    assert_same,
    late_and_compact,
    newest_version,
    wait_for,
    write_versions,
)

import historian
from historian.gateway.diode import (
    SIDE_BASE,
    DiodeReceiver,
    DiodeSender,
    _with_manifest,
    datagrams,
    parse_datagram,
)


class Relay:
    """127.0.0.1 UDP relay: forwards to ``port`` with drops, duplicates, reordering, bit flips;
    ``block`` drops every datagram of the versions it holds."""

    def __init__(self, port: int, loss: float = 0.03, seed: int = 1) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.to = ("127.0.0.1", port)
        self.loss, self.rng = loss, random.Random(seed)
        self.block: set[int] = set()
        self.block_side = False  # drop every side bundle (catalogs, annotation/frame files)
        self.seen = {"dropped": 0, "duplicated": 0, "reordered": 0, "flipped": 0}
        self._stop = threading.Event()
        self._held: bytes | None = None
        self._out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                d = self.sock.recv(65536)
            except TimeoutError:
                continue
            got = parse_datagram(d)
            side = got is not None and got[0] >= SIDE_BASE
            if got is not None and (got[0] in self.block or (self.block_side and side)):
                continue
            r = self.rng.random()
            if r < self.loss:
                self.seen["dropped"] += 1
                continue
            if r < 2 * self.loss:
                self.seen["duplicated"] += 1
                self._out.sendto(d, self.to)
            elif r < 3 * self.loss and self._held is None:
                self.seen["reordered"] += 1
                self._held = d  # sent after the next one
                continue
            elif r < 3.5 * self.loss:
                self.seen["flipped"] += 1
                i = self.rng.randrange(len(d))
                d = d[:i] + bytes([d[i] ^ 0x10]) + d[i + 1 :]
            self._out.sendto(d, self.to)
            if self._held is not None:
                self._out.sendto(self._held, self.to)
                self._held = None

    def close(self) -> None:
        self._stop.set()
        self.thread.join()
        self.sock.close()
        self._out.close()


@pytest.fixture
def diode(tmp_path):
    rcv = DiodeReceiver(str(tmp_path / "it.hist"), "udp://127.0.0.1:0")
    t = threading.Thread(target=rcv.serve_forever)
    t.start()
    relay = Relay(rcv.port)
    yield rcv, relay
    relay.close()
    rcv.close()
    t.join()


def test_datagrams_carry_checksums():
    (d,) = datagrams(7, 2, b"abc")
    assert parse_datagram(d) == (7, 2, 0, 1, b"abc")
    assert parse_datagram(d[:-1] + b"x") is None
    assert parse_datagram(b"junk") is None


def test_lossy_relay_and_resend_give_an_exact_copy(tmp_path, diode):
    rcv, relay = diode
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    write_versions(ot, 8, points=1000)
    late_and_compact(ot)
    newest = newest_version(ot)
    relay.block = {3}  # version 3 lost entirely on the first pass
    s = DiodeSender(ot, f"udp://127.0.0.1:{relay.port}", resend_s=0.3, poll_s=0.05,
                    max_bytes_per_s=4_000_000)  # fmt: skip
    try:
        s.send_new()
        wait_for(lambda: rcv.highest_seen == newest and 3 in rcv.missing(), what="the gap")
        assert rcv.newest <= 2  # nothing after the gap is applied before it
        relay.block = set()
        t = threading.Thread(target=s.run)
        t.start()
        try:
            wait_for(lambda: rcv.newest == newest, timeout=60, what="the copy to catch up")
        finally:
            s.stop()
            t.join()
    finally:
        s.close()
    assert rcv.missing() == []
    assert relay.seen["dropped"] and relay.seen["duplicated"] and relay.seen["reordered"]
    assert_same(ot, it)


def test_cli_diode_end_to_end_with_a_receiver_killed_once(tmp_path):
    from replica_fixtures import cli, kill9

    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    write_versions(ot, 6)
    newest = newest_version(ot)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    recv = ("receive", it, "--diode", f"udp://127.0.0.1:{port}")
    receiver = cli(*recv)
    sender = cli("replicate", ot, f"udp://127.0.0.1:{port}", "--diode", "--poll", "0.05",
                 "--resend", "0.2", "--max-bytes-per-s", "2000000")  # fmt: skip
    try:
        wait_for(lambda: newest_version(it) >= 2, what="version 2")
        kill9(receiver)  # the sender never notices: its resends heal what was lost
        write_versions(ot, 2, start=6)
        newest = newest_version(ot)
        receiver = cli(*recv)
        wait_for(lambda: newest_version(it) == newest, timeout=60, what="the copy")
    finally:
        kill9(sender)
        kill9(receiver)
    assert_same(ot, it)


def _notes_model_and_frame(path: str, k: int) -> None:
    with historian.open(path) as h:
        h.annotate("TIC-101.PV", int(T0.astype("int64")) + k * 10**9, f"note {k}", author="op")
        h.add_frame(f"B-{k}", int(T0.astype("int64")), int(T0.astype("int64")) + 60 * 10**9,
                    asset="Site/R1", attributes={"k": k})  # fmt: skip
        h.assets.add(f"Site/R{k}", level="unit")


def _same_side(ot: str, it: str) -> None:
    with historian.open(ot, mode="r") as a, historian.open(it, mode="r") as b:
        assert a.annotations().equals(b.annotations())
        assert a.frames().equals(b.frames())
        assert a.assets.to_toml() == b.assets.to_toml()


def test_annotations_frames_and_model_edits_cross_without_a_commit(tmp_path, diode):
    rcv, relay = diode
    relay.loss = 0.0
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    write_versions(ot, 2)
    _notes_model_and_frame(ot, 1)
    s = DiodeSender(ot, f"udp://127.0.0.1:{relay.port}", poll_s=0.05)
    try:
        newest = s.send_new()
        wait_for(lambda: rcv.newest == newest and len(rcv._side_applied) == 1, what="the copy")
        _same_side(ot, it)
        _notes_model_and_frame(ot, 2)  # no new points: only a side bundle carries them
        assert s.send_new() == newest and rcv.newest == newest
        wait_for(lambda: len(rcv._side_applied) == 2, what="the second side bundle")
        _same_side(ot, it)
        assert s.send_side() is False  # nothing changed: nothing sent
    finally:
        s.close()


def test_a_lost_side_bundle_heals_by_the_resend(tmp_path, diode):
    rcv, relay = diode
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    write_versions(ot, 2)
    _notes_model_and_frame(ot, 1)
    relay.block_side = True
    s = DiodeSender(ot, f"udp://127.0.0.1:{relay.port}", poll_s=0.05, repeat=2)
    try:
        newest = s.send_new()
        wait_for(lambda: rcv.newest == newest, what="the points")
        with historian.open(it, mode="r") as b:
            assert b.annotations().num_rows == 0
        relay.block_side = False
        s.resend()
        wait_for(lambda: len(rcv._side_applied) == 1, what="the resent side bundle")
    finally:
        s.close()
    _same_side(ot, it)


def test_an_older_side_bundle_arriving_late_keeps_the_newer_catalog(tmp_path):
    rcv = DiodeReceiver(str(tmp_path / "it.hist"), "udp://127.0.0.1:0")
    try:

        def send(seq: int, data: bytes) -> None:
            for obj, payload in enumerate(_with_manifest([("aux", "tags.json", data)], "t-1")):
                for d in datagrams(seq, obj, payload):
                    rcv.handle(d)

        send(SIDE_BASE + 20, b'{"new": 1}')
        send(SIDE_BASE + 10, b'{"old": 1}')  # sent earlier, delayed on the way
        assert (tmp_path / "it.hist" / "tags.json").read_bytes() == b'{"new": 1}'
        send(SIDE_BASE + 20, b'{"new": 1}')  # a resend of a bundle already written: skipped
        assert rcv._side_applied == {SIDE_BASE + 10, SIDE_BASE + 20}
        assert rcv.missing() == [] and rcv.highest_seen == -1  # side bundles are no versions
    finally:
        rcv.close()
