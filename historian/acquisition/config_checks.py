"""Checks of single configuration values, shared by the TOML loader and configs built in Python.

An OPC UA source's security setup (:func:`check_opcua_security`), node ids, names of environment
variables (never their values: a secret pasted by mistake stays out of messages) and certificate
thumbprints. Each raises ``ValueError`` naming the key and the fix; the loader turns that into a
:class:`~historian.errors.ConfigError` with the key path.

Examples
--------
>>> from historian.acquisition.config_checks import check_node_id
>>> check_node_id("ns=2;i=1001")
>>> check_node_id("ns=2;i=x")
Traceback (most recent call last):
...
ValueError: 'ns=2;i=x': a numeric identifier (i=) must be digits
"""

from __future__ import annotations

import os
import re

from historian.acquisition.config_model import (
    DEPRECATED_POLICIES,
    MESSAGE_SIZE_RANGE,
    SECURITY_MODES,
    SECURITY_POLICIES,
    OpcUaSourceConfig,
)

__all__ = [
    "check_env_name",
    "check_node_id",
    "check_opcua_security",
    "deprecated_policy",
    "normalize_thumbprint",
]

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_THUMBPRINT = re.compile(r"[0-9a-fA-F]{64}")


def check_node_id(node: str) -> None:
    """Raise ValueError unless ``node`` is an OPC UA node id string (``nsu=...;s=...`` etc.)."""
    m = re.fullmatch(r"(?:(nsu=[^;]+|ns=\d+);)?([isgb])=(.+)", node.strip(), re.DOTALL)
    if not m:
        raise ValueError(
            f'{node!r} is not a node id; use e.g. "nsu=urn:example:plant;s=Reactor.Temperature"'
            ' (namespace URI form, preferred) or "ns=2;i=1001"'
        )
    if m.group(2) == "i" and not m.group(3).isdigit():
        raise ValueError(f"{node!r}: a numeric identifier (i=) must be digits")


def check_env_name(key: str, value: str) -> None:
    """Raise ``ValueError`` unless ``value`` is an environment variable name.

    The message never repeats the value: a secret pasted by mistake stays out of logs.

    Examples
    --------
    >>> check_env_name("password_env", "PLANT_OPCUA_PASSWORD")
    >>> check_env_name("password_env", "hunter2!")
    Traceback (most recent call last):
    ...
    ValueError: the value of password_env is not a valid environment variable name; give the \
variable's NAME (e.g. "PLANT_OPCUA_PASSWORD"), never the secret itself
    """
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value) or len(value) > 255:
        raise ValueError(
            f"the value of {key} is not a valid environment variable name; give the variable's "
            'NAME (e.g. "PLANT_OPCUA_PASSWORD"), never the secret itself'
        )


def normalize_thumbprint(value: str) -> str:
    """A SHA-256 certificate thumbprint as 64 lower-case hex digits (``:`` and spaces removed).

    Examples
    --------
    >>> normalize_thumbprint("AB:" * 31 + "AB")
    'abababababababababababababababababababababababababababababababab'
    """
    t = re.sub(r"[\s:]", "", value)
    if not _THUMBPRINT.fullmatch(t):
        raise ValueError(
            "server_thumbprint: not a SHA-256 thumbprint; give the 64 hex digits of the server "
            "certificate's SHA-256 fingerprint (e.g. from `openssl x509 -noout -fingerprint "
            "-sha256 -in server.der -inform der`)"
        )
    return t.lower()


def deprecated_policy(name: str) -> str:
    """The message refusing the deprecated security policy ``name`` (key first)."""
    return (
        f"security_policy: {name!r} is deprecated (SHA-1 / RSA PKCS#1 v1.5, broken) and refused; "
        'use "Basic256Sha256", "Aes128Sha256RsaOaep" or "Aes256Sha256RsaPss"'
    )


