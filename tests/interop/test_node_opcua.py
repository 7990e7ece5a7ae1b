"""historian's collector against node-opcua (npm): Basic256Sha256 SignAndEncrypt, user/password,
Good, Bad and Uncertain variables, checked against what the server logged it served."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute  # pa.compute
import pytest
from third_party import Served, opcua_env

import historian
from historian.acquisition.collector import Collector
from historian.acquisition.config import loads
from historian.errors import TextAggregateError
from historian.model import quality as q

NSU = "urn:historian:interop"
VARIABLES = ["Good.Counter", "Good.Int32", "Good.Float", "Good.Bool", "Bad.Sensor",
             "Uncertain.Sensor"]  # fmt: skip
MS = 1_000_000


def config(served: Served, pki: dict[str, str], tmp: Path, user_env: str, pw_env: str,
           names: list[str] = VARIABLES, extra: str = "") -> str:  # fmt: skip
    text = f"""
[store]
path = "plant.hist"

[collector]
batch_interval = "50ms"
health_every = "1h"

[[opcua]]
name = "node"
url = "opc.tcp://127.0.0.1:{served.port}/interop"
every = "100ms"
timeout = "2s"
reconnect_max_delay = "1s"
certificate = "{pki["client_cert_der"]}"
private_key = "{pki["client_key"]}"
trust = "{pki["trusted"]}"
server_uri = "{pki["server_uri"]}"
username_env = "{user_env}"
password_env = "{pw_env}"
{extra}
"""
    for name in names:
        text += f'[[opcua.points]]\ntag = "N.{name}"\nnode = "nsu={NSU};s={name}"\n'
        text += 'sampling = "20ms"\n'
    return text


def served_by_node(served: Served) -> dict[str, dict[int, tuple[float, int, str]]]:
    """node -> {source time ns: (value, status, type)} as the server logged it."""
    out: dict[str, dict[int, tuple[float, int, str]]] = {}
    for r in served.records():
        if "text" in r:  # the text variables: test_string_localized_text_and_enumeration...
            continue
        v = float(r["value"])  # JSON true/false of the Boolean node too: 1.0/0.0 as stored
        out.setdefault(r["node"], {})[int(r["t_ms"]) * MS] = (v, int(r["status"]), r["type"])
    return out


def wait_for(cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


def test_values_types_status_codes_and_source_timestamps_as_served(
    node_opcua, interop_pki, tmp_path, monkeypatch
):
    user_env, pw_env = opcua_env(monkeypatch)
    cfg = loads(config(node_opcua, interop_pki, tmp_path, user_env, pw_env), base_dir=tmp_path)
    c = Collector(cfg)
    c.start()
    try:
        wait_for(lambda: c.health().sources["node"].points >= 6 * 25)
    finally:
        c.stop()
    h = c.health().sources["node"]
    assert h.errors == 0 and h.extra["server_overflows"] == 0 and h.extra["dropped"] == 0
    served = served_by_node(node_opcua)
    with historian.open(tmp_path / "plant.hist", mode="r") as store:
        table = store.read([f"N.{n}" for n in VARIABLES], None, None)
    rows: dict[str, list[tuple[int, float, int]]] = {}
    for tag, t, v, qual in zip(table.column("tag").to_pylist(),
                               table.column("time").cast("int64").to_pylist(),
                               table.column("value").to_pylist(),
                               table.column("quality").to_pylist(), strict=True):  # fmt: skip
        rows.setdefault(tag, []).append((t, v, qual))
    for name in VARIABLES:
        got = rows.get(f"N.{name}", [])
        assert len(got) >= 20, (name, len(got))
        log = served[name]
        for t, v, qual in got:
            assert t in log, f"{name}: stored time {t} was never a source timestamp served"
            sv, status, typ = log[t]
            assert qual == status, (name, hex(qual), hex(status))
            if q.is_bad(status):
                assert v is None or math.isnan(v)  # Bad: the value is not kept
            else:
                assert v == sv, (name, v, sv, typ)  # exact: Int32, Float (k/4), Bool, Double
        # nothing lost between the first and the last value stored: every change the server
        # made in that span was stored (the server changes each variable every 100 ms)
        times = sorted(t for t, _, _ in got)
        span = [t for t in log if times[0] <= t <= times[-1]]
        assert len(span) == len(times), (name, len(span), len(times))
    assert {qual for _, _, qual in rows["N.Bad.Sensor"]} == {
        served["Bad.Sensor"][t][1] for t, _, _ in rows["N.Bad.Sensor"]
    }
    assert q.is_bad(rows["N.Bad.Sensor"][0][2])
    assert q.is_uncertain(rows["N.Uncertain.Sensor"][0][2])
    assert {r[1] for r in rows["N.Good.Bool"]} == {0.0, 1.0}
    assert all(float(v).is_integer() for _, v, _ in rows["N.Good.Int32"])


TEXTS = ["Text.Batch", "Text.Recipe", "Text.State"]


def test_string_localized_text_and_enumeration_texts_as_served(
    node_opcua, interop_pki, tmp_path, monkeypatch
):
    user_env, pw_env = opcua_env(monkeypatch)
    cfg = loads(config(node_opcua, interop_pki, tmp_path, user_env, pw_env,
                       [*TEXTS, "Good.Float"]), base_dir=tmp_path)  # fmt: skip
    c = Collector(cfg)
    c.start()
    try:
        wait_for(lambda: c.health().sources["node"].points >= 3 * 20)
    finally:
        c.stop()
    log: dict[str, dict[int, dict]] = {}
    for r in node_opcua.records():
        if r["node"] in TEXTS:
            log.setdefault(r["node"], {})[int(r["t_ms"]) * MS] = r
    with historian.open(tmp_path / "plant.hist", mode="r") as store:
        table = store.read([f"N.{n}" for n in TEXTS], None, None)
        tags = store.tags()  # the String and LocalizedText nodes made text tags by themselves
        assert dict(
            zip(tags.column("name").to_pylist(), tags.column("type").to_pylist(), strict=True)
        ) == {
            "N.Text.Batch": "string",
            "N.Text.Recipe": "string",
            "N.Text.State": "number",
            "N.Good.Float": "number",
        }
        t0, t1 = pa.compute.min_max(table.column("time").cast("int64")).values()
        span = (t0.as_py(), t1.as_py() + 1, "1h")
        summary = store.summary("N.Text.Recipe", *span, stats=["count", "last"])
        last = [
            t
            for s, t in zip(
                summary.column("stat").to_pylist(), summary.column("text").to_pylist(), strict=True
            )
            if s == "last"
        ]
        assert last[-1] == table.filter(pa.compute.equal(table.column("tag"), "N.Text.Recipe")
                                        ).column("text").to_pylist()[-1]  # fmt: skip
        with pytest.raises(TextAggregateError):
            store.summary("N.Text.Batch", *span, stats=["twa"])
    stored: dict[str, list[tuple[int, float | None, int, str | None]]] = {}
    for tag, t, v, qual, text in zip(
        table.column("tag").to_pylist(), table.column("time").cast("int64").to_pylist(),
        table.column("value").to_pylist(), table.column("quality").to_pylist(),
        table.column("text").to_pylist(), strict=True,
    ):  # fmt: skip
        stored.setdefault(tag, []).append((t, v, qual, text))
    for name in TEXTS:
        got = stored.get(f"N.{name}", [])
        assert len(got) >= 15, (name, len(got))
        for t, v, qual, text in got:
            assert t in log[name], f"{name}: stored time {t} was never a source timestamp served"
            served = log[name][t]
            assert (qual, text) == (served["status"], served["text"]), (name, t)
            assert v == served["value"], (name, v, served["value"])  # enum: the number too
        times = sorted(t for t, _, _, _ in got)  # nothing lost in between
        assert len([t for t in log[name] if times[0] <= t <= times[-1]]) == len(times), name
    assert "" in {text for _, _, _, text in stored["N.Text.Batch"]}  # empty strings are kept
    assert {text for _, _, _, text in stored["N.Text.State"]} == {"Idle", "Running", "Stopped"}


def test_wrong_password_is_refused_and_nothing_is_stored_as_good(
    node_opcua, interop_pki, tmp_path, monkeypatch
):
    user_env, pw_env = opcua_env(monkeypatch)
    monkeypatch.setenv(pw_env, "not-the-password")
    cfg = loads(config(node_opcua, interop_pki, tmp_path, user_env, pw_env, ["Good.Counter"]),
                base_dir=tmp_path)  # fmt: skip
    c = Collector(cfg)
    c.start()
    try:
        wait_for(lambda: c.health().sources["node"].errors >= 1)
    finally:
        c.stop()
    h = c.health().sources["node"]
    assert h.last_good_ns is None and not h.connected
    assert "not-the-password" not in h.last_error
    with historian.open(tmp_path / "plant.hist", mode="r") as store:
        table = store.read("N.Good.Counter", None, None)
    quality = np.asarray(table.column("quality").to_pylist(), dtype=np.uint32)
    assert quality.size >= 1 and not q.good_mask(quality).any()


@pytest.mark.parametrize("how", ["killed", "hung"])
def test_gap_marker_is_stamped_when_communication_was_last_good(
    how, interop_pki, tmp_path, monkeypatch
):
    import os
    import signal

    from third_party import start_node_opcua, stop

    user_env, pw_env = opcua_env(monkeypatch)
    served = start_node_opcua(tmp_path, interop_pki)
    try:
        cfg = loads(config(served, interop_pki, tmp_path, user_env, pw_env, ["Good.Counter"]),
                    base_dir=tmp_path)  # fmt: skip
        c = Collector(cfg)
        c.start()
        try:
            wait_for(lambda: c.health().sources["node"].points >= 10)
            if how == "killed":
                served.proc.kill()
            else:
                os.kill(served.proc.pid, signal.SIGSTOP)  # socket open, nothing answers
            cut = time.time_ns()
            wait_for(lambda: c.health().sources["node"].errors >= 1, timeout=25)
            noticed = time.time_ns()
        finally:
            if how == "hung":
                os.kill(served.proc.pid, signal.SIGCONT)
            c.stop()
    finally:
        stop(served.proc)
    with historian.open(tmp_path / "plant.hist", mode="r") as store:
        table = store.read("N.Good.Counter", None, None)
    t = table.column("time").cast("int64").to_numpy()
    quality = np.asarray(table.column("quality").to_pylist(), dtype=np.uint32)
    gaps = np.flatnonzero(quality == q.BAD_NO_COMMUNICATION)
    assert gaps.size >= 1
    first_gap = t[gaps[0]]
    last_good = t[: gaps[0]][q.good_mask(quality[: gaps[0]])].max()
    # the marker is 1 ns after the last PublishResponse (data or keep-alive), which came
    # within one publishing interval (plus scheduling) of the cut; not when the loss was
    # noticed, seconds later
    assert last_good < first_gap <= cut + 300 * MS, (last_good, first_gap, cut)
    assert noticed - first_gap >= 500 * MS or how == "killed"
