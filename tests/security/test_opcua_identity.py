"""OPC UA server identity against hostile asyncua servers on 127.0.0.1 (issue 10, item 3).

Each test starts a real server (tests/acquisition/opcua_servers.py) that plays the attacker:
an impostor with a CA-signed certificate for another host, a server presenting our own client
certificate, a server asking for the password in clear, servers refusing our certificate, and a
raw endpoint that floods the client before any certificate check. The servers' user managers
record every user name/password presented, so "refused before the password was sent" is
checked on the server side, not assumed.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import stat
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acquisition"))

from opcua_servers import FloodServer, UaServer, free_port

from historian.acquisition.config import OpcUaPoint, OpcUaSourceConfig, loads
from historian.acquisition.opcua import OpcUaSource, abrowse
from historian.acquisition.opcua_security import certificate_thumbprint
from historian.acquisition.pki import (
    SERVER_URI,
    load_ca,
    load_certificate,
    make_cert,
    make_pki,
    usages,
)
from historian.cli import main
from historian.errors import (
    ConfigError,
    InvalidArgumentError,
    SourceProtocolError,
    SourceSecurityError,
)

USER, SECRET = "historian", "s3cr3t-Pa55word!"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A deployment folder and, apart from it, the CA folder with the CA private key."""
    root = tmp_path_factory.mktemp("pki")
    return make_pki(root / "deploy", ca_folder=root / "ca")


@pytest.fixture(scope="module")
def impostor(pki, tmp_path_factory):
    """A certificate for another host (other-plc.example / 10.9.9.9), signed by the trusted CA,
    with the genuine server's ApplicationUri: only the host name gives it away."""
    cert = make_cert(load_ca(Path(pki["ca_key"]).parent), "other plc", uris=(SERVER_URI,),
                     dns=("other-plc.example",), ips=("10.9.9.9",), usage="server")  # fmt: skip
    paths = cert.write(tmp_path_factory.mktemp("impostor"), "server")
    return {**pki, "server_cert_der": paths["cert_der"], "server_key": paths["key"]}


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv("SEC_OPCUA_USER", USER)
    monkeypatch.setenv("SEC_OPCUA_PASSWORD", SECRET)
    return {"username_env": "SEC_OPCUA_USER", "password_env": "SEC_OPCUA_PASSWORD"}


def cfg_for(server_url: str, pki: dict[str, str], **kw) -> OpcUaSourceConfig:
    base = dict(name="line1", url=server_url, every_s=0.05, timeout_s=2.0,
                points=(OpcUaPoint("L1.Temp", "nsu=urn:historian:test;s=Line1.Temp"),),
                certificate=Path(pki["client_cert_der"]), private_key=Path(pki["client_key"]),
                trust=Path(pki["trusted"]))  # fmt: skip
    base.update(kw)
    return OpcUaSourceConfig(**base)


async def connect_read(cfg: OpcUaSourceConfig) -> float:
    src = OpcUaSource(cfg)
    await src.connect()
    try:
        return float((await src.read()).values[0])
    finally:
        await src.disconnect()


def run_with(server: UaServer, body):
    async def main_():
        await server.start()
        try:
            return await body(server)
        finally:
            await server.stop()

    return asyncio.run(main_())


# --------------------------------------------------------------------------- the PKI
def test_pki_issues_single_purpose_leaves_and_keeps_the_ca_key_apart(pki, tmp_path):
    assert usages(load_certificate(pki["server_cert"])) == ["serverAuth"]
    assert usages(load_certificate(pki["client_cert"])) == ["clientAuth"]
    deploy = Path(pki["trusted"]).parent
    ca_key = Path(pki["ca_key"])
    assert deploy not in ca_key.parents
    assert stat.S_IMODE(ca_key.stat().st_mode) == 0o600
    assert stat.S_IMODE(ca_key.parent.stat().st_mode) == 0o700
    ca_secret = ca_key.read_bytes().splitlines()[1]  # a line of the CA key's base64
    files = [f for f in deploy.rglob("*") if f.is_file()]
    assert files and not any(ca_secret in f.read_bytes() for f in files)
    assert sorted(f.name for f in files if b"PRIVATE KEY" in f.read_bytes()) == [
        "client-key.pem",
        "server-key.pem",
    ]
    plain = make_pki(tmp_path / "plain")  # without ca_folder the CA key is never written
    assert "ca_key" not in plain and not list((tmp_path / "plain").glob("ca-key*"))
    with pytest.raises(InvalidArgumentError, match="inside the deployment folder"):
        make_pki(tmp_path / "d", ca_folder=tmp_path / "d" / "ca")
    # a key path that is a symlink is refused, the link target untouched
    target = tmp_path / "elsewhere.pem"
    target.write_bytes(b"keep")
    (tmp_path / "ln").mkdir()
    os.symlink(target, tmp_path / "ln" / "client-key.pem")
    with pytest.raises(OSError, match="symbolic link"):
        make_pki(tmp_path / "ln")
    assert target.read_bytes() == b"keep"


