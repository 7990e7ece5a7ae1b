"""Security helpers of the OPC UA source: certificates and keeping secrets out of logs.

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

import logging
import re
from pathlib import Path

__all__ = ["certificate_uri", "file_format", "install_log_redaction"]

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
