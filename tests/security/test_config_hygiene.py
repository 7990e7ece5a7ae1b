"""Config and browse input hygiene (issue 10, item 5: the acquisition side).

Hostile or careless input to the collector config and to ``historian browse``: numbers that
overflow or lift a bound, nesting that blows the stack, NUL bytes in paths, a secret pasted
where a variable name belongs, server strings that try to inject TOML or terminal escapes,
symlinks planted in the spool folder. Each must end in a ConfigError/SourceError that names
the key and the allowed range, never a raw Python error, and never echo the secret.
"""

from __future__ import annotations

import asyncio
import os
import stat
import sys
import tomllib
from pathlib import Path

import pyarrow as pa
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "acquisition"))

from opcua_servers import UaServer, free_port

from historian.acquisition.config import (
    OpcUaPoint,
    OpcUaSourceConfig,
    load_config,
    loads,
)
from historian.acquisition.opcua import OpcUaSource, abrowse, config_stub
from historian.acquisition.pki import make_pki
from historian.acquisition.spool import Spool
from historian.cli import main
from historian.errors import ConfigError, SourceSecurityError, StoreError

SECRET = "hunter2-Pa55!"
HEAD = '[store]\npath = "s"\n'
OPCUA = ('[[opcua]]\nname = "r"\nurl = "opc.tcp://h:4840"\nsecurity_policy = "None"\n'
         'allow_insecure = true\n')  # fmt: skip
POINT = '[[opcua.points]]\ntag = "A"\nnode = "ns=2;i=1"\n'
MODBUS = '[[modbus]]\nname = "m"\nhost = "127.0.0.1"\n'
MPOINT = '[[modbus.points]]\ntag = "B"\naddress = 1\n'


def opcua(extra: str) -> str:
    return HEAD + OPCUA + extra + "\n" + POINT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (opcua("every = 1e300"), r"^opcua\[0\]\.every: 1e\+300 is outside the allowed 0\.01 s"
         r" \.\. 86400 s$"),
        (opcua("every = -1e300"), r"^opcua\[0\]\.every: .* is outside the allowed"),
        (opcua('every = "1e300s"'), r"^opcua\[0\]\.every: '1e300s' is not a duration.*allowed: "),
        (opcua("timeout = 1e308"),
         r"^opcua\[0\]\.timeout: .* outside the allowed 0\.1 s \.\. 3600"),
        (opcua("reconnect_max_delay = 9e99"), r"^opcua\[0\]\.reconnect_max_delay: .*outside"),
        (opcua("queue_size = 1000000000000000000"),
         r"^opcua\[0\]\.queue_size: 1000000000000000000 is outside 10\.\.10000000$"),
        (opcua('max_message_size = "1TB"'),
         r"^opcua\[0\]\.max_message_size: '1TB' is outside the allowed 1048576 \.\. 1073741824"),
        (HEAD + OPCUA + POINT.replace('node = "ns=2;i=1"', 'node = "ns=2;i=1"\nsampling = 1e300'),
         r"^opcua\[0\]\.points\[0\]\.sampling: .* is outside the allowed"),
        (HEAD + MODBUS + "every = 1e300\n" + MPOINT, r"^modbus\[0\]\.every: .* is outside"),
        (HEAD + MODBUS + "timeout = 1e300\n" + MPOINT, r"^modbus\[0\]\.timeout: .* is outside"),
        (HEAD + "[collector]\nqueue_size = 1000000000000000000\n",
         r"^collector\.queue_size: 1000000000000000000 is outside 1000\.\.100000000$"),
        (HEAD + "[collector]\nspool_max_bytes = 1000000000000000000\n",
         r"^collector\.spool_max_bytes: .* is outside the allowed 10000 \.\. 1099511627776 bytes"),
        (HEAD + '[collector]\nspool_segment_bytes = "1TB"\n',
         r"^collector\.spool_segment_bytes: '1TB' is outside the allowed 1000 \.\. 268435456"),
        (HEAD + '[collector]\nspool_max_bytes = "9' + "9" * 400 + 'GB"\n',
         r"^collector\.spool_max_bytes: the value is not a size"),
        (HEAD + "[collector]\nhealth_every = 1e300\n", r"^collector\.health_every: .*outside"),
        (HEAD + "[collector]\nwrite_timeout = 1e300\n", r"^collector\.write_timeout: .*outside"),
    ],
)  # fmt: skip
def test_numbers_are_bounded_with_the_key_and_the_range_named(text, message):
    with pytest.raises(ConfigError, match=message):
        loads(text)