def check_opcua_security(cfg: OpcUaSourceConfig) -> None:
    """Raise ``ValueError('<key>: <why and fix>')`` for an insecure, incomplete or out-of-range
    setup (the same checks for a TOML file and for a config built in Python)."""
    if cfg.security_policy in DEPRECATED_POLICIES:
        raise ValueError(deprecated_policy(cfg.security_policy))
    if cfg.security_policy not in SECURITY_POLICIES:
        raise ValueError(
            f"security_policy: {cfg.security_policy!r} is not one of {', '.join(SECURITY_POLICIES)}"
        )
    if cfg.security_mode not in SECURITY_MODES:
        raise ValueError(
            f"security_mode: {cfg.security_mode!r} is not one of {', '.join(SECURITY_MODES)}"
        )
    _check_names_and_paths(cfg)
    _check_ranges(cfg)
    _check_pins(cfg)
    if cfg.security_policy == "None":
        _check_plaintext(cfg)
    else:
        _check_secure(cfg)


def _check_names_and_paths(cfg: OpcUaSourceConfig) -> None:
    for key in ("username_env", "password_env", "private_key_password_env"):
        value = getattr(cfg, key)
        if value is not None:
            check_env_name(key, value)
    for key in ("certificate", "private_key", "trust", "crl"):
        value = getattr(cfg, key)
        if value is not None and "\x00" in os.fspath(value):
            raise ValueError(f"{key}: the path contains a NUL byte; remove it")


def _check_ranges(cfg: OpcUaSourceConfig) -> None:
    lo, hi = MESSAGE_SIZE_RANGE
    if (
        isinstance(cfg.max_message_size, bool)
        or not isinstance(cfg.max_message_size, int)
        or not (lo <= cfg.max_message_size <= hi)
    ):
        raise ValueError(f"max_message_size: must be {lo} .. {hi} bytes")
    if not isinstance(cfg.queue_size, int) or not 10 <= cfg.queue_size <= 10_000_000:
        raise ValueError("queue_size: must be 10 .. 10000000")
    for key, low, top in (("max_items_per_subscription", 1, 100_000),
                          ("publish_requests", 0, 100)):  # fmt: skip
        value = getattr(cfg, key)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= top:
            raise ValueError(f"{key}: must be {low} .. {top}")
    for key, limit in (("every_s", 86_400.0), ("timeout_s", 3600.0),
                       ("reconnect_max_delay_s", 3600.0)):  # fmt: skip
        value = getattr(cfg, key)
        if not isinstance(value, int | float) or not 0 < value <= limit:
            raise ValueError(f"{key.removesuffix('_s')}: must be a duration above 0 and at most "
                             f"{limit:g} s")  # fmt: skip


def _check_pins(cfg: OpcUaSourceConfig) -> None:
    if cfg.server_thumbprint is not None:
        normalize_thumbprint(cfg.server_thumbprint)
    if cfg.server_uri is not None and not cfg.server_uri.strip():
        raise ValueError("server_uri: empty; give the server's ApplicationUri or remove the key")
    if not cfg.verify_server_host and cfg.server_thumbprint is None:
        raise ValueError(
            "verify_server_host: false needs server_thumbprint (pin the exact certificate "
            "instead of checking the host name)"
        )


def _check_plaintext(cfg: OpcUaSourceConfig) -> None:
    """security_policy "None": only where allowed, and never with a password."""
    if not cfg.allow_insecure:
        raise ValueError(
            'security_policy: "None" sends everything unsigned and in clear and is refused; '
            'use security_policy = "Basic256Sha256" with a certificate, or set '
            "allow_insecure = true for this endpoint if it is on a trusted segment"
        )
    if cfg.username_env or cfg.password_env:
        raise ValueError(
            'password_env: a password is never sent over security_policy "None"; use '
            "Basic256Sha256 or remove username_env/password_env"
        )


def _check_secure(cfg: OpcUaSourceConfig) -> None:
    """A signing policy: certificate, key and trust list present; user and password together."""
    for key in ("certificate", "private_key", "trust"):
        if getattr(cfg, key) is None:
            fix = {
                "certificate": 'the client certificate (DER or PEM), e.g. "pki/client.der"',
                "private_key": 'the client\'s private key (PEM), e.g. "pki/client.pem"',
                "trust": 'a folder of trusted server/CA certificates, e.g. "pki/trusted"',
            }[key]
            raise ValueError(
                f"{key}: missing; security_policy {cfg.security_policy!r} needs {key} = {fix}"
            )
    if bool(cfg.username_env) != bool(cfg.password_env):
        raise ValueError("password_env: set both username_env and password_env, or neither")
