"""A real S3 API for tests: a moto server in its own process on 127.0.0.1, port chosen by the OS.

Needs the ``test`` extra (``moto[server]``). The server runs until the block ends (it stops
when its stdin closes, so a crashed test run leaves no server behind).

Examples
--------
>>> import historian
>>> from historian.testing.moto import moto_s3
>>> with moto_s3() as s3:                                            # doctest: +SKIP
...     uri = s3.new_store()                                         # s3://<bucket>/<prefix>
...     with historian.open(uri, storage_options=s3.options) as h:
...         _ = h.define("A")
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MotoS3", "moto_s3"]

_SERVER = """
import sys
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()   # runs until the caller closes our stdin
server.stop()
"""


@dataclass
class MotoS3:
    """A running moto S3 server: ``endpoint`` (``http://127.0.0.1:<port>``) and the
    ``options`` a store takes as ``storage_options``."""

    endpoint: str
    buckets: list[str] = field(default_factory=list)

    @property
    def options(self) -> dict[str, Any]:
        return {
            "endpoint_url": self.endpoint,
            "region": "us-east-1",
            "access_key_id": "testing",
            "secret_access_key": "testing",
            "allow_http": "true",
        }

    def client(self) -> Any:
        """A boto3 S3 client of this server."""
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def new_bucket(self) -> str:
        """Create a bucket with a fresh name; its name."""
        name = "hist-" + uuid.uuid4().hex[:8]
        self.client().create_bucket(Bucket=name)
        self.buckets.append(name)
        return name

    def new_store(self, bucket: str | None = None) -> str:
        """A fresh store URI (``s3://bucket/<random>/plant.hist``) in ``bucket`` (default: the
        first bucket of this server, created when there is none)."""
        if bucket is None:
            bucket = self.buckets[0] if self.buckets else self.new_bucket()
        return f"s3://{bucket}/{uuid.uuid4().hex[:10]}/plant.hist"


@contextmanager
def moto_s3() -> Iterator[MotoS3]:
    """Start a moto S3 server for the block (``moto[server] >= 5.2.5``)."""
    proc = subprocess.Popen(
        [sys.executable, "-c", _SERVER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        port = int(proc.stdout.readline())
        yield MotoS3(f"http://127.0.0.1:{port}")
    finally:
        proc.stdin.close()
        proc.stdout.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
