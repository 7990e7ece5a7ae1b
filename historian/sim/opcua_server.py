"""A real asyncua server publishing plant values with SourceTimestamps and StatusCodes.

Namespace URI :data:`NAMESPACE_URI` (``urn:historian:sim``); variables have string NodeIds such as
``ns=2;s=Reactor.Temperature`` (resolve the index from the URI: ``nsu=urn:historian:sim;s=...``).

Security: by default the server offers SecurityPolicy None and anonymous login (a lab
simulator). With ``secure=True`` it offers only Basic256Sha256 Sign and SignAndEncrypt with a
certificate from :func:`historian.acquisition.pki.make_pki`, accepts only client certificates
signed by that CA, and only user/password logins (``users``); ``allow_insecure=True`` adds the
None endpoint back.

Fault injection: :meth:`SimOpcuaServer.stop`/:meth:`~SimOpcuaServer.start` (same port),
:meth:`~SimOpcuaServer.freeze` (values stop changing), :meth:`~SimOpcuaServer.set_status`
(a Bad/Uncertain StatusCode, with a null value when Bad, on chosen tags).
"""

from __future__ import annotations

import datetime as _dt
import logging
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any, cast

from historian.model import quality as q
from historian.sim.plant import TAGS, TagInfo

__all__ = ["NAMESPACE_URI", "SimOpcuaServer", "free_port"]

log = logging.getLogger(__name__)

NAMESPACE_URI = "urn:historian:sim"
_STRING_TAGS = {"REACTOR.STATE", "REACTOR.BATCH"}
_COUNTER_TAGS = {"P-106.STARTS", "P-106.RUNTIME", "JQ-101.ENERGY"}


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _node_id(name: str, idx: int) -> Any:
    from asyncua import ua

    return ua.NodeId(cast(Any, name), cast(Any, idx))  # asyncua's stubs want its own int types


class _Users:
    """asyncua user manager: user/password pairs, nothing else."""

    def __init__(self, users: Mapping[str, str]):
        self.users = dict(users)

    def get_user(
        self,
        iserver: Any,
        username: str | None = None,
        password: str | None = None,
        certificate: Any = None,
    ) -> Any:
        from asyncua.crypto.permission_rules import User, UserRole

        if username is not None and self.users.get(username) == password:
            return User(role=UserRole.User, name=username)
        return None


