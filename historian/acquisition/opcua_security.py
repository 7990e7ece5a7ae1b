"""Security helpers of the OPC UA source: server identity, certificates, secrets out of logs.

**Server identity.** A certificate that chains to the trust list is not enough: any host the CA
ever certified could then stand in for any other. :func:`check_server_certificate` also requires

- the ExtendedKeyUsage ``serverAuth`` (a client certificate cannot pose as a server);
- the host of the endpoint URL among the certificate's SubjectAltName DNS names / IP addresses
  (``verify_server_host``, on by default);
- when pinned, the server's ApplicationUri (``server_uri``: both the certificate's SAN URI and
  the ApplicationUri the server announces) and the certificate's SHA-256 thumbprint
  (``server_thumbprint``).

asyncua logs every request it sends at DEBUG (``Sending: ActivateSessionRequest(...)``), and
that request carries the user identity token: with a token policy of ``None`` (common, since the
channel itself is encrypted) the password is in it **in plain text**. :func:`install_log_redaction`
puts a filter on asyncua's client loggers that replaces any record mentioning an identity token or
a password before a handler can see it, whatever logging level the application chose.

Examples
--------
>>> import logging
>>> rec = logging.LogRecord("asyncua.client.ua_client.UASocketProtocol", logging.DEBUG, "", 0,
...     "Sending: %s", ("ActivateSessionRequest(UserIdentityToken=UserNameIdentityToken("
...     "UserName='u', Password=b'hunter2'))",), None)
>>> _RedactSecrets().filter(rec), "hunter2" in rec.getMessage()
(True, False)
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from historian.errors import SourceSecurityError

if TYPE_CHECKING:
    from cryptography import x509

__all__ = [
    "certificate_thumbprint",
    "certificate_uri",
    "check_server_certificate",
    "check_trust_folder",
    "file_format",
    "host_in_certificate",
    "install_log_redaction",
]

_SECRET = re.compile(r"IdentityToken|Password|password=|ClientSignature|PrivateKey", re.I)
_ASYNCUA_LOGGERS = (
    "asyncua",
    "asyncua.client.client",
    "asyncua.client.ua_client.UASocketProtocol",
    "asyncua.client.ua_client.UaClient",
    "asyncua.client.ua_session.UaSession",
    "asyncua.uaprotocol",
    "asyncua.common.connection",
)


class _RedactSecrets(logging.Filter):
    """Replace log records that could carry credentials with a fixed text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except Exception:  # a broken record: drop its arguments rather than risk a leak
            record.msg, record.args = "<log record redacted by historian>", ()
            return True
        if _SECRET.search(text):
            kind = text.split("(", 1)[0][:80]
            record.msg = "%s (redacted by historian: may carry credentials)"
            record.args = (kind,)
        return True


_FILTER = _RedactSecrets()


def install_log_redaction() -> None:
    """Attach the redaction filter to asyncua's client loggers (idempotent)."""
    for name in _ASYNCUA_LOGGERS:
        lg = logging.getLogger(name)
        if _FILTER not in lg.filters:
            lg.addFilter(_FILTER)


def file_format(path: Path) -> str:
    """``"pem"`` or ``"der"`` from the content (asyncua guesses from the file extension)."""
    with Path(path).open("rb") as f:
        head = f.read(64)
    return "pem" if b"-----BEGIN" in head else "der"


def certificate_uri(path: Path) -> str | None:
    """The first SAN URI of a PEM or DER certificate (the OPC UA ApplicationUri), or None."""
    from cryptography import x509

    data = Path(path).read_bytes()
    cert = (
        x509.load_pem_x509_certificate(data)
        if b"-----BEGIN" in data
        else x509.load_der_x509_certificate(data)
    )
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return None
    uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
    return uris[0] if uris else None


# --------------------------------------------------------------------------- server identity
def certificate_thumbprint(cert: x509.Certificate | bytes) -> str:
    """SHA-256 of the DER certificate as 64 lower-case hex digits (what ``server_thumbprint``
    pins; ``openssl x509 -fingerprint -sha256`` prints the same digits with colons).

    Examples
    --------
    >>> from historian.acquisition.pki import make_ca
    >>> len(certificate_thumbprint(make_ca().cert))
    64
    """
    from cryptography.hazmat.primitives import serialization

    der = cert if isinstance(cert, bytes) else cert.public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(der).hexdigest()


def _san(cert: x509.Certificate) -> x509.SubjectAlternativeName | None:
    from cryptography import x509

    try:
        return cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None


