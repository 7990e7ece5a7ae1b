"""Fixtures for scale-out tests: a real S3 API (moto server) and a Dask LocalCluster, both on
127.0.0.1 with ports chosen by the OS, started and stopped by the tests themselves."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest

_MOTO = """
import sys, time
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()   # runs until the test session closes our stdin
server.stop()
"""


@pytest.fixture(scope="session")
def moto_endpoint():
    """``http://127.0.0.1:<port>`` of a moto S3 server in its own process (moto[server] >= 5.2.5)."""
    import moto  # noqa: F401 - the test extra pins moto>=5.2.5
    proc = subprocess.Popen(
        [sys.executable, "-c", _MOTO],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        port = int(proc.stdout.readline())
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stdin.close()
        proc.stdout.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def s3_options(moto_endpoint):
    return {
        "endpoint_url": moto_endpoint,
        "region": "us-east-1",
        "access_key_id": "testing",
        "secret_access_key": "testing",
        "allow_http": "true",
    }


@pytest.fixture(scope="session")
def s3_bucket(s3_options):
    import boto3

    name = "hist-" + uuid.uuid4().hex[:8]
    client = boto3.client(
        "s3",
        endpoint_url=s3_options["endpoint_url"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=name)
    return name


@pytest.fixture
def s3_uri(s3_bucket):
    """A fresh store prefix in the test bucket."""
    return f"s3://{s3_bucket}/{uuid.uuid4().hex[:10]}/plant.hist"


@pytest.fixture(scope="session")
def dask_client():
    """A ``dask.distributed`` client of a LocalCluster: 2 worker processes, 1 thread each,
    on 127.0.0.1, the dashboard on a random loopback port."""
    import distributed
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        # A random port: the scheduler's HTTP server binds even without a dashboard, and a
        # busy 8787 (another cluster on the machine) would otherwise fail the start-up.
        dashboard_address="127.0.0.1:0",
        worker_dashboard_address=None,
        silence_logs=40,
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
        os.environ.pop("DASK_DISTRIBUTED__WORKER__DAEMON", None)


@pytest.fixture
def s3_proxy(moto_endpoint):
    """A :class:`proxy.TcpProxy` on 127.0.0.1 in front of the moto server: kill it
    (connections refused) or freeze it (accepts, forwards nothing) to make an S3 outage."""
    from .proxy import TcpProxy

    port = int(moto_endpoint.rsplit(":", 1)[1])
    proxy = TcpProxy(("127.0.0.1", port))
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def proxied_s3_options(s3_options, s3_proxy):
    """``s3_options`` with the endpoint behind :func:`s3_proxy`."""
    return {**s3_options, "endpoint_url": s3_proxy.url}
