"""The read service through a real Flight SQL client (adbc-driver-flightsql) over TLS.

One server per module on 127.0.0.1, a random port, certificates from make_pki; every attack is
a real request: no token, a wrong or revoked token, an out-of-scope tag, an untrusted server
certificate, hostile SQL, write commands over raw Flight; and every request is in the audit log.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

import adbc_driver_flightsql.dbapi as flight_sql
import pyarrow as pa
import pyarrow.flight as flight
import pytest
from adbc_driver_flightsql import DatabaseOptions
from adbc_driver_manager import AdbcStatusCode, Error

import historian
from historian import cli
from historian.acquisition.pki import make_pki
from historian.errors import CorruptDataError, InvalidArgumentError, StoreError
from historian.gateway import flightsql_proto as fp
from historian.gateway.audit import AuditLog
from historian.gateway.serve import make_server
from historian.gateway.tokens import TokenFile

HOUR_NS = 3600 * 10**9
TAGS = ("TIC-101.PV", "TIC-102.PV", "FIC-200.PV")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A store with three tags (one hour at 10 s), tokens, and a TLS server in a thread."""
    root = tmp_path_factory.mktemp("serve")
    store = str(root / "it.hist")
    with historian.open(store) as h:
        for i, tag in enumerate(TAGS):
            h.define(tag)
            t = list(range(0, HOUR_NS, 10 * 10**9))
            h.write(tag, t, [float(i * 1000 + k) for k in range(len(t))])
        h.flush()
    tokens = TokenFile(store)
    secrets = {
        "all": tokens.add("all", ["*"]),
        "tic": tokens.add("tic", ["TIC-*"]),
        "gone": tokens.add("gone", ["*"]),
    }
    tokens.revoke("gone")
    pki = make_pki(root / "pki")
    other = make_pki(root / "other-pki", ca_name="another CA")
    server = make_server(
        store, "127.0.0.1:0", tls_cert=pki["server_cert"], tls_key=pki["server_key"], timeout=20
    )
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        yield {"store": store, "port": server.port, "pki": pki, "other": other, **secrets}
    finally:
        server.close()
        thread.join(10)


def _connect(s, token=None, ca=None):
    ca = ca or s["pki"]["ca_cert"]
    with open(ca) as f:
        roots = f.read()
    db = {
        DatabaseOptions.TLS_ROOT_CERTS.value: roots,
        DatabaseOptions.TLS_OVERRIDE_HOSTNAME.value: "localhost",
    }
    if token is not None:
        db[DatabaseOptions.AUTHORIZATION_HEADER.value] = f"Bearer {token}"
    return flight_sql.connect(f"grpc+tls://127.0.0.1:{s['port']}", db_kwargs=db, autocommit=True)


def _rows(s, sql, params=None, token=None):
    with _connect(s, token or s["all"]) as conn, conn.cursor() as cur:
        cur.execute(sql, params)
        return cur.fetchall()


def _store_hashes(store):
    out = {}
    for dirpath, _dirs, names in os.walk(store):
        if os.path.relpath(dirpath, store).split(os.sep)[0] in ("_gateway", "readers"):
            continue  # the audit log grows with every request; reads pin their versions
        for name in names:
            full = os.path.join(dirpath, name)
            with open(full, "rb") as f:
                out[os.path.relpath(full, store)] = hashlib.sha256(f.read()).hexdigest()
    return out


def _read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def _audit(s):
    return AuditLog(s["store"]).records()


# ---------------------------------------------------------------------- queries
def test_select_1_probe(served):
    assert _rows(served, "SELECT 1") == [(1,)]


def test_rows_equal_h_sql_on_the_same_snapshot(served):
    sql = (
        "SELECT tag, time_ns, value, quality FROM points WHERE tag = 'TIC-101.PV' "
        "AND time_ns < 3600000000000 ORDER BY time_ns"
    )
    got = _rows(served, sql)
    with historian.open(served["store"], mode="r") as h:
        want = h.sql(sql).fetchall()
    assert len(got) == 360 and got == want
    agg = "SELECT tag, count(*), avg(value) FROM points GROUP BY tag ORDER BY tag"
    with historian.open(served["store"], mode="r") as h:
        assert _rows(served, agg) == h.sql(agg).fetchall()


