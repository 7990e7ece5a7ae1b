"""Real asyncua servers on 127.0.0.1 for the OPC UA source and collector tests."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
import struct
from dataclasses import dataclass, field
from typing import Any

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.user_managers import UserManager

from historian.acquisition.pki import SERVER_URI

NS = "urn:historian:test"

# asyncua's server is chatty at WARNING about its permissive defaults; keep test output readable.
logging.getLogger("asyncua.server").setLevel(logging.ERROR)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Users(UserManager):
    """Users and passwords; ``seen`` records every (user, password) a client presented."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.seen: list[tuple[str | None, str | None]] = []

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:  # fmt: skip
        if username is not None or password is not None:
            self.seen.append((username, password))
        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


@dataclass
class UaServer:
    """A small asyncua server with variables ``Line1.<name>`` in namespace :data:`NS`."""

    port: int
    names: tuple[str, ...] = ("Temp", "Flow")
    pki: dict[str, str] | None = None  # historian.acquisition.pki.make_pki output: secure only
    users: dict[str, str] | None = None
    extra_namespaces: tuple[str, ...] = ()
    application_uri: str = SERVER_URI
    plaintext_user_tokens: bool = False  # UserName token policy None on every endpoint
    server: Any = None
    nodes: dict[str, Any] = field(default_factory=dict)
    user_manager: Any = None

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/test/"

    def node_id(self, name: str) -> str:
        return f"nsu={NS};s=Line1.{name}"

    async def start(self) -> UaServer:
        self.user_manager = _Users(self.users) if self.users is not None else None
        s = Server(user_manager=self.user_manager)
        await s.init()
        s.set_endpoint(self.url)
        s.disable_clock()
        if self.pki is not None:
            s.set_security_policy([
                ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
                ua.SecurityPolicyType.Basic256Sha256_Sign,
            ])  # fmt: skip
            await s.load_certificate(self.pki["server_cert_der"])
            await s.load_private_key(self.pki["server_key"], format="pem")
            await s.set_application_uri(self.application_uri)
        else:
            s.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        if self.users is not None:
            s.set_identity_tokens([ua.UserNameIdentityToken])
        for uri in self.extra_namespaces:
            await s.register_namespace(uri)
        idx = await s.register_namespace(NS)
        line = await s.nodes.objects.add_object(ua.NodeId("Line1", idx), "Line1")
        for name in self.names:
            self.nodes[name] = await line.add_variable(
                ua.NodeId(f"Line1.{name}", idx),
                ua.QualifiedName(name, 0),
                0.0,
                ua.VariantType.Double,
            )
        await s.start()
        if self.plaintext_user_tokens:  # a server that asks for the password in clear
            for edp in s.iserver.endpoints:
                for tok in edp.UserIdentityTokens:
                    if tok.TokenType == ua.UserTokenType.UserName:
                        tok.SecurityPolicyUri = "http://opcfoundation.org/UA/SecurityPolicy#None"
        self.server = s
        return self

    async def write(self, name: str, value: float | None, *, status: int = 0,
                    source_time: dt.datetime | None = None) -> None:  # fmt: skip
        variant = ua.Variant(value, ua.VariantType.Double) if value is not None else ua.Variant()
        dv = ua.DataValue(
            variant,
            StatusCode=ua.StatusCode(status),
            SourceTimestamp=source_time,
            ServerTimestamp=dt.datetime.now(dt.UTC),
        )
        await self.server.write_attribute_value(self.nodes[name].nodeid, dv)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
            await asyncio.sleep(0.05)


class FloodServer:
    """A hostile OPC UA endpoint on 127.0.0.1: it answers the Hello with an Acknowledge that
    lifts every limit (MaxMessageSize = MaxChunkCount = 0), then floods until the client closes
    the connection or ``cap`` bytes were sent.

    ``mode = "huge"`` answers OpenSecureChannel with one chunk whose header declares almost
    4 GiB; ``mode = "chunks"`` opens the (None) secure channel properly, then answers the first
    request with well-formed 64 kB intermediate chunks of a message that never ends.
    """

    _NONE = b"http://opcfoundation.org/UA/SecurityPolicy#None"

    def __init__(self, mode: str, cap: int = 48 * 2**20) -> None:
        self.mode, self.cap = mode, cap
        self.sent = 0
        self.closed_by_client = asyncio.Event()
        self.server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"opc.tcp://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/flood"

    async def start(self) -> FloodServer:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
        for t in list(self._tasks):
            t.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @staticmethod
    async def _message(reader: asyncio.StreamReader) -> bytes:
        head = await reader.readexactly(8)
        return head + await reader.readexactly(struct.unpack("<I", head[4:8])[0] - 8)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        from asyncua.ua.ua_binary import struct_to_binary

        self._tasks.add(asyncio.current_task())  # type: ignore[arg-type]
        try:
            await self._message(reader)  # Hello
            writer.write(b"ACKF" + struct.pack("<IIIIII", 28, 0, 65536, 65536, 0, 0))
            opn = await self._message(reader)
            pos = 12
            for _ in range(3):  # SecurityPolicyUri, SenderCertificate, ReceiverThumbprint
                n = struct.unpack_from("<i", opn, pos)[0]
                pos += 4 + max(n, 0)
            request_id = struct.unpack_from("<I", opn, pos + 4)[0]
            asym = struct.pack("<i", len(self._NONE)) + self._NONE + struct.pack("<ii", -1, -1)
            payload = b"\0" * 65000
            if self.mode == "huge":
                writer.write(b"OPNF" + struct.pack("<II", 0xFFFFFFF0, 0) + asym)
            else:
                resp = ua.OpenSecureChannelResponse()
                resp.Parameters.SecurityToken = ua.ChannelSecurityToken(
                    ChannelId=7, TokenId=1, CreatedAt=dt.datetime.now(dt.UTC),
                    RevisedLifetime=3_600_000)  # fmt: skip
                resp.Parameters.ServerNonce = b""
                body = asym + struct.pack("<II", 1, request_id) + struct_to_binary(resp)
                writer.write(b"OPNF" + struct.pack("<II", 12 + len(body), 7) + body)
                msg = await self._message(reader)
                request_id = struct.unpack_from("<I", msg, 20)[0]
            seq = 2
            while self.sent < self.cap:
                if self.mode == "huge":
                    data = payload
                else:
                    sec = struct.pack("<III", 1, seq, request_id)
                    data = b"MSGC" + struct.pack("<II", 12 + len(sec) + len(payload), 7)
                    data += sec + payload
                    seq += 1
                writer.write(data)
                await writer.drain()
                self.sent += len(data)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.closed_by_client.set()
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
