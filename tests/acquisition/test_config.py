"""Collector config: DESIGN.md's shape, validation messages that name the key and the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from historian.acquisition.config import load_config, loads
from historian.errors import ConfigError

DESIGN_EXAMPLE = """
[store]
path = "plant.hist"

[[modbus]]
name = "plc1"
host = "127.0.0.1"
port = 502
unit = 1
every = "1s"
# tls = { ca = "pki/ca.pem", certificate = "pki/client.pem", private_key = "pki/client.key" }

  [[modbus.points]]
  tag = "FIC-101.PV"
  table = "holding"          # holding | input | coil | discrete
  address = 0
  type = "float32"           # int16 uint16 int32 uint32 int64 float32 float64 bool string
  word_order = "big"         # big | little
  byte_order = "big"
  scale = 1.0
  offset = 0.0
  unit = "m3/h"

[[opcua]]
name = "reactor"
url = "opc.tcp://127.0.0.1:4840"
acquire = "subscribe"        # subscribe | poll
every = "500ms"
security_policy = "Basic256Sha256"   # "None" is refused unless allow_insecure = true
security_mode = "SignAndEncrypt"     # Sign | SignAndEncrypt
certificate = "pki/client.der"
private_key = "pki/client.pem"
trust = "pki/trusted"                # server certificates accepted
username_env = "PLANT_OPCUA_USER"
password_env = "PLANT_OPCUA_PASSWORD"
allow_insecure = false

  [[opcua.points]]
  tag = "TIC-101.PV"
  node = "nsu=urn:example:plant;s=Reactor.Temperature"
"""

OPCUA_HEAD = """
[store]
path = "s.hist"
[[opcua]]
name = "r"
url = "opc.tcp://127.0.0.1:4840"
security_policy = "None"
allow_insecure = true
"""


def test_design_example_parses_with_paths_resolved(tmp_path: Path):
    f = tmp_path / "plant.toml"
    f.write_text(DESIGN_EXAMPLE)
    cfg = load_config(f)
    assert cfg.store.path == tmp_path / "plant.hist"
    (mb,) = cfg.modbus
    assert (mb.name, mb.host, mb.port, mb.unit, mb.every_s) == ("plc1", "127.0.0.1", 502, 1, 1.0)
    p = mb.points[0]
    assert (p.tag, p.table, p.address, p.type, p.registers) == ("FIC-101.PV", "holding", 0,
                                                                "float32", 2)  # fmt: skip
    assert p.settings.unit == "m3/h"
    (ua,) = cfg.opcua
    assert ua.every_s == 0.5 and ua.security_mode == "SignAndEncrypt"
    assert ua.certificate == tmp_path / "pki/client.der" and ua.trust == tmp_path / "pki/trusted"
    assert ua.username_env == "PLANT_OPCUA_USER" and not ua.allow_insecure
    assert set(cfg.tags()) == {"FIC-101.PV", "TIC-101.PV"}
    assert cfg.spool_path == tmp_path / "plant.hist.spool"


def test_tag_settings_and_collector_section():
    cfg = loads(OPCUA_HEAD + """
  [[opcua.points]]
  tag = "PUMP-1.RUN"
  node = "ns=2;s=Pump.Run"
  kind = "step"
  states = { 0 = "off", 1 = "on" }
  [[opcua.points]]
  tag = "TIC-101.PV"
  node = "ns=2;s=T"
  unit = "degC"
  lo = 0
  hi = 200
  sampling = "100ms"
  rules = { range = { lo = 0, hi = 200 } }
  compression = { deadband = 0.5 }

