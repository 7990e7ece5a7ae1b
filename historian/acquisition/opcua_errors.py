"""asyncua and OS exceptions of the OPC UA source mapped to SourceError subclasses.

One map, used by every OPC UA path (connect, read, subscribe, browse): security StatusCodes
become :class:`~historian.errors.SourceSecurityError` with the fix in the message and with *who*
refused whom (a code the server sent means the server refused us; the client-side validator
raises its own message with :data:`OUR_REFUSAL`), message-size codes a
:class:`~historian.errors.SourceProtocolError`, timeouts a
:class:`~historian.errors.SourceTimeoutError`, socket errors a
:class:`~historian.errors.SourceConnectError`. Callers raise the result ``from`` the original.

Examples
--------
>>> from asyncua import ua
>>> err = map_error(ua.UaStatusCodeError(ua.StatusCodes.BadCertificateUntrusted), "opcua 'r'")
>>> type(err).__name__, str(err)  # doctest: +ELLIPSIS
('SourceSecurityError', "opcua 'r': the server refused us: BadCertificateUntrusted (the server \
does not trust our client certificate: ...)")
>>> type(map_error(ConnectionRefusedError(), "opcua 'r'")).__name__
'SourceConnectError'
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

from historian.acquisition.compat import is_no_matching_endpoint
from historian.errors import (
    SourceConnectError,
    SourceError,
    SourceProtocolError,
    SourceSecurityError,
    SourceTimeoutError,
)
from historian.model import quality as _q

__all__ = ["OUR_REFUSAL", "THEIR_REFUSAL", "map_error", "opcua_errors"]

# StatusCodes that mean "security refused" (certificates, policies, identity), by name.
_SECURITY_CODES = frozenset({
    "BadSecurityChecksFailed", "BadCertificateInvalid", "BadSecurityPolicyRejected",
    "BadCertificateTimeInvalid", "BadCertificateIssuerTimeInvalid",
    "BadCertificateHostNameInvalid", "BadCertificateUriInvalid", "BadCertificateUseNotAllowed",
    "BadCertificateIssuerUseNotAllowed", "BadCertificateUntrusted",
    "BadCertificateRevocationUnknown", "BadCertificateIssuerRevocationUnknown",
    "BadCertificateRevoked", "BadCertificateIssuerRevoked", "BadCertificateChainIncomplete",
    "BadUserAccessDenied", "BadIdentityTokenInvalid", "BadIdentityTokenRejected",
    "BadUserSignatureInvalid", "BadNonceInvalid", "BadApplicationSignatureInvalid",
})  # fmt: skip
_LOGIN_CODES = frozenset({"BadUserAccessDenied", "BadIdentityTokenInvalid",
                          "BadIdentityTokenRejected"})  # fmt: skip
# Why *we* refuse a server certificate (client side), by StatusCode name.
OUR_REFUSAL = {
    "BadCertificateUntrusted": "it does not chain to a certificate in the trust folder; copy the "
    "server certificate (or its CA) into `trust` if this server is genuine",
    "BadCertificateTimeInvalid": "it is expired or not yet valid",
    "BadCertificateUriInvalid": "its SubjectAltName URI is not the ApplicationUri the server "
    "announces",
    "BadCertificateUseNotAllowed": "its KeyUsage/ExtendedKeyUsage does not allow use as an OPC "
    "UA server",
    "BadCertificateInvalid": "it lacks a required extension (SubjectAltName, KeyUsage, "
    "ExtendedKeyUsage)",
    "BadCertificateRevoked": "it is revoked (listed in the CRL)",
}
# Why a server refuses *us*, by StatusCode name (the server sent it).
THEIR_REFUSAL = {
    "BadCertificateUntrusted": "the server does not trust our client certificate: add it (or "
    "its CA) to the server's trusted certificates",
    "BadCertificateTimeInvalid": "the server finds our client certificate expired or not yet "
    "valid (or the clocks differ)",
    "BadCertificateUriInvalid": "the server rejects our certificate's ApplicationUri",
    "BadCertificateUseNotAllowed": "the server does not accept our certificate's key usage",
    "BadCertificateInvalid": "the server finds our client certificate invalid",
    "BadCertificateRevoked": "the server lists our client certificate as revoked",
    "BadSecurityChecksFailed": "the server's security checks failed (often: it does not trust "
    "our client certificate, or the clocks differ)",
    "BadSecurityPolicyRejected": "the server rejects this security_policy",
}


def map_error(exc: BaseException, where: str) -> SourceError:
    """An asyncua/OS exception as a SourceError subclass (never leaks secrets: only names)."""
    if isinstance(exc, SourceError):
        return exc
    from asyncua import ua

    if isinstance(exc, ua.UaStatusCodeError):
        code = int(exc.code) & 0xFFFFFFFF
        name = ua.StatusCode(code & _q.CODE_MASK).name  # type: ignore[arg-type]
        if name in _SECURITY_CODES:
            fix = ""
            if name in THEIR_REFUSAL:
                fix = f" ({THEIR_REFUSAL[name]})"
            elif name in _LOGIN_CODES:
                fix = " (check the user name/password in username_env/password_env)"
            return SourceSecurityError(f"{where}: the server refused us: {name}{fix}")
        if name in ("BadRequestTooLarge", "BadResponseTooLarge"):
            return SourceProtocolError(
                f"{where}: {name}: the server sent more than max_message_size or a chunk above "
                "64 KiB; connection closed (raise max_message_size if the server is genuine)"
            )
        if code & _q.CODE_MASK == _q.BAD_TIMEOUT:
            return SourceTimeoutError(f"{where}: {name}")
        return SourceProtocolError(f"{where}: {name}")
    if is_no_matching_endpoint(exc):  # asyncua has no type for it: see compat
        return SourceSecurityError(
            f"{where}: the server offers no endpoint with this security_policy/security_mode "
            f"({exc}); check the server's endpoints or adjust the config"
        )
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return SourceTimeoutError(f"{where}: no answer in time")
    if isinstance(exc, ConnectionRefusedError):
        return SourceConnectError(f"{where}: connection refused")
    if isinstance(exc, OSError | ConnectionError):
        return SourceConnectError(f"{where}: {type(exc).__name__}: {exc}")
    return SourceProtocolError(f"{where}: {type(exc).__name__}: {exc}")


@contextlib.contextmanager
def opcua_errors(where: str) -> Iterator[None]:
    """Raise what the block raises as :func:`map_error` maps it, the original as ``__cause__``.

    Cancellation and historian errors pass through unchanged.

    >>> try:
    ...     with opcua_errors("opcua 'r'"):
    ...         raise ConnectionRefusedError()
    ... except SourceConnectError as exc:
    ...     print(exc, type(exc.__cause__).__name__)
    opcua 'r': connection refused ConnectionRefusedError
    """
    try:
        yield
    except SourceError:
        raise
    except Exception as exc:  # asyncio.CancelledError is a BaseException: not caught
        raise map_error(exc, where) from exc
