"""Where a store's shared files live: a local folder or an S3 prefix, behind one small interface.

:class:`StoreFS` wraps a :mod:`pyarrow.fs` filesystem (``LocalFileSystem`` or ``S3FileSystem``)
rooted at the store, and offers only what the store needs, with the same guarantee on both:

- :meth:`StoreFS.publish` / :meth:`StoreFS.write_bytes`: a file appears whole or not at all.
  Locally: write a temp name, fsync, rename, fsync the folder. On S3: one ``PutObject`` or one
  multipart upload, which S3 makes visible only when complete (a crash leaves no object, only an
  incomplete upload that :meth:`StoreFS.abort_stale_uploads` removes).
- :meth:`StoreFS.open_input`: a random-access file that ``pyarrow.parquet.ParquetFile`` reads
  with ranged requests.
- :meth:`StoreFS.put_if_absent` / :meth:`StoreFS.put_if_match`: conditional writes (S3
  ``If-None-Match: *`` / ``If-Match: <etag>``, answered 412 on conflict) for the writer lease.
  pyarrow's S3 filesystem has no conditional writes, so these two go through boto3 (the ``s3``
  extra). Locally: ``O_EXCL`` + ``link`` and a compare under ``flock``.
- :meth:`StoreFS.exists`, :meth:`StoreFS.size`, :meth:`StoreFS.list`, :meth:`StoreFS.delete`.

Paths given to the methods are relative to the store root and use ``/``.

Storage options for ``s3://`` (keys are case-insensitive; the ``AWS_`` prefix is optional; each
falls back to the usual AWS environment variable, then to the AWS default credential chain):

=================== ===================================================================
``endpoint_url``    e.g. ``http://127.0.0.1:9000`` (MinIO, moto); ``AWS_ENDPOINT_URL``
``region``          ``AWS_REGION`` / ``AWS_DEFAULT_REGION`` (default ``us-east-1``)
``access_key_id``   ``AWS_ACCESS_KEY_ID``
``secret_access_key`` ``AWS_SECRET_ACCESS_KEY``
``session_token``   ``AWS_SESSION_TOKEN``
``allow_http``      ``"true"`` to allow a plain-http endpoint (``AWS_ALLOW_HTTP``)
=================== ===================================================================

Examples
--------
>>> import tempfile
>>> fs = StoreFS.from_uri(tempfile.mkdtemp())
>>> fs.write_bytes("a/b.json", b"{}"); fs.read_bytes("a/b.json")
b'{}'
>>> fs.put_if_absent("a/b.json", b"[]")
False
>>> fs.list("a")
['a/b.json']
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import posixpath
import time as _time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from historian.errors import InvalidArgumentError, StoreError
from historian.storage.perms import create_file, make_dirs

log = logging.getLogger(__name__)

__all__ = ["S3Options", "StoreFS", "is_remote", "local_cache_dir"]

_CHUNK = 8 * 1024 * 1024
#: Seconds to connect to / wait for an answer from object storage (pyarrow, delta-rs, boto3).
CONNECT_TIMEOUT_S = 3.0
REQUEST_TIMEOUT_S = 10.0


def is_remote(path: Any) -> bool:
    """True for an object-storage URI (``s3://...``)."""
    return isinstance(path, str) and path.lower().startswith("s3://")


def local_cache_dir(uri: str) -> str:
    """The default local folder of a remote store: ``~/.cache/historian/<hash of the URI>``.

    The write-ahead log and temp files of a store on S3 live there (``XDG_CACHE_HOME`` is
    honoured).
    """
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    digest = hashlib.sha256(uri.rstrip("/").encode()).hexdigest()[:16]
    return os.path.join(base, "historian", digest)


def _opt(options: Mapping[str, Any], *names: str) -> Any:
    """The first of ``names`` found in options (case-insensitive, AWS_ prefix optional) or env."""
    lowered = {str(k).lower().removeprefix("aws_"): v for k, v in options.items()}
    for name in names:
        key = name.lower().removeprefix("aws_")
        if lowered.get(key) is not None:
            return lowered[key]
    for name in names:
        env = os.environ.get("AWS_" + name.upper().removeprefix("AWS_"))
        if env:
            return env
    return None


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class S3Options:
    """Resolved S3 settings, translated for pyarrow, deltalake (object_store) and boto3."""

    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)  # never in logs or reprs
    session_token: str | None = field(default=None, repr=False)
    allow_http: bool = False

    @classmethod
    def resolve(cls, options: Mapping[str, Any] | None) -> S3Options:
        options = dict(options or {})
        known = {
            "endpoint_url",
            "endpoint",
            "region",
            "default_region",
            "access_key_id",
            "secret_access_key",
            "session_token",
            "allow_http",
        }
        unknown = [k for k in options if str(k).lower().removeprefix("aws_") not in known]
        if unknown:
            raise InvalidArgumentError(
                f"unknown storage option(s) {sorted(unknown)}; known: {sorted(known)} "
                "(case-insensitive, AWS_ prefix optional)"
            )
        endpoint = _opt(options, "endpoint_url", "endpoint")
        allow_http = _opt(options, "allow_http")
        return cls(
            endpoint_url=endpoint,
            region=_opt(options, "region", "default_region") or "us-east-1",
            access_key_id=_opt(options, "access_key_id"),
            secret_access_key=_opt(options, "secret_access_key"),
            session_token=_opt(options, "session_token"),
            allow_http=_truthy(allow_http) if allow_http is not None else False,
        )

    def _endpoint_parts(self) -> tuple[str | None, str]:
        if not self.endpoint_url:
            return None, "https"
        url = self.endpoint_url
        scheme = "https"
        if "://" in url:
            scheme, url = url.split("://", 1)
        if scheme == "http" and not self.allow_http:
            raise InvalidArgumentError(
                f"endpoint {self.endpoint_url!r} is plain http: pass allow_http='true' in "
                "storage_options (test servers only; credentials travel unencrypted)"
            )
        return url.rstrip("/"), scheme

    def pyarrow(self) -> pafs.S3FileSystem:
        host, scheme = self._endpoint_parts()
        kwargs: dict[str, Any] = {"region": self.region, "scheme": scheme}
        if host:
            kwargs["endpoint_override"] = host
        if self.access_key_id and self.secret_access_key:
            kwargs.update(access_key=self.access_key_id, secret_key=self.secret_access_key)
            if self.session_token:
                kwargs["session_token"] = self.session_token
        # Bounded waits: an unreachable or frozen endpoint fails a call within seconds, and
        # the store retries it (a flush) or says so (a read), instead of hanging for minutes.
        kwargs.update(
            connect_timeout=CONNECT_TIMEOUT_S,
            request_timeout=REQUEST_TIMEOUT_S,
            retry_strategy=pafs.AwsStandardS3RetryStrategy(max_attempts=3),
        )
        return pafs.S3FileSystem(**kwargs)

    def deltalake(self) -> dict[str, str]:
        """Options for ``deltalake`` (delta-rs / object_store). No lock service is needed: delta-rs
        commits with S3 conditional writes."""
        out = {"AWS_REGION": self.region}
        if self.endpoint_url:
            out["AWS_ENDPOINT_URL"] = self.endpoint_url
        if self.allow_http:
            out["AWS_ALLOW_HTTP"] = "true"
        if self.access_key_id and self.secret_access_key:
            out["AWS_ACCESS_KEY_ID"] = self.access_key_id
            out["AWS_SECRET_ACCESS_KEY"] = self.secret_access_key
            if self.session_token:
                out["AWS_SESSION_TOKEN"] = self.session_token
        return out

    def boto3_client(self) -> Any:
        try:
            import boto3
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise StoreError(
                "stores on s3:// need boto3 for conditional writes: pip install 'historian[s3]'"
            ) from exc
        self._endpoint_parts()  # validates allow_http
        kwargs: dict[str, Any] = {"region_name": self.region}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if self.access_key_id and self.secret_access_key:
            kwargs.update(
                aws_access_key_id=self.access_key_id, aws_secret_access_key=self.secret_access_key
            )
            if self.session_token:
                kwargs["aws_session_token"] = self.session_token
        from botocore.config import Config

        kwargs["config"] = Config(
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=REQUEST_TIMEOUT_S,
            retries={"max_attempts": 3, "mode": "standard"},
        )
        return boto3.client("s3", **kwargs)

    def as_dict(self) -> dict[str, Any]:
        """Plain storage options (what a Dask worker or another process needs to reopen)."""
        out: dict[str, Any] = {"region": self.region, "allow_http": str(self.allow_http).lower()}
        for key in ("endpoint_url", "access_key_id", "secret_access_key", "session_token"):
            value = getattr(self, key)
            if value:
                out[key] = value
        return out