def test_prepared_statement_with_bound_parameter(served):
    got = _rows(
        served,
        "SELECT count(*), max(value) FROM points WHERE tag = ? AND value > ?",
        ("TIC-102.PV", 1100.0),
    )
    assert got == [(259, 1359.0)]
    audited = [r for r in _audit(served) if r["method"] == "DoPut"]
    assert audited[-1]["params"] == ["TIC-102.PV", 1100.0] and not audited[-1]["refused"]


def test_get_tables_and_info_through_adbc(served):
    with _connect(served, served["tic"]) as conn:
        objects = conn.adbc_get_objects(depth="tables").read_all().to_pylist()
        tables = {
            t["table_name"]
            for c in objects
            for d in c["catalog_db_schemas"]
            for t in d["db_schema_tables"]
        }
        assert tables == {"points", "points_all", "tags"}
        assert conn.adbc_get_table_schema("points").field("time").type == pa.timestamp(
            "ns", tz="UTC"
        )
        info = conn.adbc_get_info()
        assert info["vendor_name"] == "historian"


# ---------------------------------------------------------------------- authentication
@pytest.mark.parametrize("which", ["none", "wrong", "revoked"])
def test_bad_token_is_unauthenticated(served, which):
    token = {"none": None, "wrong": "hist_" + "x" * 43, "revoked": served["gone"]}[which]
    with _connect(served, token) as conn, conn.cursor() as cur, pytest.raises(Error) as err:
        cur.execute("SELECT 1")
    assert err.value.status_code == AdbcStatusCode.UNAUTHENTICATED
    reason = {"none": "no bearer token", "wrong": "unknown token", "revoked": "revoked token"}
    assert reason[which] in str(err.value)
    last = [r for r in _audit(served) if r["refused"]][-1]
    assert last["reason"] == reason[which]
    assert last["token"] == ("gone" if which == "revoked" else None)


def test_revoke_takes_effect_on_the_next_request(served):
    secret = TokenFile(served["store"]).add("shortlived", ["*"])
    with _connect(served, secret) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT 1")
            assert cur.fetchall() == [(1,)]
        assert cli.main(["token", "revoke", "shortlived", "--store", served["store"]]) == 0
        with conn.cursor() as cur, pytest.raises(Error) as err:
            cur.execute("SELECT 1")
    assert err.value.status_code == AdbcStatusCode.UNAUTHENTICATED


def test_untrusted_server_certificate_fails(served):
    untrusted = _connect(served, served["all"], ca=served["other"]["ca_cert"])
    with untrusted as conn, conn.cursor() as cur, pytest.raises(Error) as err:
        cur.execute("SELECT 1")
    assert "certificate" in str(err.value).lower() or "handshake" in str(err.value).lower()


# ---------------------------------------------------------------------- scope
def test_out_of_scope_tag_is_invisible(served):
    tic = served["tic"]
    assert _rows(served, "SELECT DISTINCT tag FROM points ORDER BY tag", token=tic) == [
        ("TIC-101.PV",),
        ("TIC-102.PV",),
    ]
    assert _rows(served, "SELECT name FROM tags ORDER BY name", token=tic) == [
        ("TIC-101.PV",),
        ("TIC-102.PV",),
    ]
    for sql in (
        "SELECT count(*) FROM points WHERE tag = 'FIC-200.PV'",
        "SELECT count(*) FROM points_all WHERE tag LIKE 'FIC%'",
        "SELECT count(*) FROM historian_files WHERE tag = 'FIC-200.PV'",
        "SELECT count(*) FROM tags WHERE name = 'FIC-200.PV'",
    ):
        assert _rows(served, sql, token=tic) == [(0,)], sql
    # the same query with the full scope sees it (the test can fail)
    assert _rows(served, "SELECT count(*) FROM points WHERE tag = 'FIC-200.PV'") == [(360,)]