[collector]
queue_size = 50000
batch_interval = "100ms"
spool = "/var/spool/plant"
spool_max_bytes = "256MB"
""", base_dir="/plant")  # fmt: skip
    tags = cfg.tags()
    assert tags["PUMP-1.RUN"].kind == "step" and tags["PUMP-1.RUN"].states == {0: "off", 1: "on"}
    t = tags["TIC-101.PV"]
    assert (t.unit, t.lo, t.hi, t.compression) == ("degC", 0.0, 200.0, {"deadband": 0.5})
    assert cfg.opcua[0].points[1].sampling_s == 0.1
    c = cfg.collector
    assert (c.queue_size, c.batch_interval_s, c.spool_max_bytes) == (50000, 0.1, 256_000_000)
    assert cfg.spool_path == Path("/var/spool/plant")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[store]\npaht = "x"', r"^store\.paht: unknown key; did you mean 'path'\?$"),
        ('[stor]\npath = "x"', r"^stor: unknown key; did you mean 'store'\?"),
        ("[collector]\nqueue_size = 5000", r"^store: missing table; add \[store\]"),
        ('[store]\npath = 3', r"^store\.path: must be a string, not an integer"),
        ('[store]\npath = "x"\n[modbus]\nname = "a"',
         r"^modbus: must be an array of tables; write \[\[modbus\]\] \(double brackets\)"),
        ('[store]\npath = "x"\n[collector]\nbatch_interval = "fast"',
         r"^collector\.batch_interval: 'fast' is not a duration; use seconds"),
        ('[store]\npath = "x"\n[collector]\nspool_max_bytes = "lots"',
         r"^collector\.spool_max_bytes: 'lots' is not a size"),
        ("[store\npath = 1", r"^invalid TOML"),
    ],
)  # fmt: skip
def test_top_level_errors(text, message):
    with pytest.raises(ConfigError, match=message):
        loads(text)


MODBUS_HEAD = """
[store]
path = "s.hist"
[[modbus]]
name = "plc1"
host = "10.0.0.5"
"""


def _modbus_points(n_ok: int, bad: str) -> str:
    out = MODBUS_HEAD
    for i in range(n_ok):
        out += f'[[modbus.points]]\ntag = "T{i}"\naddress = {i}\ntype = "uint16"\n'
    return out + '[[modbus.points]]\ntag = "BAD"\naddress = 10\n' + bad


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('type = "flaot32"',
         r"^modbus\[0\]\.points\[3\]\.type: 'flaot32' is not one of int16, .*; did you mean"
         r" 'float32'\?"),
        ('tabel = "holding"', r"^modbus\[0\]\.points\[3\]\.tabel: unknown key; did you mean"
         r" 'table'\?"),
        ('table = "coil"\ntype = "float32"',
         r"^modbus\[0\]\.points\[3\]\.type: table 'coil' holds bits; use type = \"bool\""),
        ('word_order = "middle"', r"^modbus\[0\]\.points\[3\]\.word_order: 'middle' is not one"
         r" of big, little"),
        ('count = 4', r"^modbus\[0\]\.points\[3\]\.count: only used with type = \"string\""),
        ('lo = 10\nhi = 0', r"^modbus\[0\]\.points\[3\]: lo \(10\.0\) is above hi \(0\.0\);"
         r" swap them"),
        ('kind = "linear"', r"^modbus\[0\]\.points\[3\]\.kind: 'linear' is not one of analog,"
         r" step"),
        ('compression = { deadbnd = 0.1 }',
         r"^modbus\[0\]\.points\[3\]\.compression: unknown compression 'deadbnd'"),
    ],
)  # fmt: skip
def test_point_errors_name_the_key_path(bad, message):
    with pytest.raises(ConfigError, match=message):
        loads(_modbus_points(3, bad))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("address = 70000", r"^modbus\[0\]\.points\[0\]\.address: 70000 is outside 0\.\.65535"),
        ('tag = "../etc"', r"^modbus\[0\]\.points\[0\]\.tag: invalid tag name '\.\./etc'"),
    ],
)
def test_point_value_errors(extra, message):
    text = (
        MODBUS_HEAD
        + "[[modbus.points]]\n"
        + ('tag = "A"\n' if not extra.startswith("tag") else "")
        + ("address = 0\n" if not extra.startswith("address") else "")
        + extra
    )
    with pytest.raises(ConfigError, match=message):
        loads(text)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('url = "opc.tcp://u:pw@h:4840"\n', r"^opcua\[0\]\.url: credentials in the URL are"
         r" refused"),
        ('url = "http://h"\n', r"^opcua\[0\]\.url: 'http://h' is not an OPC UA URL"),
        ('url = "opc.tcp://h:1"\nsecurity_policy = "None"\n',
         r"^opcua\[0\]\.security_policy: \"None\" .* set allow_insecure = true"),
        ('url = "opc.tcp://h:1"\n',
         r"^opcua\[0\]\.certificate: missing; security_policy 'Basic256Sha256' needs certificate"),
        ('url = "opc.tcp://h:1"\ncertificate = "c.der"\nprivate_key = "k.pem"\n',
         r"^opcua\[0\]\.trust: missing; .*a folder of trusted server/CA certificates"),
        ('url = "opc.tcp://h:1"\nsecurity_policy = "None"\nallow_insecure = true\n'
         'username_env = "U"\npassword_env = "P"\n',
         r"^opcua\[0\]\.password_env: a password is never sent over security_policy \"None\""),
        ('url = "opc.tcp://h:1"\nsecurity_policy = "None"\nallow_insecure = true\n'
         'password_env = "hunter2!"\n',
         r"^opcua\[0\]\.password_env: the value of password_env is not a valid environment "
         r"variable name; give the variable's NAME"),
        ('url = "opc.tcp://h:1"\nsecurity_policy = "Basic128"\n',
         r"^opcua\[0\]\.security_policy: 'Basic128' is not one of"),
        ('url = "opc.tcp://h:1"\nsecurity_policy = "None"\nallow_insecure = true\nacquire ='
         ' "pull"\n',
         r"^opcua\[0\]\.acquire: 'pull' is not one of subscribe, poll; did you mean 'poll'\?"),
    ],
)  # fmt: skip
def test_opcua_errors(body, message):
    text = '[store]\npath = "s"\n[[opcua]]\nname = "r"\n' + body
    text += '[[opcua.points]]\ntag = "A"\nnode = "ns=2;i=1"\n'
    with pytest.raises(ConfigError, match=message):
        loads(text)


def test_node_ids_and_uniqueness():
    with pytest.raises(ConfigError, match=r"^opcua\[0\]\.points\[0\]\.node: 'Reactor\.T' is not a "
                       r"node id; use e\.g\. \"nsu=urn"):  # fmt: skip
        loads(OPCUA_HEAD + '[[opcua.points]]\ntag = "A"\nnode = "Reactor.T"\n')
    with pytest.raises(ConfigError, match=r"^opcua\[0\]\.points\[1\]\.tag: 'A' is already written "
                       r"by opcua\[0\]\.points\[0\]"):  # fmt: skip
        loads(OPCUA_HEAD + '[[opcua.points]]\ntag = "A"\nnode = "ns=2;i=1"\n'
              '[[opcua.points]]\ntag = "A"\nnode = "ns=2;i=2"\n')  # fmt: skip
    with pytest.raises(ConfigError, match=r"^opcua\[0\]\.points: no points; add at least one"):
        loads(OPCUA_HEAD)


def test_missing_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope.toml")


def test_toml_examples_in_the_docs_are_valid():
    import re

    doc = Path(__file__).parents[2] / "docs" / "acquisition.md"
    blocks = re.findall(r"```toml\n(.*?)```", doc.read_text(), re.S)
    assert len(blocks) >= 2
    for block in blocks:
        cfg = loads(block, base_dir="/plant")
        assert cfg.store.path == Path("/plant/plant.hist") and (cfg.modbus or cfg.opcua)


def test_opcua_subscription_spread_and_publish_requests():
    base = ('[store]\npath = "s"\n[[opcua]]\nname = "r"\nurl = "opc.tcp://h:1"\n'
            'security_policy = "None"\nallow_insecure = true\n')  # fmt: skip
    points = '[[opcua.points]]\ntag = "A"\nnode = "ns=2;i=1"\n'
    cfg = loads(base + points).opcua[0]
    assert (cfg.max_items_per_subscription, cfg.publish_requests) == (500, 0)
    cfg = loads(base + "max_items_per_subscription = 250\npublish_requests = 8\n" + points)
    assert (cfg.opcua[0].max_items_per_subscription, cfg.opcua[0].publish_requests) == (250, 8)
    with pytest.raises(ConfigError, match=r"^opcua\[0\]\.publish_requests: .*100"):
        loads(base + "publish_requests = 500\n" + points)
    with pytest.raises(ConfigError, match=r"^opcua\[0\]\.max_items_per_subscription"):
        loads(base + "max_items_per_subscription = 0\n" + points)