class StoreFS:
    """A store's shared files: a local folder or an ``s3://bucket/prefix``.

    Use :meth:`from_uri`. ``uri`` is the store's URI (absolute local path or ``s3://...``),
    ``filesystem`` the pyarrow filesystem, ``root`` the store root in that filesystem's terms.
    """

    def __init__(
        self,
        uri: str,
        filesystem: pafs.FileSystem,
        root: str,
        *,
        s3: S3Options | None = None,
        fsync: bool = True,
    ) -> None:
        self.uri = uri
        self.filesystem = filesystem
        self.root = root.rstrip("/") if root != "/" else root
        self.s3 = s3
        self.fsync = fsync
        self._client: Any = None

    @classmethod
    def from_uri(
        cls, path: Any, storage_options: Mapping[str, Any] | None = None, *, fsync: bool = True
    ) -> StoreFS:
        """A :class:`StoreFS` for a local folder (str or PathLike) or an ``s3://bucket/prefix``."""
        if is_remote(path):
            rest = path[5:].strip("/")
            bucket = rest.split("/", 1)[0]
            if not bucket:
                raise InvalidArgumentError(f"{path!r} names no bucket: use s3://bucket/prefix")
            opts = S3Options.resolve(storage_options)
            return cls(f"s3://{rest}", opts.pyarrow(), rest, s3=opts, fsync=fsync)
        if storage_options:
            raise InvalidArgumentError("storage_options apply to s3:// stores only")
        local = os.path.abspath(os.fspath(path))
        return cls(local, pafs.LocalFileSystem(), local, fsync=fsync)

    # ------------------------------------------------------------------ naming
    @property
    def is_local(self) -> bool:
        return self.s3 is None

    @property
    def bucket(self) -> str:
        return self.root.split("/", 1)[0]

    def path(self, rel: str = "") -> str:
        """The path of ``rel`` in :attr:`filesystem` terms."""
        rel = rel.strip("/")
        if ".." in rel.split("/"):
            raise StoreError(f"refusing path {rel!r}: '..' is not allowed in a store path")
        return posixpath.join(self.root, rel) if rel else self.root

    def uri_of(self, rel: str = "") -> str:
        """The full URI of ``rel`` (what deltalake, polars, DuckDB or Spark are given)."""
        p = self.path(rel)
        return f"s3://{p}" if self.s3 is not None else p

    def rel(self, uri: str) -> str:
        """``uri`` (from :meth:`uri_of`, or a path under a local root) relative to the root."""
        uri = str(uri)
        for base in (self.uri, self.root):
            if uri == base:
                return ""
            if uri.startswith(base.rstrip("/") + "/"):
                return uri[len(base.rstrip("/")) + 1 :]
        raise StoreError(f"{uri!r} is not inside the store {self.uri!r}")

    def open_uri(self, uri: str) -> pa.NativeFile:
        """:meth:`open_input` for a full URI or path inside the store (FileCache's opener)."""
        return self.open_input(self.rel(uri))

    def delta_storage_options(self, *, bounded: bool = False) -> dict[str, str] | None:
        """``storage_options`` for ``deltalake`` or polars (None for a local folder).

        ``bounded`` (the store's own commit log): waits and retries bounded as for pyarrow
        (object_store's defaults retry for up to 3 minutes against a frozen endpoint).
        """
        if self.s3 is None:
            return None
        out = self.s3.deltalake()
        if bounded:
            out.update(
                connect_timeout=f"{CONNECT_TIMEOUT_S:g}s",
                timeout=f"{REQUEST_TIMEOUT_S:g}s",
                max_retries="3",
                retry_timeout=f"{2 * REQUEST_TIMEOUT_S:g}s",
            )
        return out

    def storage_options(self) -> dict[str, Any] | None:
        """Options that reopen this store elsewhere (a Dask worker): None for a local folder."""
        return None if self.s3 is None else self.s3.as_dict()

    # ------------------------------------------------------------------ reading
    def open_input(self, rel: str) -> pa.NativeFile:
        """A random-access file (``ParquetFile`` reads it with ranged GETs on S3)."""
        return self.filesystem.open_input_file(self.path(rel))

    def read_bytes(self, rel: str) -> bytes:
        with self.filesystem.open_input_stream(self.path(rel)) as f:
            data: bytes = f.read()
        return data

    def exists(self, rel: str) -> bool:
        return bool(self.filesystem.get_file_info(self.path(rel)).type != pafs.FileType.NotFound)

    def is_dir(self, rel: str) -> bool:
        info = self.filesystem.get_file_info(self.path(rel))
        if info.type == pafs.FileType.Directory:
            return True
        if self.s3 is not None and info.type == pafs.FileType.NotFound:
            return bool(self.list(rel))  # S3 "folders" exist when something is under them
        return False

    def size(self, rel: str) -> int:
        info = self.filesystem.get_file_info(self.path(rel))
        if info.type != pafs.FileType.File:
            raise FileNotFoundError(self.uri_of(rel))
        return int(info.size)

    def list(self, rel: str = "", *, recursive: bool = False) -> list[str]:
        """Files under ``rel`` (relative paths, sorted); empty when ``rel`` does not exist."""
        sel = pafs.FileSelector(self.path(rel), allow_not_found=True, recursive=recursive)
        base = self.root + "/" if self.root != "/" else "/"
        return sorted(
            i.path[len(base) :] if i.path.startswith(base) else i.path
            for i in self.filesystem.get_file_info(sel)
            if i.type == pafs.FileType.File
        )

    def delete(self, rel: str) -> None:
        """Delete a file (missing files are fine)."""
        with contextlib.suppress(FileNotFoundError):
            self.filesystem.delete_file(self.path(rel))

    # ------------------------------------------------------------------ atomic writes
    def _makedirs(self, rel_dir: str) -> None:
        if self.s3 is None:
            make_dirs(self.path(rel_dir))  # owner and group only (perms.DIR_MODE)

    def publish(self, local_path: str, rel: str, *, keep: bool = False) -> int:
        """Publish a finished local file at ``rel``, whole or not at all; return its size.

        Locally: fsync, rename (``local_path`` must be on the same file system), fsync the folder.
        On S3: one upload (a single PUT or a multipart upload, both atomic), then a HEAD that
        checks the size. The local file is removed unless ``keep``.
        """
        size = os.path.getsize(local_path)
        if self.s3 is None:
            target = self.path(rel)
            self._makedirs(posixpath.dirname(rel))
            if self.fsync:
                fsync_path(local_path)
            if keep:
                raise InvalidArgumentError("keep=True is for remote stores only")
            os.rename(local_path, target)
            if self.fsync:
                fsync_path(os.path.dirname(target))
            return size
        target = self.path(rel)
        with (
            open(local_path, "rb") as src,
            self.filesystem.open_output_stream(target, metadata={}) as out,
        ):
            while chunk := src.read(_CHUNK):
                out.write(chunk)
        got = self.size(rel)
        if got != size:  # CompleteMultipartUpload can answer 200 with an error in its body
            self.delete(rel)
            raise StoreError(
                f"upload of {self.uri_of(rel)} stored {got} of {size} bytes; removed it"
            )
        if not keep:
            os.unlink(local_path)
        return size

    def write_bytes(self, rel: str, data: bytes) -> None:
        """Write a small file atomically (temp + fsync + rename locally; one PUT on S3)."""
        if self.s3 is not None:
            with self.filesystem.open_output_stream(self.path(rel), metadata={}) as out:
                out.write(data)
            return
        target = self.path(rel)
        self._makedirs(posixpath.dirname(rel))
        tmp = f"{target}.{uuid.uuid4().hex}.tmp"
        try:
            with os.fdopen(create_file(tmp), "wb") as f:  # perms.FILE_MODE, never a symlink
                f.write(data)
                f.flush()
                if self.fsync:
                    os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            _unlink_quiet(tmp)
            raise
        if self.fsync:
            fsync_path(os.path.dirname(target))

    # ------------------------------------------------------------------ conditional writes
    def _boto(self) -> Any:
        if self._client is None:
            assert self.s3 is not None
            self._client = self.s3.boto3_client()
        return self._client

    def _key(self, rel: str) -> str:
        return self.path(rel).split("/", 1)[1] if "/" in self.path(rel) else ""

    def get_versioned(self, rel: str) -> tuple[bytes, str] | None:
        """``(content, tag)`` of a small file, or None when absent; ``tag`` feeds
        :meth:`put_if_match` (the ETag on S3, a content hash locally)."""
        if self.s3 is not None:
            got = self.get_if_changed(rel, None)
            return None if got is None else (got[0] or b"", got[1])
        try:
            with open(self.path(rel), "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        return data, hashlib.sha256(data).hexdigest()

    def get_if_changed(self, rel: str, tag: str | None) -> tuple[bytes | None, str] | None:
        """Like :meth:`get_versioned`, but ``(None, tag)`` when ``rel`` still has version
        ``tag``: on S3 a conditional GET (``If-None-Match``, answered 304 without a body).

        An unreachable endpoint is a :class:`StoreError` (never a raw botocore error).
        """
        if self.s3 is None:
            got = self.get_versioned(rel)
            if got is not None and tag is not None and got[1] == tag:
                return None, tag
            return got
        from botocore.exceptions import BotoCoreError, ClientError

        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(rel)}
        if tag is not None:
            kwargs["IfNoneMatch"] = tag
        try:
            r = self._boto().get_object(**kwargs)
            return r["Body"].read(), r["ETag"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("NoSuchKey", "404"):
                return None
            if code == "304" or status == 304:
                assert tag is not None
                return None, tag
            raise StoreError(f"cannot read {self.uri_of(rel)}: {exc}") from exc
        except BotoCoreError as exc:  # unreachable, timed out, closed connection
            raise StoreError(
                f"cannot read {self.uri_of(rel)}: the object storage did not answer ({exc})"
            ) from exc

    def put_if_absent(self, rel: str, data: bytes) -> bool:
        """Create ``rel`` with ``data`` only if it does not exist; False if it did (no write).

        S3: ``PutObject`` with ``If-None-Match: *`` (412 PreconditionFailed when present).
        Locally: a temp file linked to the name (``link`` fails if the name exists).
        """
        if self.s3 is not None:
            return self._conditional_put(rel, data, IfNoneMatch="*") is not None
        target = self.path(rel)
        self._makedirs(posixpath.dirname(rel))
        tmp = f"{target}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            if self.fsync:
                os.fsync(f.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        finally:
            _unlink_quiet(tmp)
        if self.fsync:
            fsync_path(os.path.dirname(target))
        return True

    def put_if_match(self, rel: str, data: bytes, tag: str) -> bool:
        """Replace ``rel`` only if it still has version ``tag`` (compare-and-swap); False if not.

        S3: ``PutObject`` with ``If-Match: <etag>``. Locally: compare and replace under an
        ``flock`` on ``<rel>.cas``.
        """
        return self.swap(rel, data, tag) is not None

    def swap(self, rel: str, data: bytes, tag: str) -> str | None:
        """:meth:`put_if_match` that returns the new version's tag (None: not replaced), so a
        caller needs no second request to learn it."""
        if self.s3 is not None:
            return self._conditional_put(rel, data, IfMatch=tag)
        target = self.path(rel)
        fd = os.open(target + ".cas", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            current = self.get_versioned(rel)
            if current is None or current[1] != tag:
                return None
            self.write_bytes(rel, data)
            return hashlib.sha256(data).hexdigest()
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _conditional_put(self, rel: str, data: bytes, **condition: str) -> str | None:
        """The new object's ETag, or None when the condition failed (412/409)."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            r = self._boto().put_object(
                Bucket=self.bucket, Key=self._key(rel), Body=data, **condition
            )
        except BotoCoreError as exc:  # unreachable, timed out, closed connection
            raise StoreError(
                f"conditional write of {self.uri_of(rel)} failed: the object storage did not "
                f"answer ({exc})"
            ) from exc
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
                return None
            raise StoreError(f"conditional write of {self.uri_of(rel)} failed: {exc}") from exc
        return str(r["ETag"])

    def abort_stale_uploads(self, older_than_s: float = 0.0) -> int:
        """Abort incomplete multipart uploads under the store (left by a crashed writer).

        Only uploads started more than ``older_than_s`` seconds ago; returns how many. A no-op
        locally (temp files there are swept by the store).
        """
        if self.s3 is None:
            return 0
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._abort_stale_uploads(older_than_s)
        except (BotoCoreError, ClientError) as exc:
            raise StoreError(
                f"cannot list or abort incomplete uploads under {self.uri}: {exc}"
            ) from exc

    def _abort_stale_uploads(self, older_than_s: float) -> int:
        client = self._boto()
        prefix = self._key("") + "/" if self._key("") else ""
        cutoff = _time.time() - older_than_s
        aborted = 0
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            page = client.list_multipart_uploads(**kwargs)
            for up in page.get("Uploads", []):
                if up["Initiated"].timestamp() <= cutoff:
                    client.abort_multipart_upload(
                        Bucket=self.bucket, Key=up["Key"], UploadId=up["UploadId"]
                    )
                    aborted += 1
            if not page.get("IsTruncated"):
                break
            kwargs.update(
                KeyMarker=page.get("NextKeyMarker"), UploadIdMarker=page.get("NextUploadIdMarker")
            )
        if aborted:
            log.info("aborted %d incomplete upload(s) under %s", aborted, self.uri)
        return aborted

    def __repr__(self) -> str:
        return f"StoreFS({self.uri!r})"


def fsync_path(path: str) -> None:
    """fsync a file or a folder (a folder: so a rename or a new name in it is durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quiet(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