class SimOpcuaServer:
    """An OPC UA server on ``host:port`` with one variable per plant tag.

    Parameters
    ----------
    tags : dict of tag -> TagInfo, optional
        The variables (default: the plant's :data:`~historian.sim.plant.TAGS`; the NodeId is
        ``TagInfo.opcua``).
    port : int
        0 picks a free port (kept across restarts).
    secure : bool
        Basic256Sha256 Sign/SignAndEncrypt only, CA-validated client certificates, user/password.
    pki : dict, optional
        Paths from :func:`~historian.acquisition.pki.make_pki` (needed when ``secure``).
    users : dict, optional
        username -> password accepted when ``secure`` (default ``{"operator": "operator-pw"}``).
    allow_insecure : bool
        With ``secure``, also offer SecurityPolicy None.
    """

    def __init__(
        self,
        tags: Mapping[str, TagInfo] | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        secure: bool = False,
        pki: Mapping[str, str] | None = None,
        users: Mapping[str, str] | None = None,
        allow_insecure: bool = False,
    ):
        self.tags = dict(TAGS if tags is None else tags)
        self.host = host
        self.port = port or free_port(host)
        self.secure = secure
        self.pki = dict(pki or {})
        if secure and not self.pki:
            raise ValueError("secure=True needs pki= (paths from acquisition.pki.make_pki)")
        self.users = dict(users or {"operator": "operator-pw"})
        self.allow_insecure = allow_insecure
        self.frozen = False
        self.status: dict[str, int] = {}
        self.namespace_index: int | None = None
        self._server: Any = None
        self._nodes: dict[str, Any] = {}
        self._types: dict[str, Any] = {}
        self._last: dict[str, tuple[Any, int]] = {}

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/historian/sim/"

    @property
    def running(self) -> bool:
        return self._server is not None

    def node_id(self, tag: str) -> str:
        """The NodeId string of ``tag`` with the namespace URI (``nsu=...;s=...``)."""
        return f"nsu={NAMESPACE_URI};s={self.tags[tag].opcua}"

    async def start(self) -> None:
        """Start (again) on the same port; the last values are published again."""
        if self._server is not None:
            return
        from asyncua import Server, ua

        server = Server(user_manager=cast(Any, _Users(self.users)) if self.secure else None)
        await server.init()
        server.set_endpoint(self.endpoint)
        server.set_server_name("historian simulated plant")
        if self.secure:
            from asyncua.crypto.truststore import TrustStore
            from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

            from historian.acquisition.pki import SERVER_URI

            await server.set_application_uri(SERVER_URI)
            policies = [
                ua.SecurityPolicyType.Basic256Sha256_Sign,
                ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt,
            ]
            if self.allow_insecure:
                policies.insert(0, ua.SecurityPolicyType.NoSecurity)
            server.set_security_policy(policies)
            server.set_identity_tokens([ua.UserNameIdentityToken])
            await server.load_certificate(self.pki["server_cert_der"])
            await server.load_private_key(self.pki["server_key"])
            store = TrustStore([Path(self.pki["trusted"])], [])
            await store.load()
            opts = (
                CertificateValidatorOptions.TRUSTED_VALIDATION
                | CertificateValidatorOptions.PEER_CLIENT
            )
            server.set_certificate_validator(CertificateValidator(opts, store))
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
            server.set_identity_tokens([ua.AnonymousIdentityToken])  # no passwords in clear
        idx = await server.register_namespace(NAMESPACE_URI)
        self.namespace_index = idx
        objects = server.nodes.objects
        folders: dict[str, Any] = {}
        self._nodes.clear()
        for tag, info in self.tags.items():
            folder_name = info.opcua.split(".")[0]
            if folder_name not in folders:
                folders[folder_name] = await objects.add_object(
                    _node_id(folder_name, idx), ua.QualifiedName(folder_name, idx)
                )
            vt, init = self._variant_type(tag)
            var = await folders[folder_name].add_variable(
                _node_id(info.opcua, idx),
                ua.QualifiedName(info.opcua.split(".", 1)[-1], idx),
                init,
                vt,
            )
            await var.write_attribute(
                ua.AttributeIds.Description,
                ua.DataValue(
                    ua.Variant(
                        ua.LocalizedText(f"{info.description} [{info.unit}]"),
                        ua.VariantType.LocalizedText,
                    )
                ),
            )
            self._nodes[tag] = var.nodeid
            self._types[tag] = vt
        await server.start()
        self._server = server
        log.info("sim OPC UA server listening on %s (secure=%s)", self.endpoint, self.secure)
        if self._last:
            last, self._last = self._last, {}
            for tag, (value, t_ns) in last.items():
                await self._write(tag, value, t_ns)

    def _variant_type(self, tag: str) -> tuple[Any, Any]:
        from asyncua import ua

        if tag in _STRING_TAGS:
            return ua.VariantType.String, ""
        if tag in _COUNTER_TAGS:
            return ua.VariantType.UInt32, 0
        info = self.tags[tag]
        if info.kind == "step" and info.lo == 0 and info.hi == 1:
            return ua.VariantType.Boolean, False
        return ua.VariantType.Double, 0.0

    async def stop(self) -> None:
        """Stop the server (clients see the connection drop)."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop()
            log.info("sim OPC UA server on port %s stopped", self.port)

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    def freeze(self, on: bool = True) -> None:
        """While on, :meth:`publish` ignores new values."""
        self.frozen = on

    def set_status(self, tag: str, status: int | None) -> None:
        """Publish ``tag`` with StatusCode ``status`` from now on (None: back to Good)."""
        if status is None:
            self.status.pop(tag, None)
        else:
            self.status[tag] = int(status)

    async def publish(self, values: Mapping[str, Any], t_ns: int) -> None:
        """Write the values of the tags this server has, stamped with SourceTimestamp ``t_ns``."""
        if self.frozen:
            return
        for tag, value in values.items():
            if tag in self.tags:
                await self._write(tag, value, t_ns)

    async def _write(self, tag: str, value: Any, t_ns: int) -> None:
        from asyncua import ua

        self._last[tag] = (value, t_ns)
        if self._server is None:
            return
        vt = self._types[tag]
        status = self.status.get(tag, q.GOOD)
        if q.is_bad(status):
            variant = ua.Variant()
        elif vt == ua.VariantType.UInt32:
            variant = ua.Variant(int(value), vt)
        elif vt == ua.VariantType.Boolean:
            variant = ua.Variant(bool(value), vt)
        elif vt == ua.VariantType.String:
            variant = ua.Variant(str(value), vt)
        else:
            variant = ua.Variant(float(value), vt)
        ts = _dt.datetime.fromtimestamp(t_ns / 1e9, _dt.UTC)
        dv = ua.DataValue(
            variant,
            StatusCode=ua.StatusCode(cast(Any, status)),
            SourceTimestamp=cast(Any, ts),
            ServerTimestamp=cast(Any, _dt.datetime.now(_dt.UTC)),
        )
        await self._server.write_attribute_value(self._nodes[tag], dv)