# --------------------------------------------------------------------------- impostors
def test_impostor_for_another_host_is_refused_before_credentials(pki, impostor, creds):
    server = UaServer(free_port(), pki=impostor, users={USER: SECRET})

    async def body(s):
        with pytest.raises(SourceSecurityError, match=r"not issued for 127\.0\.0\.1 .*"
                           r"other-plc\.example, 10\.9\.9\.9"):  # fmt: skip
            await connect_read(cfg_for(s.url, pki, **creds))
        assert s.user_manager.seen == []  # the impostor never saw the user name or password
        # the same certificate is accepted when its host is not checked but it is pinned
        thumb = certificate_thumbprint(load_certificate(impostor["server_cert_der"]))
        await connect_read(cfg_for(s.url, pki, verify_server_host=False, server_thumbprint=thumb,
                                   **creds))  # fmt: skip
        assert s.user_manager.seen == [(USER, SECRET)]

    run_with(server, body)
    with pytest.raises(SourceSecurityError, match="verify_server_host: false needs"):
        OpcUaSource(cfg_for("opc.tcp://127.0.0.1:1", pki, verify_server_host=False))


def test_our_client_certificate_cannot_pose_as_a_server(pki, creds):
    as_server = {**pki, "server_cert_der": pki["client_cert_der"], "server_key": pki["client_key"]}
    server = UaServer(free_port(), pki=as_server, users={USER: SECRET},
                      application_uri="urn:historian:client")  # fmt: skip

    async def body(s):
        with pytest.raises(SourceSecurityError, match="without the serverAuth extended key usage"):
            await connect_read(cfg_for(s.url, pki, **creds))
        assert s.user_manager.seen == []

    run_with(server, body)


def test_pins_on_application_uri_and_thumbprint(pki, creds):
    genuine = certificate_thumbprint(load_certificate(pki["server_cert_der"]))
    other = certificate_thumbprint(load_certificate(pki["client_cert_der"]))
    server = UaServer(free_port(), pki=pki, users={USER: SECRET})

    async def body(s):
        await s.write("Temp", 21.5)
        colons = ":".join(genuine[i : i + 2] for i in range(0, 64, 2)).upper()
        for ok in ({"server_uri": SERVER_URI}, {"server_thumbprint": genuine},
                   {"server_thumbprint": colons, "server_uri": SERVER_URI}):  # fmt: skip
            assert await connect_read(cfg_for(s.url, pki, **ok, **creds)) == 21.5
        assert len(s.user_manager.seen) == 3
        with pytest.raises(SourceSecurityError, match="not the pinned server_uri"):
            await connect_read(cfg_for(s.url, pki, server_uri="urn:plant:other", **creds))
        with pytest.raises(SourceSecurityError, match="does not match server_thumbprint"):
            await connect_read(cfg_for(s.url, pki, server_thumbprint=other, **creds))
        assert len(s.user_manager.seen) == 3  # nothing sent to the unpinned server

    run_with(server, body)
    with pytest.raises(SourceSecurityError, match="server_thumbprint: not a SHA-256"):
        OpcUaSource(cfg_for("opc.tcp://127.0.0.1:1", pki, server_thumbprint="abc"))
    text = ('[store]\npath = "s"\n[[opcua]]\nname = "r"\nurl = "opc.tcp://h:1"\n'
            'certificate = "c"\nprivate_key = "k"\ntrust = "t"\n'
            f'server_uri = "{SERVER_URI}"\nserver_thumbprint = "{genuine}"\n'
            '[[opcua.points]]\ntag = "A"\nnode = "ns=2;i=1"\n')  # fmt: skip
    cfg = loads(text).opcua[0]
    assert (cfg.server_uri, cfg.server_thumbprint, cfg.verify_server_host) == (
        SERVER_URI,
        genuine,
        True,
    )


