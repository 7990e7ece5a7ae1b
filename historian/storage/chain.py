"""The hash chain over the commit log: what each commit records so that tampering shows.

Every commit historian writes carries, in the Delta ``commitInfo`` (custom metadata key
``historian.chain``), a small JSON record::

    {"v": 1,
     "prev": "<SHA-256 of the previous commit's JSON file, byte for byte>",
     "adds": [[path, size, "<SHA-256 of the file>", "<SHA-256 of the add's stats string>"], ...],
     "removes": [path, ...],
     "wal": ["historian-wal", 12],                  # the WAL position this commit covers, or null
     "manifest": {path: [size, sha256 or null]},     # at checkpoints: all live files
     "key": "<key id>"}                              # only when signed

and, when the store has a signing key, ``historian.sig``: an Ed25519 signature (base64) over the
record's exact text. Because ``prev`` hashes the previous file's bytes, changing any byte of an
older commit breaks the link of the next one; ``adds`` pins each file's content and the stats a
reader prunes with. The newest commit is also recorded outside the log in
``points/_historian/head.json`` (version and SHA-256, signed when a key is given), so a deleted or
rewritten newest commit is seen.

The manifest carries the hashes of files added by commits that Delta's log cleanup later deletes:
it is written at the versions delta-rs checkpoints (49, 99, ...: ``delta.checkpointInterval`` is
50), whose JSON the cleanup keeps as the oldest.

Examples
--------
>>> text = build_record("00" * 32, [("day=x/a.parquet", 10, "ab" * 32, "{}")], [], None)
>>> rec = parse_record(text)
>>> rec["adds"][0][:2]
['day=x/a.parquet', 10]
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from historian.errors import CorruptDataError, InvalidArgumentError

CHAIN_KEY = "historian.chain"
SIG_KEY = "historian.sig"
HEAD_REL = "_historian/head.json"
MANIFEST_EVERY = 50  # = delta.checkpointInterval (see table.TABLE_CONFIG)
HOUSEKEEPING = ("VACUUM START", "VACUUM END")  # delta-rs commits with no actions of ours
_CHUNK = 1 << 20


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_stream(f: Any) -> tuple[str, int]:
    """(SHA-256 hex, bytes read) of a binary file object, read in 1 MiB chunks."""
    h = hashlib.sha256()
    n = 0
    while chunk := f.read(_CHUNK):
        h.update(chunk)
        n += len(chunk)
    return h.hexdigest(), n


def stats_digest(stats: str | None) -> str:
    """The SHA-256 of an add action's stats string as written ("" when it has none)."""
    return "" if stats is None else sha256_bytes(stats.encode())


def bad_path(relpath: str) -> str | None:
    """Why ``relpath`` is not a path inside the table (None when it is one)."""
    if not isinstance(relpath, str) or not relpath:
        return "an empty path"
    if relpath.startswith(("/", "\\")) or (len(relpath) > 1 and relpath[1] == ":"):
        return "an absolute path"
    if "://" in relpath or relpath.split("/", 1)[0].endswith(":"):
        return "a URL"
    parts = relpath.replace("\\", "/").split("/")
    if ".." in parts or "." in parts:
        return "a path with '..'"
    if "\x00" in relpath:
        return "a path with NUL"
    return None


def build_record(
    prev: str | None,
    adds: Iterable[tuple[str, int, str, str | None]],
    removes: Iterable[str],
    wal: tuple[str, int] | None,
    manifest: dict[str, tuple[int, str | None]] | None = None,
    key_id: str | None = None,
) -> str:
    """The chain record text of one commit (``adds``: path, size, sha256, stats string)."""
    doc: dict[str, Any] = {
        "v": 1,
        "prev": prev,
        "adds": [[p, int(s), h, stats_digest(st)] for p, s, h, st in adds],
        "removes": list(removes),
        "wal": None if wal is None else [wal[0], int(wal[1])],
    }
    if manifest is not None:
        doc["manifest"] = {p: [int(s), h] for p, (s, h) in sorted(manifest.items())}
    if key_id is not None:
        doc["key"] = key_id
    return json.dumps(doc, separators=(",", ":"), sort_keys=True)


def parse_record(text: str) -> dict[str, Any]:
    doc = json.loads(text)
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise ValueError("not a version 1 chain record")
    return doc


@dataclass
class Commit:
    """One commit JSON file of the Delta log, parsed."""

    version: int
    sha256: str  # of the file's bytes
    info: dict[str, Any]
    adds: list[dict[str, Any]] = field(default_factory=list)
    removes: list[str] = field(default_factory=list)
    txns: dict[str, int] = field(default_factory=dict)
    other: list[str] = field(default_factory=list)  # other action kinds (metaData, protocol...)
    record_text: str | None = None
    sig: str | None = None

    @property
    def record(self) -> dict[str, Any] | None:
        return None if self.record_text is None else parse_record(self.record_text)

    @property
    def operation(self) -> str:
        return str(self.info.get("operation", ""))