def test_deep_nesting_is_a_config_error_not_a_recursion_error():
    deep = HEAD + "[collector]\nqueue_size = " + "[" * 100_000 + "]" * 100_000 + "\n"
    with pytest.raises(ConfigError, match="nested too deeply"):
        loads(deep)
    # parseable, but deeper than any config needs: refused with the key path
    nested = "metadata = " + "[" * 40 + "1" + "]" * 40
    with pytest.raises(ConfigError, match=r"^opcua\[0\]\.points\[0\]\.metadata.*nested more than"
                       r" 16 levels"):  # fmt: skip
        loads(HEAD + OPCUA + POINT + nested + "\n")


def test_nul_bytes_in_paths_are_refused(tmp_path):
    for key in ("certificate", "private_key", "trust", "crl"):
        paths = {"certificate": "c", "private_key": "k", "trust": "t", key: "pki/a\\u0000b"}
        body = HEAD + OPCUA.replace('security_policy = "None"\nallow_insecure = true\n', "")
        body += "".join(f'{k} = "{v}"\n' for k, v in paths.items()) + POINT
        with pytest.raises(ConfigError, match=rf"^opcua\[0\]\.{key}: the path contains a NUL"):
            loads(body)
    with pytest.raises(ConfigError, match=r"^store\.path: the path contains a NUL byte"):
        loads('[store]\npath = "plant\\u0000.hist"\n')
    with pytest.raises(ConfigError, match="the path contains a NUL byte"):
        load_config(str(tmp_path / "a\x00b.toml"))
    cfg = OpcUaSourceConfig(name="r", url="opc.tcp://127.0.0.1:1", certificate=Path("c\x00"),
                            private_key=Path("k"), trust=Path("t"),
                            points=(OpcUaPoint("A", "ns=2;i=1"),))  # fmt: skip
    with pytest.raises(SourceSecurityError, match="certificate: the path contains a NUL byte"):
        OpcUaSource(cfg)


def test_oversized_config_file_is_refused(tmp_path):
    big = tmp_path / "big.toml"
    with big.open("wb") as f:
        f.write(HEAD.encode() + b"#" * (17 * 2**20))
    with pytest.raises(ConfigError, match="is larger than 16777216 bytes"):
        load_config(big)


@pytest.mark.parametrize("key", ["username_env", "password_env", "private_key_password_env"])
def test_a_secret_pasted_into_an_env_key_is_never_echoed(key):
    body = 'username_env = "U"\npassword_env = "P"\n' if key != "private_key_password_env" else ""
    body = body.replace(f'{key} = "{key[0].upper()}"', f'{key} = "{SECRET}"')
    if key == "private_key_password_env":
        body = f'{key} = "{SECRET}"\n'
    text = (HEAD + '[[opcua]]\nname = "r"\nurl = "opc.tcp://h:4840"\ncertificate = "c"\n'
            'private_key = "k"\ntrust = "t"\n' + body + POINT)  # fmt: skip
    with pytest.raises(ConfigError) as err:
        loads(text)
    assert f"the value of {key} is not a valid environment variable name" in str(err.value)
    assert "hunter2" not in str(err.value)
    cfg = OpcUaSourceConfig(name="r", url="opc.tcp://127.0.0.1:1", certificate=Path("c"),
                            private_key=Path("k"), trust=Path("t"),
                            points=(OpcUaPoint("A", "ns=2;i=1"),),
                            **{"username_env": "U", "password_env": "P", key: SECRET})  # fmt: skip
    with pytest.raises(SourceSecurityError) as err2:
        OpcUaSource(cfg)
    assert "hunter2" not in str(err2.value) and key in str(err2.value)


def test_a_bad_url_with_credentials_is_not_echoed():
    for url in (f"http://admin:{SECRET}@plc:4840", f"opc.tcp://admin:{SECRET}@plc:99999"):
        with pytest.raises(ConfigError) as err:
            loads(HEAD + OPCUA.replace("opc.tcp://h:4840", url) + POINT)
        assert "hunter2" not in str(err.value) and "admin" not in str(err.value)


# --------------------------------------------------------------------------- browse
EVIL = (
    'T"\n[[opcua]]\nname = "evil"\nurl = "opc.tcp://10.6.6.6:4840"\nsecurity_policy = "None"\n'
    "allow_insecure = true\n#",
    "Esc\x1b[2J\x1b]0;pwned\x07",
    "Back\\slash'quote\u202eRTL\u2028line",
)


def _parse_stub(stub: str, *, valid: bool = True) -> dict:
    doc = tomllib.loads('[store]\npath = "s"\n' + stub)
    if valid:  # and the collector's own loader accepts it
        loads('[store]\npath = "s"\n' + stub)
    return doc