# --------------------------------------------------------------------------- passwords
def test_sign_mode_with_a_plaintext_token_policy_refuses_the_password(pki, creds, caplog):
    server = UaServer(free_port(), pki=pki, users={USER: SECRET}, plaintext_user_tokens=True)

    async def body(s):
        sign = cfg_for(s.url, pki, security_mode="Sign", **creds)
        with pytest.raises(SourceSecurityError, match="password would cross the network readable"):
            await connect_read(sign)
        assert s.user_manager.seen == []
        # SignAndEncrypt: the channel encrypts the token, so a None token policy is fine
        await connect_read(cfg_for(s.url, pki, **creds))
        # explicitly allowed: sent, and the server indeed received it in clear
        await connect_read(dataclasses.replace(sign, allow_plaintext_password=True))
        assert s.user_manager.seen == [(USER, SECRET), (USER, SECRET)]

    with caplog.at_level(logging.DEBUG):
        run_with(server, body)
    assert SECRET not in caplog.text


def test_sign_mode_with_an_encrypted_token_sends_the_password(pki, creds):
    server = UaServer(free_port(), pki=pki, users={USER: SECRET})  # asyncua encrypts the token

    async def body(s):
        await connect_read(cfg_for(s.url, pki, security_mode="Sign", **creds))
        assert s.user_manager.seen == [(USER, SECRET)]

    run_with(server, body)


# --------------------------------------------------------------------------- policies
@pytest.mark.parametrize("policy", ["Basic128Rsa15", "Basic256"])
def test_deprecated_policies_are_refused_on_every_path(policy, pki, capsys):
    cfg = cfg_for("opc.tcp://127.0.0.1:1", pki, security_policy=policy)
    with pytest.raises(SourceSecurityError, match=f"'{policy}' is deprecated"):
        OpcUaSource(cfg)
    with pytest.raises(SourceSecurityError, match=f"'{policy}' is deprecated"):
        asyncio.run(abrowse(cfg.url, security=cfg))
    with pytest.raises(ConfigError, match=rf"opcua\[0\]\.security_policy: '{policy}' is deprec"):
        loads(
            '[store]\npath = "s"\n[[opcua]]\nname = "r"\nurl = "opc.tcp://h:1"\n'
            f'security_policy = "{policy}"\n[[opcua.points]]\ntag = "A"\nnode = "ns=2;i=1"\n'
        )
    for extra in ([], ["--certificate", pki["client_cert_der"], "--private-key",
                       pki["client_key"], "--trust", pki["trusted"]]):  # fmt: skip
        assert main(["browse", "opc.tcp://127.0.0.1:1", "--security-policy", policy,
                     *extra]) == 2  # fmt: skip
        assert "deprecated" in capsys.readouterr().err


# --------------------------------------------------------------------------- refusals
def test_server_refusing_our_certificate_at_create_session_says_so(pki, tmp_path):
    from asyncua.crypto.truststore import TrustStore
    from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

    foreign = make_pki(tmp_path / "foreign")  # the server trusts only this CA, not ours
    server = UaServer(free_port(), pki=pki)

    async def body(s):
        store = TrustStore([Path(foreign["trusted"])], [])
        await store.load()
        opts = CertificateValidatorOptions.TRUSTED_VALIDATION | (
            CertificateValidatorOptions.PEER_CLIENT
        )
        s.server.set_certificate_validator(CertificateValidator(opts, store))
        with pytest.raises(
            SourceSecurityError,
            match=r"the server refused us: "
            r"BadCertificateUntrusted .*does not trust our client certificate",
        ):
            await connect_read(cfg_for(s.url, pki))

    run_with(server, body)