def parse_commit(version: int, data: bytes) -> Commit:
    """Parse a commit file; :class:`CorruptDataError` names the line that is not valid."""
    c = Commit(version, sha256_bytes(data), {})
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CorruptDataError(f"commit {version} is not UTF-8 text (byte {exc.start})") from exc
    lines = [ln for ln in text.split("\n") if ln.strip()]
    if not lines:
        raise CorruptDataError(f"commit {version} is empty")
    for i, line in enumerate(lines, 1):
        try:
            action = json.loads(line)
        except ValueError as exc:
            raise CorruptDataError(f"commit {version}, line {i} is not valid JSON ({exc})") from exc
        if not isinstance(action, dict) or len(action) != 1:
            raise CorruptDataError(f"commit {version}, line {i} is not one Delta action")
        kind, body = next(iter(action.items()))
        if not isinstance(body, dict):
            raise CorruptDataError(f"commit {version}, line {i}: {kind} is not an object")
        if kind == "commitInfo":
            c.info = body
            rec = body.get(CHAIN_KEY)
            c.record_text = rec if isinstance(rec, str) else None
            sig = body.get(SIG_KEY)
            c.sig = sig if isinstance(sig, str) else None
        elif kind == "add":
            c.adds.append(body)
        elif kind == "remove":
            c.removes.append(str(body.get("path")))
        elif kind == "txn":
            c.txns[str(body.get("appId"))] = int(body.get("version", -1))
        else:
            c.other.append(kind)
    if c.record_text is not None:
        try:
            parse_record(c.record_text)
        except ValueError as exc:
            raise CorruptDataError(
                f"commit {version}: its chain record is not valid ({exc})"
            ) from exc
    return c


def check_commit(c: Commit) -> str | None:
    """What in a chained commit differs from its own record (None: consistent)."""
    rec = c.record
    if rec is None:
        return None
    want = {(a[0], int(a[1]), a[3]) for a in rec["adds"]}
    have = {(a.get("path"), a.get("size"), stats_digest(a.get("stats"))) for a in c.adds}
    if want != have:
        extra = sorted(str(x[0]) for x in have - want)
        missing = sorted(str(x[0]) for x in want - have)
        if extra and missing and set(extra) == set(missing):
            return f"add action of {extra[0]} differs from the chain record (size or stats edited)"
        if extra:
            return f"add action {extra[0]} is not in the chain record (added after the commit)"
        return f"file {missing[0]} of the chain record has no add action (removed from the commit)"
    if sorted(rec["removes"]) != sorted(c.removes):
        return "remove actions differ from the chain record"
    wal = rec.get("wal")
    if wal is not None and c.txns.get(wal[0]) != wal[1]:
        return f"WAL position {c.txns.get(wal[0])} differs from the chain record ({wal[1]})"
    return None


def chain_to_manifest(read_commit: Callable[[int], Commit], version: int) -> list[Commit]:
    """The chained commits from ``version`` back to the newest one with a manifest (newest
    first); stops early at a commit without a record or one that cannot be read."""
    chain: list[Commit] = []
    for v in range(version, -1, -1):
        try:
            c = read_commit(v)
        except (FileNotFoundError, CorruptDataError):
            break
        if c.record is None:
            break
        chain.append(c)
        if "manifest" in c.record:
            break
    return chain


# ---------------------------------------------------------------------- signing
def _read_key_source(source: Any, what: str) -> bytes:
    if isinstance(source, bytes):
        return source
    text = os.fspath(source)
    if text.startswith("env:"):
        name = text[4:]
        value = os.environ.get(name)
        if not value:
            raise InvalidArgumentError(
                f"the environment variable {name} holding the {what} is unset"
            )
        return value.encode()
    try:
        with open(text, "rb") as f:
            return f.read()
    except OSError as exc:
        raise InvalidArgumentError(
            f"cannot read the {what} file {text} ({exc.strerror or exc})"
        ) from exc


def key_id(public_raw: bytes) -> str:
    return hashlib.sha256(public_raw).hexdigest()[:16]


class Signer:
    """An Ed25519 private key that signs chain records (never logged, never in a repr).

    ``source``: a PEM (PKCS#8) file path, ``"env:NAME"`` (an environment variable holding the
    PEM text), PEM bytes, or a ``cryptography`` ``Ed25519PrivateKey``.

    Examples
    --------
    >>> from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    >>> s = Signer(Ed25519PrivateKey.generate())
    >>> Verifier(s.public_pem()).check("text", s.sign("text"))
    True
    """

    def __init__(self, source: Any) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        if isinstance(source, Ed25519PrivateKey):
            key = source
        else:
            data = _read_key_source(source, "signing key")
            try:
                loaded = serialization.load_pem_private_key(data, password=None)
            except (ValueError, TypeError):  # the message would not echo key material
                raise InvalidArgumentError(
                    "the signing key is not an unencrypted PEM (PKCS#8) private key"
                ) from None
            if not isinstance(loaded, Ed25519PrivateKey):
                raise InvalidArgumentError("the signing key must be an Ed25519 key")
            key = loaded
        self._key = key
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.key_id = key_id(raw)

    def sign(self, text: str) -> str:
        return base64.b64encode(self._key.sign(text.encode())).decode()

    def public_pem(self) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def __repr__(self) -> str:
        return f"<Signer key_id={self.key_id}>"


class Verifier:
    """An Ed25519 public key (PEM file path, ``"env:NAME"`` or PEM bytes) that checks records."""

    def __init__(self, source: Any) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        data = _read_key_source(source, "public key")
        try:
            key = serialization.load_pem_public_key(data)
        except (ValueError, TypeError):
            raise InvalidArgumentError("the public key is not a PEM public key") from None
        if not isinstance(key, Ed25519PublicKey):
            raise InvalidArgumentError("the public key must be an Ed25519 key")
        self._key = key
        self.key_id = key_id(
            key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )

    def check(self, text: str, sig: str | None) -> bool:
        from cryptography.exceptions import InvalidSignature

        if not sig:
            return False
        try:
            self._key.verify(base64.b64decode(sig, validate=True), text.encode())
        except (InvalidSignature, ValueError):
            return False
        return True


def head_text(version: int, sha: str) -> str:
    return f"{version}:{sha}"