# ---------------------------------------------------------------------- hostile requests
HOSTILE = [
    "COPY (SELECT * FROM points) TO '/tmp/stolen.csv'",
    "EXPLAIN ANALYZE SELECT * FROM points",
    "ATTACH '/tmp/evil.duckdb' AS evil",
    "SELECT 1; SELECT 2",
    "CREATE TABLE t AS SELECT 1",
    "INSTALL httpfs",
    "SELECT * FROM read_csv('/etc/passwd')",
]


def test_hostile_sql_is_refused_and_the_store_unchanged(served):
    before = _store_hashes(served["store"])
    with _connect(served, served["all"]) as conn:
        for sql in HOSTILE:
            with conn.cursor() as cur, pytest.raises(Error) as err:
                cur.execute(sql)
            assert err.value.status_code == AdbcStatusCode.INVALID_ARGUMENT, sql
            assert "query refused" in str(err.value), sql
    assert _store_hashes(served["store"]) == before
    assert not os.path.exists("/tmp/evil.duckdb")
    refused = {r["sql"] for r in _audit(served) if r["refused"]}
    assert set(HOSTILE) <= refused


def _raw_client(served, token):
    with open(served["pki"]["ca_cert"], "rb") as f:
        client = flight.FlightClient(
            f"grpc+tls://127.0.0.1:{served['port']}",
            tls_root_certs=f.read(),
            override_hostname="localhost",
        )
    options = flight.FlightCallOptions(headers=[(b"authorization", f"Bearer {token}".encode())])
    return client, options


def test_write_and_command_paths_are_refused(served):
    client, opts = _raw_client(served, served["all"])
    with client:
        update = flight.FlightDescriptor.for_command(
            fp.pack("CommandStatementUpdate", {"query": "DELETE FROM points"})
        )
        with pytest.raises(flight.FlightUnauthorizedError, match="read-only"):
            client.get_flight_info(update, opts)
        table = pa.table({"x": [1]})
        with pytest.raises(flight.FlightUnauthorizedError, match="DoPut takes only"):
            writer, _ = client.do_put(update, table.schema, opts)
            writer.write_table(table)
            writer.close()
        with pytest.raises(flight.FlightUnauthorizedError, match="no action"):
            list(client.do_action(flight.Action("BeginTransaction", b""), opts))
        with pytest.raises(flight.FlightUnauthorizedError, match="DoExchange"):
            writer, reader = client.do_exchange(flight.FlightDescriptor.for_command(b"x"), opts)
            writer.begin(table.schema)
            writer.write_table(table)
            writer.done_writing()
            reader.read_all()
        path = flight.FlightDescriptor.for_path("points")
        with pytest.raises(pa.ArrowInvalid, match="Flight SQL commands only"):
            client.get_flight_info(path, opts)
        with pytest.raises(pa.ArrowNotImplementedError, match="CommandGetXdbcTypeInfo"):
            client.get_flight_info(
                flight.FlightDescriptor.for_command(fp.pack("CommandGetXdbcTypeInfo", {})), opts
            )
    methods = {(r["method"], r["command"]) for r in _audit(served) if r["refused"]}
    assert {
        ("GetFlightInfo", "CommandStatementUpdate"),
        ("DoPut", "CommandStatementUpdate"),
        ("DoAction", "BeginTransaction"),
        ("DoExchange", None),
    } <= methods


def test_a_ticket_is_bound_to_its_token(served):
    client, opts_all = _raw_client(served, served["all"])
    _, opts_tic = _raw_client(served, served["tic"])
    with client:
        cmd = fp.pack("CommandStatementQuery", {"query": "SELECT name FROM tags"})
        info = client.get_flight_info(flight.FlightDescriptor.for_command(cmd), opts_all)
        ticket = info.endpoints[0].ticket
        with pytest.raises(pa.ArrowInvalid, match="unknown or expired ticket"):
            client.do_get(ticket, opts_tic).read_all()
        assert client.do_get(ticket, opts_all).read_all().num_rows == 3