def test_server_refusing_our_certificate_at_open_secure_channel_says_so(pki, monkeypatch):
    """Servers such as open62541 check the client certificate in OpenSecureChannel and answer
    with a ServiceFault there; asyncua 2.1 turned that into a bare AssertionError."""
    from asyncua import ua
    from asyncua.server.uaprocessor import UaProcessor
    from asyncua.ua.ua_binary import struct_from_binary

    def refuse(self, algohdr, seqhdr, body):
        request = struct_from_binary(ua.OpenSecureChannelRequest, body)
        self._connection.select_policy(algohdr.SecurityPolicyURI, algohdr.SenderCertificate,
                                       request.Parameters.SecurityMode)  # fmt: skip
        fault = ua.ServiceFault()
        fault.ResponseHeader.ServiceResult = ua.StatusCode(ua.StatusCodes.BadCertificateUntrusted)
        self.send_response(request.RequestHeader.RequestHandle, seqhdr, fault,
                           ua.MessageType.SecureOpen)  # fmt: skip

    server = UaServer(free_port(), pki=pki)

    async def body(s):
        monkeypatch.setattr(UaProcessor, "open_secure_channel", refuse)
        with pytest.raises(SourceSecurityError, match="the server refused us: "
                           "BadCertificateUntrusted") as err:  # fmt: skip
            await connect_read(cfg_for(s.url, pki))
        assert "AssertionError" not in str(err.value)

    run_with(server, body)


def test_world_writable_trust_folder_is_refused(pki, tmp_path):
    trust = tmp_path / "trusted"
    trust.mkdir()
    (trust / "ca.der").write_bytes(Path(pki["trusted"], "ca.der").read_bytes())
    trust.chmod(0o777)
    cfg = cfg_for("opc.tcp://127.0.0.1:1", pki, trust=trust)
    with pytest.raises(SourceSecurityError, match=r"world-writable .*chmod o-w"):
        asyncio.run(OpcUaSource(cfg).connect())
    trust.chmod(0o755)
    (trust / "ca.der").chmod(0o666)
    with pytest.raises(SourceSecurityError, match=r"trust file .*ca\.der' is world-writable"):
        asyncio.run(OpcUaSource(cfg).connect())


def test_private_key_through_a_symlink_is_refused(pki, tmp_path):
    link = tmp_path / "client-key.pem"
    os.symlink(pki["client_key"], link)
    server = UaServer(free_port(), pki=pki)

    async def body(s):
        with pytest.raises(SourceSecurityError, match=r"cannot read private_key .*symbolic link"):
            await connect_read(cfg_for(s.url, pki, private_key=link))

    run_with(server, body)


# --------------------------------------------------------------------------- message limits
@pytest.mark.parametrize("mode", ["huge", "chunks"])
def test_a_flooding_server_is_cut_off_at_max_message_size(mode, pki):
    async def body():
        flood = await FloodServer(mode, cap=24 * 2**20).start()
        try:
            cfg = cfg_for(flood.url, pki, max_message_size=2**20)  # secure: GetEndpoints first
            with pytest.raises(SourceProtocolError, match="max_message_size"):
                await connect_read(cfg)
            await asyncio.wait_for(flood.closed_by_client.wait(), 10)
            return flood.sent
        finally:
            await flood.stop()

    sent = asyncio.run(body())
    assert sent < 24 * 2**20  # the client hung up long before the flood's own cap


def test_plain_asyncua_would_swallow_the_flood():
    """The control for the test above: asyncua's Client on its own takes the whole flood."""
    from asyncua import Client

    async def body():
        flood = await FloodServer("chunks", cap=12 * 2**20).start()
        try:
            client = Client(flood.url, timeout=10)
            with pytest.raises(Exception):  # noqa: B017 - the server hangs up at its cap
                await client.connect()
            return flood.sent, flood.closed_by_client.is_set()
        finally:
            await flood.stop()

    sent, cut_off = asyncio.run(body())
    assert sent >= 12 * 2**20 and not cut_off


# --------------------------------------------------------------------------- error mapping
def test_dependency_errors_are_mapped_with_their_cause(pki, tmp_path):
    from historian.acquisition.modbus import client_ssl_context
    from historian.errors import SourceConnectError

    port = free_port()  # nothing listens there
    cfg = cfg_for(f"opc.tcp://127.0.0.1:{port}", pki, security_policy="None",
                  allow_insecure=True)  # fmt: skip
    with pytest.raises(SourceConnectError, match="connection refused") as err:
        asyncio.run(OpcUaSource(cfg).connect())
    assert isinstance(err.value.__cause__, OSError)
    with pytest.raises(SourceSecurityError, match="cannot load ca/certificate") as err2:
        client_ssl_context(str(tmp_path / "missing-ca.pem"))
    assert isinstance(err2.value.__cause__, OSError)
