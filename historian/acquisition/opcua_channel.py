"""The secure channel of an OPC UA source: certificates, trust store, login, server identity.

:func:`secure_channel` prepares an asyncua client for a signed (``Sign``) or signed and
encrypted (``SignAndEncrypt``) channel: the client certificate's URI becomes the application
URI, the private key is read once (private file permissions checked), the login comes from the
environment variables the config names, and the server's certificate is checked against the
host, the pinned ApplicationUri or thumbprint (:func:`check_identity`) and the trust folder and
CRL before the channel opens. Every refusal is a :class:`~historian.errors.SourceSecurityError`
that says what to fix. :class:`~historian.acquisition.opcua.OpcUaSource` calls it on connect.

Examples
--------
>>> from historian.acquisition.opcua_channel import security_policy_class
>>> security_policy_class("Basic256Sha256").__name__
'SecurityPolicyBasic256Sha256'
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from historian.acquisition._files import read_private
from historian.acquisition.config import OpcUaSourceConfig
from historian.acquisition.opcua_errors import OUR_REFUSAL
from historian.acquisition.opcua_errors import map_error as _map_error
from historian.acquisition.opcua_security import (
    certificate_uri,
    check_server_certificate,
    check_trust_folder,
    file_format,
)
from historian.errors import SourceSecurityError

__all__ = ["check_identity", "secure_channel", "security_policy_class"]


def security_policy_class(name: str) -> Any:
    from asyncua.crypto import security_policies as sp

    return getattr(sp, f"SecurityPolicy{name}")


async def secure_channel(
    client: Any, cfg: OpcUaSourceConfig, environ: Mapping[str, str], where: str
) -> None:
    """Set up the signed (and encrypted) channel of ``client`` from ``cfg``: the certificate
    files and the trust folder checked, the login read from ``environ``, the server's
    identity checked before the channel opens; raises :class:`SourceSecurityError`."""
    from asyncua import ua
    from asyncua.crypto.truststore import TrustStore
    from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

    assert cfg.certificate and cfg.private_key and cfg.trust
    for key in ("certificate", "private_key"):
        path = getattr(cfg, key)
        if not Path(path).is_file():
            raise SourceSecurityError(f"{where}: {key} file {str(path)!r} not found")
    trust = Path(cfg.trust)
    if not trust.is_dir() or not any(
        re.search(r"\.(der|pem|crt)$", f.name, re.I) for f in trust.iterdir()
    ):
        raise SourceSecurityError(
            f"{where}: trust folder {str(trust)!r} is missing or holds no certificate; copy "
            "the server's certificate (or its CA) there as .der/.pem"
        )
    check_trust_folder(trust, where)
    uri = certificate_uri(Path(cfg.certificate))
    if uri is None:
        raise SourceSecurityError(
            f"{where}: the client certificate has no URI in its SubjectAltName; OPC UA needs "
            "one (the application URI)"
        )
    if cfg.application_uri and cfg.application_uri != uri:
        raise SourceSecurityError(
            f"{where}: application_uri {cfg.application_uri!r} does not match the client "
            f"certificate's SAN URI {uri!r}; remove application_uri or fix the certificate"
        )
    client.application_uri = uri
    if cfg.server_uri:
        client.server_uri = cfg.server_uri  # CreateSession names the server we expect
    key_password = None
    if cfg.private_key_password_env:
        key_password = environ.get(cfg.private_key_password_env)
        if key_password is None:
            raise SourceSecurityError(
                f"{where}: environment variable {cfg.private_key_password_env} "
                "(private_key_password_env) is not set"
            )
    if cfg.username_env:
        user = environ.get(cfg.username_env)
        password = environ.get(cfg.password_env or "")
        missing = [n for n, v in ((cfg.username_env, user), (cfg.password_env, password))
                   if v is None]  # fmt: skip
        if missing:
            raise SourceSecurityError(
                f"{where}: environment variable(s) {', '.join(map(str, missing))} not set "
                "(username_env/password_env)"
            )
        client.set_user(user)
        client.set_password(password)
    store = TrustStore([trust], [Path(cfg.crl)] if cfg.crl else [])
    await store.load()
    options = (
        CertificateValidatorOptions.TRUSTED_VALIDATION | CertificateValidatorOptions.PEER_SERVER
    )
    client.certificate_validator = _validator(cfg, CertificateValidator(options, store), where)
    from asyncua.crypto.uacrypto import CertProperties

    mode = getattr(ua.MessageSecurityMode, cfg.security_mode)
    cert_props = CertProperties(str(cfg.certificate), file_format(Path(cfg.certificate)))
    try:
        key_bytes = read_private(cfg.private_key, limit=1 << 20)
    except OSError as exc:
        raise SourceSecurityError(
            f"{where}: cannot read private_key {str(cfg.private_key)!r}: {exc.strerror or exc}"
        ) from exc
    key_format = "pem" if b"-----BEGIN" in key_bytes[:256] else "der"
    key_props = CertProperties(key_bytes, key_format, key_password)
    try:
        await asyncio.wait_for(
            client.set_security(
                security_policy_class(cfg.security_policy), cert_props, key_props, mode=mode,
            ),
            timeout=cfg.timeout_s * 2,
        )  # fmt: skip
    except Exception as exc:
        raise _map_error(exc, where) from exc
    # The certificate of the endpoint description: check who it names before the secure
    # channel opens (create_session checks the one the session presents again).
    peer = client.security_policy.peer_certificate
    if peer:
        from cryptography import x509

        check_identity(cfg, x509.load_der_x509_certificate(peer), where, None)


def check_identity(
    cfg: OpcUaSourceConfig, cert: Any, where: str, announced_uri: str | None
) -> None:
    """The server certificate ``cert`` names the host, ApplicationUri and thumbprint of ``cfg``."""
    from urllib.parse import urlparse

    check_server_certificate(
        cert, where=where, host=urlparse(cfg.url).hostname or "",
        verify_host=cfg.verify_server_host, server_uri=cfg.server_uri,
        thumbprint=cfg.server_thumbprint, announced_uri=announced_uri,
    )  # fmt: skip


def _validator(cfg: OpcUaSourceConfig, trust_check: Any, where: str) -> Any:
    """asyncua's certificate_validator: our identity checks, then the trust store."""
    from asyncua import ua
    from asyncua.common.utils import ServiceError

    async def validate(cert: Any, app: Any) -> None:
        check_identity(cfg, cert, where, getattr(app, "ApplicationUri", None))
        try:
            await trust_check(cert, app)
        except ServiceError as exc:
            name = ua.StatusCode(exc.code).name  # type: ignore[arg-type]
            raise SourceSecurityError(
                f"{where}: we refuse the server's certificate ({name}): "
                + OUR_REFUSAL.get(name, "see the trust folder and CRL")
            ) from exc

    return validate
