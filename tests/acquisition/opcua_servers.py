"""Real asyncua servers on 127.0.0.1 for the OPC UA source and collector tests."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
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
    def __init__(self, users: dict[str, str]) -> None:
        self.users = users

    def get_user(self, iserver: Any, username: str | None = None, password: str | None = None,
                 certificate: Any = None) -> User | None:  # fmt: skip
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
    server: Any = None
    nodes: dict[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"opc.tcp://127.0.0.1:{self.port}/test/"

    def node_id(self, name: str) -> str:
        return f"nsu={NS};s=Line1.{name}"

    async def start(self) -> UaServer:
        s = Server(user_manager=_Users(self.users) if self.users is not None else None)
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
            await s.set_application_uri(SERVER_URI)
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
                ua.NodeId(f"Line1.{name}", idx), name, 0.0, ua.VariantType.Double
            )
        await s.start()
        self.server = s
        return self

    async def write(self, name: str, value: float | None, *, status: int = 0,
                    source_time: dt.datetime | None = None) -> None:  # fmt: skip
        variant = ua.Variant(value, ua.VariantType.Double) if value is not None else ua.Variant()
        dv = ua.DataValue(
            variant, StatusCode=ua.StatusCode(status), SourceTimestamp=source_time,
            ServerTimestamp=dt.datetime.now(dt.UTC),
        )
        await self.server.write_attribute_value(self.nodes[name].nodeid, dv)

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None
            await asyncio.sleep(0.05)