# ---------------------------------------------------------------------- audit
def test_every_request_is_in_the_audit_log(served, capsys):
    _rows(served, "SELECT 42 AS answer")
    with _connect(served, "hist_not-a-token") as conn, conn.cursor() as cur, pytest.raises(Error):
        cur.execute("SELECT 43")
    capsys.readouterr()
    assert cli.main(["audit", served["store"], "--format", "json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    ok = [r for r in lines if r["sql"] == "SELECT 42 AS answer" and r["method"] == "GetFlightInfo"]
    assert ok and ok[-1]["token"] == "all" and ok[-1]["rows"] == 1 and not ok[-1]["refused"]
    assert ok[-1]["peer"].startswith("ipv4:127.0.0.1:") and ok[-1]["ms"] >= 0
    bad = [r for r in lines if r["refused"] and r["reason"] == "unknown token"]
    assert bad
    raw = _read(AuditLog(served["store"]).path, "r")
    for secret in (served["all"], served["tic"], served["gone"], "hist_not-a-token"):
        assert secret not in raw  # tokens are never logged
    assert oct(os.stat(AuditLog(served["store"]).path).st_mode & 0o777) == "0o600"
    assert cli.main(["audit", served["store"], "--since", "now-1h"]) == 0
    assert "REFUSED: unknown token" in capsys.readouterr().out


def test_audit_detects_an_edited_or_truncated_log(tmp_path, capsys):
    log = AuditLog(tmp_path)
    for i in range(3):
        log.append({"token": "a", "sql": f"SELECT {i}", "refused": False})
    assert log.verify() == 3
    data = _read(log.path)
    with open(log.path, "wb") as f:
        f.write(data.replace(b"SELECT 1", b"SELECT 9"))
    with pytest.raises(CorruptDataError, match="line 3"):
        log.verify()
    assert cli.main(["audit", str(tmp_path)]) == 1
    with open(log.path, "wb") as f:
        f.write(data[: data.rindex(b"{")])  # the last line removed
    with pytest.raises(CorruptDataError, match="truncated"):
        log.verify()


# ---------------------------------------------------------------------- setup refusals
def test_plaintext_only_on_loopback_and_tls_by_default(tmp_path):
    store = str(tmp_path / "s.hist")
    historian.open(store).close()
    with pytest.raises(InvalidArgumentError, match="loopback"):
        make_server(store, "0.0.0.0:0", insecure_loopback=True)
    with pytest.raises(InvalidArgumentError, match="needs TLS"):
        make_server(store, "127.0.0.1:0")
    with pytest.raises(InvalidArgumentError, match="HOST:PORT"):
        make_server(store, "127.0.0.1", insecure_loopback=True)


def test_tokens_file_is_private_hashed_and_never_followed_through_a_link(tmp_path):
    tokens = TokenFile(tmp_path)
    secret = tokens.add("it", ["TIC-*"])
    raw = _read(tokens.path, "r")
    assert secret not in raw and secret[5:] not in raw
    assert oct(os.stat(tokens.path).st_mode & 0o777) == "0o600"
    assert tokens.check(secret).name == "it" and tokens.check(secret + "x") is None
    with pytest.raises(InvalidArgumentError, match="exists"):
        tokens.add("it", ["*"])
    os.rename(tokens.path, tmp_path / "elsewhere.json")
    os.symlink(tmp_path / "elsewhere.json", tokens.path)
    with pytest.raises(StoreError, match="symlink"):
        tokens.load()
    os.unlink(tokens.path)
    os.rename(tmp_path / "elsewhere.json", tokens.path)
    os.chmod(tokens.path, 0o644)
    with pytest.raises(StoreError, match="chmod 600"):
        tokens.check(secret)


def test_proto_round_trip_and_malformed_input():
    blob = fp.pack(
        "CommandGetTables",
        {"catalog": "historian", "table_types": ["VIEW", "TABLE"], "include_schema": True},
    )
    assert fp.unpack(blob) == (
        "CommandGetTables",
        {"catalog": "historian", "table_types": ["VIEW", "TABLE"], "include_schema": True},
    )
    with pytest.raises(InvalidArgumentError, match="not a Flight SQL command"):
        fp.unpack(b"\x0a\x03abc")
    with pytest.raises(InvalidArgumentError, match="malformed"):
        fp.unpack(blob[:-3] + b"\xff\xff")