def test_browse_stub_cannot_be_injected_and_reads_back_exactly():
    server = UaServer(free_port(), names=EVIL)

    async def body():
        await server.start()
        try:
            return await abrowse(server.url, allow_insecure=True)
        finally:
            await server.stop()

    found = [v for v in asyncio.run(body()) if v.node.startswith("nsu=urn:historian:test")]
    assert len(found) == 3
    stub = config_stub(found, name="line1", url="opc.tcp://127.0.0.1:4840")
    doc = _parse_stub(stub)
    assert [s["name"] for s in doc["opcua"]] == ["line1"]  # no injected section
    assert "allow_insecure" not in doc["opcua"][0]
    assert {p["node"] for p in doc["opcua"][0]["points"]} == {v.node for v in found}
    assert "\x1b" not in stub and "\u202e" not in stub and "\u2028" not in stub
    # names of the stub's own keys are escaped too
    doc = _parse_stub(
        config_stub(found, name='x"\n[[modbus]]', url='opc.tcp://h:1/"\n'), valid=False
    )  # the name is invalid for the collector, but stays one value
    assert doc["opcua"][0]["name"] == 'x"\n[[modbus]]' and "modbus" not in doc


def test_cli_browse_stub_honours_security_options_and_output_is_clean(tmp_path, monkeypatch,
                                                                      capsys):  # fmt: skip
    pki = make_pki(tmp_path / "pki")
    monkeypatch.setenv("HYG_USER", "historian")
    monkeypatch.setenv("HYG_PASSWORD", SECRET)
    server = UaServer(free_port(), names=EVIL, pki=pki, users={"historian": SECRET})
    args = ["browse", server.url, "--certificate", pki["client_cert_der"], "--private-key",
            pki["client_key"], "--trust", pki["trusted"], "--username-env", "HYG_USER",
            "--password-env", "HYG_PASSWORD", "--security-mode", "Sign"]  # fmt: skip

    async def body():
        await server.start()
        try:
            rc_stub = await asyncio.to_thread(main, [*args, "--config-stub", "--name", "line1"])
            stub = capsys.readouterr().out
            rc_table = await asyncio.to_thread(main, args)
            table = capsys.readouterr().out
            return rc_stub, stub, rc_table, table
        finally:
            await server.stop()

    rc_stub, stub, rc_table, table = asyncio.run(body())
    assert rc_stub == 0 and rc_table == 0
    src = _parse_stub(stub)["opcua"]
    assert len(src) == 1
    got = src[0]
    assert (got["certificate"], got["private_key"], got["trust"]) == (
        Path(pki["client_cert_der"]).resolve().as_posix(),
        Path(pki["client_key"]).resolve().as_posix(),
        Path(pki["trusted"]).resolve().as_posix(),
    )
    assert (got["username_env"], got["password_env"], got["security_mode"]) == (
        "HYG_USER",
        "HYG_PASSWORD",
        "Sign",
    )
    assert SECRET not in stub and SECRET not in table
    assert "Line1.Esc" in table
    for bad in ("\x1b", "\x07", "\u202e", "\u2028"):
        assert bad not in table


# --------------------------------------------------------------------------- spool
def _table(n: int = 3) -> pa.Table:
    return pa.table({"tag": ["A"] * n, "time": pa.array(range(n), pa.int64()),
                     "value": [1.0] * n, "quality": pa.array([0] * n, pa.uint32())})  # fmt: skip


def test_spool_files_are_private_and_symlinks_are_never_followed(tmp_path):
    sp = Spool(tmp_path / "spool", max_bytes=10_000_000)
    sp.append(_table())
    seg = sp.oldest()
    assert seg is not None
    assert stat.S_IMODE(seg.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "spool").stat().st_mode) == 0o700
    # a link planted where the next segment will be created: refused, the target untouched
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    nxt = tmp_path / "spool" / f"seg-{seg.seq + 1:012d}.spool"
    os.symlink(victim, nxt)
    with pytest.raises(StoreError, match="symbolic link") as err:
        sp.append(_table())
    assert isinstance(err.value.__cause__, OSError)
    assert victim.read_bytes() == b"precious"
    # a reopened spool ignores the link (never reads through it) and keeps the real segment
    os.unlink(nxt)
    os.symlink(victim, nxt)
    again = Spool(tmp_path / "spool", max_bytes=10_000_000)
    assert again.points == 3 and again.segments == 1
    assert again.read(again.oldest()).num_rows == 3
    assert victim.read_bytes() == b"precious"