def host_in_certificate(cert: x509.Certificate, host: str) -> bool:
    """Whether ``host`` (an IP literal or a DNS name) is among the certificate's SAN entries.

    IP literals match SAN IP addresses only; names match SAN DNS names case-insensitively, with
    one left-most wildcard label (``*.plant.example`` matches ``plc1.plant.example``). The
    subject CN is not used (RFC 6125).

    Examples
    --------
    >>> from historian.acquisition.pki import make_ca, make_cert
    >>> cert = make_cert(make_ca(), "plc", dns=("*.plant.example",), ips=("10.0.0.5",)).cert
    >>> [host_in_certificate(cert, h) for h in ("plc1.plant.example", "10.0.0.5", "127.0.0.1")]
    [True, True, False]
    """
    from cryptography import x509

    san = _san(cert)
    if san is None:
        return False
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        ip = None
    if ip is not None:
        return any(a == ip for a in san.get_values_for_type(x509.IPAddress))
    for name in san.get_values_for_type(x509.DNSName):
        name = name.strip().rstrip(".").lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host:
            first, rest = host.split(".", 1)
            if first and rest == name[2:] and "*" not in rest:
                return True
    return False


def _names(cert: x509.Certificate) -> str:
    from cryptography import x509

    san = _san(cert)
    if san is None:
        return "no SubjectAltName"
    parts = [*san.get_values_for_type(x509.DNSName),
             *map(str, san.get_values_for_type(x509.IPAddress))]  # fmt: skip
    return ", ".join(parts) or "no DNS/IP entries"


def check_server_certificate(
    cert: x509.Certificate,
    *,
    where: str,
    host: str,
    verify_host: bool = True,
    server_uri: str | None = None,
    thumbprint: str | None = None,
    announced_uri: str | None = None,
) -> None:
    """Raise :class:`~historian.errors.SourceSecurityError` unless ``cert`` may serve ``host``.

    Checks, in order: the pinned thumbprint, the ``serverAuth`` extended key usage, the host
    name (``verify_host``), and the pinned ``server_uri`` against the certificate's SAN URIs and
    against ``announced_uri`` (the ApplicationUri the server describes itself with). Chain,
    validity period and revocation are checked by the trust store, separately.

    Examples
    --------
    >>> from historian.acquisition.pki import make_ca, make_cert
    >>> impostor = make_cert(make_ca(), "x", dns=("other-plc.example",), ips=("10.9.9.9",),
    ...                      usage="server").cert
    >>> check_server_certificate(impostor, where="opcua 'r'", host="127.0.0.1")
    Traceback (most recent call last):
    ...
    historian.errors.SourceSecurityError: opcua 'r': the server certificate is not issued for \
127.0.0.1 (its SubjectAltName holds other-plc.example, 10.9.9.9): an impostor, or a certificate \
for another host; ...
    """
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    from historian.acquisition.config import normalize_thumbprint

    if thumbprint is not None:
        got = certificate_thumbprint(cert)
        if got != normalize_thumbprint(thumbprint):
            raise SourceSecurityError(
                f"{where}: the server certificate's SHA-256 thumbprint {got} does not match "
                "server_thumbprint: not the pinned server (or its certificate was renewed: "
                "check the new certificate and update the pin)"
            )
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        server_auth = ExtendedKeyUsageOID.SERVER_AUTH in eku
    except x509.ExtensionNotFound:
        server_auth = False
    if not server_auth:
        raise SourceSecurityError(
            f"{where}: the server presented a certificate without the serverAuth extended key "
            "usage (a client certificate?); refused: a server certificate must carry "
            "ExtendedKeyUsage serverAuth"
        )
    if verify_host and not host_in_certificate(cert, host):
        raise SourceSecurityError(
            f"{where}: the server certificate is not issued for {host} (its SubjectAltName "
            f"holds {_names(cert)}): an impostor, or a certificate for another host; connect "
            "with the host name the certificate names, or reissue it with this host in its "
            "SubjectAltName (or pin server_thumbprint and set verify_server_host = false)"
        )
    if server_uri is not None:
        san = _san(cert)
        uris = list(san.get_values_for_type(x509.UniformResourceIdentifier)
                    if san is not None else [])  # fmt: skip
        if server_uri not in uris:
            raise SourceSecurityError(
                f"{where}: the server certificate's ApplicationUri {uris} is not the pinned "
                f"server_uri {server_uri!r}"
            )
        if announced_uri is not None and announced_uri != server_uri:
            raise SourceSecurityError(
                f"{where}: the server announces ApplicationUri {announced_uri!r}, not the "
                f"pinned server_uri {server_uri!r}"
            )


def check_trust_folder(path: Path, where: str) -> None:
    """Refuse a trust folder (or a certificate in it) that others may write: whoever can add a
    file there can make the collector trust any server.

    Examples
    --------
    >>> import os, tempfile
    >>> d = Path(tempfile.mkdtemp()); os.chmod(d, 0o777)
    >>> check_trust_folder(d, "opcua 'r'")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    historian.errors.SourceSecurityError: opcua 'r': trust folder '...' is world-writable ...
    """
    for p in (path, *sorted(path.iterdir())):
        st = os.lstat(p)
        if st.st_mode & stat.S_IWOTH:
            raise SourceSecurityError(
                f"{where}: trust {'folder' if p == path else 'file'} {str(p)!r} is "
                f"world-writable (mode {stat.S_IMODE(st.st_mode):o}); anyone could add a "
                f"certificate to it; run chmod o-w {str(p)!r}"
            )
