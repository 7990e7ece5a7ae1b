"""Fixtures for scale-out tests: a real S3 API (moto server) and a Dask LocalCluster, both on
127.0.0.1 with ports chosen by the OS, started and stopped by the tests themselves."""

from __future__ import annotations

import os
import uuid

import pytest


@pytest.fixture(scope="session")
def moto_endpoint():
    """``http://127.0.0.1:<port>`` of a moto S3 server in its own process
    (:func:`historian.testing.moto.moto_s3`)."""
    from historian.testing.moto import moto_s3

    with moto_s3() as server:
        yield server.endpoint


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
