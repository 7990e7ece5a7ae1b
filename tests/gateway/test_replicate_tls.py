"""The TLS receiver: mTLS pushes, refusals (no client certificate, another CA, TLS 1.2, a
request for data), and kill -9 of the sender and of the receiver at random moments."""

from __future__ import annotations

import json
import random
import socket
import ssl
import threading

import pytest
from replica_fixtures import (
    assert_same,
    clean_up_early_log,
    cli,
    free_port,
    kill9,
    late_and_compact,
    listening,
    newest_version,
    wait_for,
    write_versions,
)

import historian
from historian.acquisition.pki import make_pki
from historian.errors import StoreError
from historian.gateway import protocol
from historian.gateway.receive import Receiver


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    good = make_pki(tmp_path_factory.mktemp("pki"))
    other = make_pki(tmp_path_factory.mktemp("other"), ca_name="another CA")
    return good, other


@pytest.fixture
def receiver(tmp_path, pki):
    good, _ = pki
    r = Receiver(str(tmp_path / "it.hist"), "127.0.0.1", 0, cert=good["server_cert"],
                 key=good["server_key"], client_ca=good["ca_cert"], timeout=10)  # fmt: skip
    t = threading.Thread(target=r.serve_forever)
    t.start()
    yield r
    r.close()
    t.join()


def _tls(pki_paths):
    return {"tls_cert": pki_paths["client_cert"], "tls_key": pki_paths["client_key"],
            "tls_ca": pki_paths["ca_cert"]}  # fmt: skip


def test_push_over_mtls_gives_an_exact_copy(tmp_path, pki, receiver):
    ot = str(tmp_path / "ot.hist")
    write_versions(ot, 5)
    dst = f"tls://localhost:{receiver.port}"
    st = historian.replicate(ot, dst, once=True, **_tls(pki[0]))
    assert st.versions_behind == 0
    late_and_compact(ot)
    st = historian.replicate(ot, dst, once=True, **_tls(pki[0]))
    assert st.replicated_version == newest_version(ot)
    assert_same(ot, str(tmp_path / "it.hist"))


def _raw_client(port, ctx):
    raw = socket.create_connection(("localhost", port), timeout=10)
    try:
        return ctx.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise


def _refused(port, ctx) -> bool:
    """The handshake fails, or the first read finds the connection closed (TLS 1.3 checks the
    client certificate after the client's handshake has finished)."""
    try:
        s = _raw_client(port, ctx)
    except (ssl.SSLError, OSError):
        return True
    with s:
        try:
            protocol.send(s, {"op": "hello", "table_id": "x"})
            protocol.recv(s, ("resume",))
        except (ssl.SSLError, OSError):
            return True
    return False


def test_receiver_refuses_senders_without_a_valid_client_certificate(tmp_path, pki, receiver):
    good, other = pki
    no_cert = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    no_cert.load_verify_locations(good["ca_cert"])
    assert _refused(receiver.port, no_cert)
    wrong_ca = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    wrong_ca.load_verify_locations(good["ca_cert"])
    wrong_ca.load_cert_chain(other["client_cert"], other["client_key"])
    assert _refused(receiver.port, wrong_ca)
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(good["ca_cert"])
    old.load_cert_chain(good["client_cert"], good["client_key"])
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    assert _refused(receiver.port, old)
    wait_for(lambda: receiver.refused >= 3, what="three refusals counted")
    ot = str(tmp_path / "ot.hist")
    write_versions(ot, 1)
    with pytest.raises(StoreError, match=r"TLS handshake|went away"):  # sender: receiver unknown
        historian.replicate(ot, f"tls://localhost:{receiver.port}", once=True, **_tls(other))
    assert newest_version(str(tmp_path / "it.hist")) == -1


def test_receiver_never_serves_data(tmp_path, pki, receiver):
    good, _ = pki
    ot = str(tmp_path / "ot.hist")
    write_versions(ot, 2)
    historian.replicate(ot, f"tls://localhost:{receiver.port}", once=True, **_tls(good))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(good["ca_cert"])
    ctx.load_cert_chain(good["client_cert"], good["client_key"])
    for ask in ({"op": "get", "path": "tags.json"}, {"op": "read", "version": 0},
                {"op": "aux", "path": "../../etc/passwd", "size": 0}):  # fmt: skip
        with _raw_client(receiver.port, ctx) as s:
            from deltalake import DeltaTable

            tid = DeltaTable(f"{ot}/points").metadata().id
            protocol.send(s, {"op": "hello", "table_id": tid})
            assert set(protocol.recv(s, ("resume",))) == {"op", "version", "sha256"}
            protocol.send(s, ask)
            reply = protocol.recv(s, ("error",))  # an error frame, nothing else
            assert set(reply) == {"op", "message"} and "TIC-101" not in json.dumps(reply)
            assert s.recv(1) == b""  # and the connection is closed
    assert_same(ot, str(tmp_path / "it.hist"))


def test_sender_and_receiver_killed_at_random(tmp_path, pki):
    good, _ = pki
    ot, it = str(tmp_path / "ot.hist"), str(tmp_path / "it.hist")
    write_versions(ot, 30, points=1500)
    late_and_compact(ot)
    newest = newest_version(ot)
    port = free_port()
    recv_args = (
        "receive",
        it,
        "--listen",
        f"127.0.0.1:{port}",
        "--tls-cert",
        good["server_cert"],
        "--tls-key",
        good["server_key"],
        "--tls-ca",
        good["ca_cert"],
    )
    send_args = ("replicate", ot, f"tls://localhost:{port}", "--poll", "0.05",
                 "--max-bytes-per-s", "150000", "--tls-cert", good["client_cert"],
                 "--tls-key", good["client_key"], "--tls-ca", good["ca_cert"])  # fmt: skip
    rng = random.Random(7)
    kills = {"sender": 0, "receiver": 0}
    receiver = sender = None
    try:
        while min(kills.values()) < 6:
            assert newest_version(it) < newest, f"copied before enough kills: {kills}"
            if receiver is None:
                receiver = cli(*recv_args)
                wait_for(lambda r=receiver: listening(port) or r.poll() is not None, what="listen")
            if sender is None:
                sender = cli(*send_args)
            target = min(newest, newest_version(it) + rng.randint(1, 2))
            wait_for(lambda t=target, s=sender: newest_version(it) >= t or s.poll() is not None,
                     what=f"version {target}")  # fmt: skip
            victim = "sender" if kills["sender"] <= kills["receiver"] else "receiver"
            if victim == "sender":
                kill9(sender)
                sender = None
            else:
                kill9(receiver)
                receiver = None
            kills[victim] += 1
        if receiver is None:
            receiver = cli(*recv_args)
            wait_for(lambda: listening(port), what="listen")
        if sender is not None:
            kill9(sender)
            sender = None
        st = historian.replicate(ot, f"tls://localhost:{port}", once=True, **_tls(good))
        assert st.replicated_version == newest
    finally:
        for p in (sender, receiver):
            if p is not None:
                kill9(p)
    assert_same(ot, it)


def test_a_receiver_is_seeded_from_a_checkpoint_when_the_early_log_is_gone(tmp_path, pki,
                                                                           receiver):  # fmt: skip
    ot = str(tmp_path / "ot.hist")
    write_versions(ot, 51, points=20)
    clean_up_early_log(ot)
    st = historian.replicate(ot, f"tls://localhost:{receiver.port}", once=True, **_tls(pki[0]))
    assert st.versions_behind == 0 and st.replicated_version == newest_version(ot)
    assert_same(ot, str(tmp_path / "it.hist"))
