"""Browse an OPC UA server for variables, and write a ``[[opcua]]`` config stub for them.

:func:`browse` (blocking) and :func:`abrowse` connect like the source does (same security
checks, same error mapping), walk the address space from ``root`` and return the variables with
their node ids in namespace-URI form and a suggested tag name; :func:`config_stub` turns them
into TOML for ``historian collect``. ``historian browse`` is the command-line face of both.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from historian.acquisition.config import OpcUaSourceConfig, check_opcua_security
from historian.acquisition.opcua_errors import opcua_errors
from historian.acquisition.text import printable, toml_string
from historian.errors import SourceSecurityError

__all__ = ["BrowsedVariable", "abrowse", "browse", "config_stub", "connected", "suggest_tag"]


@dataclass(frozen=True)
class BrowsedVariable:
    """A variable found by :func:`browse`.

    Attributes
    ----------
    node : str
        Node id in namespace-URI form (``nsu=<uri>;s=...``), stable across server restarts.
    path : str
        Browse path from the start node, e.g. ``"Objects/Reactor/Temperature"``.
    data_type : str
        The variable's data type name (``"Double"``, ``"Boolean"``, ...).
    tag : str
        A suggested tag name derived from the path.
    """

    node: str
    path: str
    data_type: str
    tag: str


def _nsu_form(nid: Any, ns_array: Sequence[str]) -> str:
    text = nid.to_string()
    if nid.NamespaceIndex == 0 or nid.NamespaceIndex >= len(ns_array):
        return text
    body = text.split(";", 1)[1] if text.startswith("ns=") else text
    return f"nsu={ns_array[nid.NamespaceIndex]};{body}"


def suggest_tag(path: str) -> str:
    """The tag name :func:`browse` suggests for a browse path (``Objects/`` dropped, segments
    joined by ``.``, other characters replaced by ``_``).

    >>> suggest_tag("Objects/Reactor 1/Temperature")
    'Reactor_1.Temperature'
    """
    parts = path.split("/")
    if parts and parts[0] == "Objects":
        parts = parts[1:]
    name = ".".join(re.sub(r"[^A-Za-z0-9._:-]+", "_", p).strip("_.") for p in parts if p)
    name = re.sub(r"\.{2,}", ".", name).lstrip("._-:") or "tag"
    return name[:200]


@contextlib.asynccontextmanager
async def connected(
    url: str,
    *,
    security: OpcUaSourceConfig | None = None,
    allow_insecure: bool = False,
    what: str = "browse",
) -> AsyncIterator[Any]:
    """An asyncua client connected to ``url`` as the source connects (same security checks,
    same error mapping), for browsing; closed on exit. ``what`` names the job in errors."""
    if security is not None:
        cfg = replace(security, url=url, points=())
    else:
        cfg = OpcUaSourceConfig(name="browse", url=url, security_policy="None",
                                allow_insecure=allow_insecure)  # fmt: skip
    try:
        check_opcua_security(cfg)
    except ValueError as exc:
        raise SourceSecurityError(
            f"{what} {url}: {exc} (pass security=OpcUaSourceConfig(...) with certificate, "
            "private_key and trust, or allow_insecure=True)"
        ) from exc
    from historian.acquisition.opcua import OpcUaSource  # the source imports this module

    src = OpcUaSource(cfg)
    await src.connect()
    try:
        with opcua_errors(f"{what} {url}"):
            yield src._client
    finally:
        await src._teardown()


async def abrowse(
    url: str,
    *,
    security: OpcUaSourceConfig | None = None,
    allow_insecure: bool = False,
    root: str = "i=85",
    max_depth: int = 10,
    limit: int = 10_000,
) -> list[BrowsedVariable]:
    """Async :func:`browse`."""
    async with connected(url, security=security, allow_insecure=allow_insecure) as client:
        return await _walk(client, root, max_depth, limit)


async def _walk(client: Any, root: str, max_depth: int, limit: int) -> list[BrowsedVariable]:
    from asyncua import ua

    ns_array = list(await client.get_namespace_array())
    has_property = ua.NodeId(ua.ObjectIds.HasProperty)  # type: ignore[arg-type]
    out: list[BrowsedVariable] = []
    seen: set[Any] = set()
    start = client.get_node(root)
    start_name = (await start.read_browse_name()).Name
    frontier: list[tuple[Any, str, int]] = [(start, start_name, 0)]
    variables: list[tuple[Any, str]] = []
    mask = ua.NodeClass.Object | ua.NodeClass.Variable
    while frontier and len(variables) < limit:
        node, path, depth = frontier.pop(0)
        refs = await node.get_references(
            refs=ua.ObjectIds.HierarchicalReferences, direction=ua.BrowseDirection.Forward,
            nodeclassmask=mask,
        )  # fmt: skip
        for ref in refs:
            nid = ref.NodeId
            if nid in seen or ref.ReferenceTypeId == has_property:
                continue
            seen.add(nid)
            if nid.NamespaceIndex == 0:  # the server's own objects (Server, Types, ...)
                continue
            child_path = f"{path}/{ref.BrowseName.Name}"
            if ref.NodeClass == ua.NodeClass.Variable:
                variables.append((nid, child_path))
                if len(variables) >= limit:
                    break
            if depth + 1 < max_depth:
                frontier.append((client.get_node(nid), child_path, depth + 1))
    from historian.acquisition.opcua import _READ_CHUNK  # nodes per Read, as the source

    for i in range(0, len(variables), _READ_CHUNK):
        chunk = variables[i : i + _READ_CHUNK]
        params = ua.ReadParameters()
        for nid, _ in chunk:
            rv = ua.ReadValueId()
            rv.NodeId = nid
            rv.AttributeId = ua.AttributeIds.DataType
            params.NodesToRead.append(rv)
        results = await client.uaclient.read(params)
        for (nid, path), dv in zip(chunk, results, strict=True):
            dtype = "Unknown"
            if dv.Value is not None and isinstance(dv.Value.Value, ua.NodeId):
                dt = dv.Value.Value
                if dt.NamespaceIndex == 0 and isinstance(dt.Identifier, int):
                    dtype = ua.ObjectIdNames.get(dt.Identifier, str(dt.Identifier))
                else:
                    dtype = _nsu_form(dt, ns_array)
            out.append(BrowsedVariable(_nsu_form(nid, ns_array), path, dtype, suggest_tag(path)))
    return out


def browse(
    url: str,
    *,
    security: OpcUaSourceConfig | None = None,
    allow_insecure: bool = False,
    root: str = "i=85",
    max_depth: int = 10,
    limit: int = 10_000,
) -> list[BrowsedVariable]:
    """List the variables of an OPC UA server (for writing a config; never adds tags itself).

    Parameters
    ----------
    url : str
        ``opc.tcp://host:port[/path]``, without credentials.
    security : OpcUaSourceConfig, optional
        Security settings (certificate, private_key, trust, username_env, ...) to connect with;
        its ``url`` and ``points`` are ignored. Without it only an insecure connection is possible,
        which needs ``allow_insecure=True``.
    allow_insecure : bool
        Allow SecurityPolicy None when ``security`` is not given.
    root : str
        Node id to start from (default the Objects folder, ``i=85``).
    max_depth, limit : int
        How deep to descend and how many variables to return at most.

    Returns
    -------
    list of BrowsedVariable
        ``node`` in ``nsu=`` form, ``path``, ``data_type`` and a suggested ``tag``; pass them to
        :func:`config_stub` for a TOML section.
    """
    from historian._sync import sync

    return sync(abrowse(url, security=security, allow_insecure=allow_insecure, root=root,
                        max_depth=max_depth, limit=limit))  # fmt: skip


_NUMERIC_TYPES = {
    "Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64", "Float",
    "Double", "Number", "Integer", "UInteger", "Enumeration", "BaseDataType", "Unknown",
}  # fmt: skip


def config_stub(
    variables: Sequence[BrowsedVariable],
    *,
    name: str = "server",
    url: str = "opc.tcp://127.0.0.1:4840",
    numeric_only: bool = True,
    security: OpcUaSourceConfig | None = None,
) -> str:
    """A TOML ``[[opcua]]`` section for ``variables``, secure by default, to edit and paste.

    Every string is written as an escaped TOML string and every comment is stripped of control
    characters, so names coming from the server (a BrowseName holding a newline and
    ``[[opcua]]``...) cannot add keys or sections. ``security`` (the settings the browse used)
    fills in its policy, mode, certificate, private_key, trust, user/password variable names,
    server_uri and server_thumbprint instead of the placeholders.

    Examples
    --------
    >>> v = BrowsedVariable("nsu=urn:plant;s=Reactor.T", "Objects/Reactor/T", "Double", "Reactor.T")
    >>> print(config_stub([v], name="reactor", url="opc.tcp://10.0.0.9:4840"))  # doctest: +ELLIPSIS
    [[opcua]]
    name = "reactor"
    url = "opc.tcp://10.0.0.9:4840"
    ...
      [[opcua.points]]
      tag = "Reactor.T"
      node = "nsu=urn:plant;s=Reactor.T"   # Objects/Reactor/T (Double)
    <BLANKLINE>
    """
    s = toml_string
    sec = security
    secure = sec is not None and sec.security_policy != "None"

    def path(value: Any, default: str) -> str:
        return s(Path(value).as_posix()) if secure and value is not None else s(default)

    policy = sec.security_policy if secure else "Basic256Sha256"  # type: ignore[union-attr]
    mode = sec.security_mode if secure else "SignAndEncrypt"  # type: ignore[union-attr]
    lines = [
        "[[opcua]]",
        f"name = {s(name)}",
        f"url = {s(url)}",
        'acquire = "subscribe"               # subscribe | poll',
        'every = "500ms"                     # publishing (subscribe) or polling interval',
        f'security_policy = {s(policy)}  # "None" is refused unless allow_insecure = true',
        f"security_mode = {s(mode)}    # Sign | SignAndEncrypt",
        f"certificate = {path(sec and sec.certificate, 'pki/client.der')}",
        f"private_key = {path(sec and sec.private_key, 'pki/client.pem')}",
        f"trust = {path(sec and sec.trust, 'pki/trusted')}"
        "  # folder with the server certificate (or its CA)",
    ]
    for key, placeholder in (("username_env", "PLANT_OPCUA_USER"),
                             ("password_env", "PLANT_OPCUA_PASSWORD")):  # fmt: skip
        value = getattr(sec, key, None) if secure else None
        lines.append(f"{key} = {s(value)}" if value else f"# {key} = {s(placeholder)}")
    for key in ("server_uri", "server_thumbprint"):
        value = getattr(sec, key, None) if secure else None
        if value:
            lines.append(f"{key} = {s(value)}")
    lines.append("")
    used: set[str] = set()
    for v in variables:
        if numeric_only and v.data_type not in _NUMERIC_TYPES:
            continue
        tag, n = v.tag, 2
        while tag in used:
            tag, n = f"{v.tag}_{n}", n + 1
        used.add(tag)
        comment = printable(f"{v.path} ({v.data_type})")
        lines += ["  [[opcua.points]]", f"  tag = {s(tag)}",
                  f"  node = {s(v.node)}   # {comment}", ""]  # fmt: skip
    return "\n".join(lines)
