"""Flight SQL read service against local h.sql, in one run: latency of a 1-tag x 1-hour query
and rows/s of a 1-tag x 1-day result (ADBC client over TLS on 127.0.0.1).

    python benchmarks/bench_serve.py [--tags 10] [--runs 20]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time

import numpy as np

import historian
from historian.acquisition.pki import make_pki
from historian.gateway.serve import make_server
from historian.gateway.tokens import TokenFile

DAY_S = 86_400


def _timed(fn, runs):
    fn()  # warm-up
    out = []
    for _ in range(runs):
        t0 = time.perf_counter()
        n = fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out), n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--tags", type=int, default=10)
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    import adbc_driver_flightsql.dbapi as flight_sql
    from adbc_driver_flightsql import DatabaseOptions

    with tempfile.TemporaryDirectory() as root:
        store = f"{root}/it.hist"
        t = np.arange(DAY_S, dtype=np.int64) * 10**9
        with historian.open(store) as h:
            for i in range(args.tags):
                h.define(f"TIC-{i:03d}.PV")
                h.write(f"TIC-{i:03d}.PV", t, np.sin(t / 1e12) + i)
            h.flush()
        token = TokenFile(store).add("bench", ["*"])
        pki = make_pki(f"{root}/pki")
        server = make_server(
            store, "127.0.0.1:0", tls_cert=pki["server_cert"], tls_key=pki["server_key"]
        )
        thread = threading.Thread(target=server.serve, daemon=True)
        thread.start()
        hour = (
            "SELECT time, value FROM points WHERE tag = 'TIC-003.PV' AND time_ns >= 0 "
            "AND time_ns < 3600000000000"
        )
        day = "SELECT time, value FROM points WHERE tag = 'TIC-003.PV'"
        with open(pki["ca_cert"]) as f:
            ca = f.read()
        db = {
            DatabaseOptions.AUTHORIZATION_HEADER.value: f"Bearer {token}",
            DatabaseOptions.TLS_ROOT_CERTS.value: ca,
            DatabaseOptions.TLS_OVERRIDE_HOSTNAME.value: "localhost",
        }
        try:
            with (
                historian.open(store, mode="r") as h,
                flight_sql.connect(
                    f"grpc+tls://127.0.0.1:{server.port}", db_kwargs=db, autocommit=True
                ) as conn,
            ):

                def local(sql):
                    return lambda: h.sql(sql).to_arrow_table().num_rows

                def remote(sql):
                    def run():
                        with conn.cursor() as cur:
                            cur.execute(sql)
                            return cur.fetch_arrow_table().num_rows

                    return run

                rows = []
                for name, sql in (("1 tag x 1 h", hour), ("1 tag x 1 day", day)):
                    lt, n = _timed(local(sql), args.runs)
                    rt, n2 = _timed(remote(sql), args.runs)
                    assert n == n2
                    rows.append((name, n, lt * 1e3, rt * 1e3, n / lt, n / rt))
        finally:
            server.close()
            thread.join(10)
    print(f"{args.tags} tags x 1 day at 1 s, median of {args.runs} runs")
    print(
        f"{'query':<15}{'rows':>8}{'h.sql ms':>11}{'Flight ms':>11}{'h.sql rows/s':>15}"
        f"{'Flight rows/s':>15}{'ratio':>7}"
    )
    for name, n, lms, rms, lr, rr in rows:
        print(f"{name:<15}{n:>8,}{lms:>11.1f}{rms:>11.1f}{lr:>15,.0f}{rr:>15,.0f}{rms / lms:>7.2f}")


if __name__ == "__main__":
    main()
