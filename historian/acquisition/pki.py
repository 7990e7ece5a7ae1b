"""Certificates for tests, the simulated plant and first deployments (``cryptography``).

One call makes a small PKI in a folder: a CA, a server certificate and a client certificate,
each as PEM and DER, with the Subject Alternative Names that OPC UA and TLS check:

- the OPC UA ``ApplicationUri`` as a SAN URI (asyncua compares it with the client's
  ``application_uri``), DNS ``localhost`` and IP ``127.0.0.1`` for hostname checks;
- KeyUsage digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment (OPC UA Part 6)
  and ExtendedKeyUsage serverAuth + clientAuth.

Private keys are written with mode 0600. For production, use certificates from your own CA.

Examples
--------
>>> import tempfile
>>> pki = make_pki(tempfile.mkdtemp())
>>> sorted(pki)[:3]
['ca_cert', 'ca_cert_der', 'ca_key']
>>> cert = load_certificate(pki["client_cert"])
>>> application_uris(cert)
['urn:historian:client']
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "CLIENT_URI",
    "SERVER_URI",
    "CertKey",
    "application_uris",
    "load_certificate",
    "make_ca",
    "make_cert",
    "make_pki",
]

SERVER_URI = "urn:historian:sim:server"
CLIENT_URI = "urn:historian:client"


@dataclass(frozen=True)
class CertKey:
    """A certificate with its private key."""

    cert: x509.Certificate
    key: rsa.RSAPrivateKey

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def write(self, folder: str | os.PathLike[str], stem: str) -> dict[str, str]:
        """Write ``stem.pem``, ``stem.der`` and ``stem-key.pem`` (0600); return their paths."""
        d = Path(folder)
        d.mkdir(parents=True, exist_ok=True)
        paths = {
            "cert": d / f"{stem}.pem",
            "cert_der": d / f"{stem}.der",
            "key": d / f"{stem}-key.pem",  # asyncua picks the format from the suffix
        }
        paths["cert"].write_bytes(self.cert_pem())
        paths["cert_der"].write_bytes(self.cert_der())
        fd = os.open(paths["key"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(self.key_pem())
        os.chmod(paths["key"], 0o600)
        return {k: str(v) for k, v in paths.items()}


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "historian"),
        ]
    )


def _new_key(key_size: int) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=key_size)


def make_ca(common_name: str = "historian test CA", *, days: int = 3650, key_size: int = 2048) -> (
    CertKey
):
    """A self-signed CA certificate that can sign server and client certificates."""
    key = _new_key(key_size)
    now = _dt.datetime.now(_dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return CertKey(cert, key)


def make_cert(
    ca: CertKey,
    common_name: str,
    *,
    uris: tuple[str, ...] = (),
    dns: tuple[str, ...] = ("localhost",),
    ips: tuple[str, ...] = ("127.0.0.1",),
    days: int = 825,
    key_size: int = 2048,
) -> CertKey:
    """A leaf certificate signed by ``ca``, usable as OPC UA application instance certificate
    and as TLS server and client certificate."""
    key = _new_key(key_size)
    now = _dt.datetime.now(_dt.UTC)
    san: list[x509.GeneralName] = [x509.UniformResourceIdentifier(u) for u in uris]
    san += [x509.DNSName(d) for d in dns]
    san += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _dt.timedelta(minutes=5))
        .not_valid_after(now + _dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=True, key_encipherment=True,
                data_encipherment=True, key_agreement=False, key_cert_sign=False,
                crl_sign=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), False
        )
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return CertKey(builder.sign(ca.key, hashes.SHA256()), key)


def make_pki(
    folder: str | os.PathLike[str],
    *,
    server_uri: str = SERVER_URI,
    client_uri: str = CLIENT_URI,
    ca_name: str = "historian test CA",
) -> dict[str, str]:
    """Create ``ca``, ``server`` and ``client`` certificates in ``folder``.

    Returns the paths: ``ca_cert``/``ca_cert_der``/``ca_key``, ``server_cert``/``server_cert_der``/
    ``server_key``, ``client_cert``/``client_cert_der``/``client_key``, and ``trusted``, a
    folder holding the CA's DER certificate (an OPC UA trust list).
    """
    ca = make_ca(ca_name)
    hosts = tuple(dict.fromkeys(("localhost", socket.gethostname())))
    out: dict[str, str] = {}
    for stem, ck in (
        ("ca", ca),
        ("server", make_cert(ca, "historian sim server", uris=(server_uri,), dns=hosts)),
        ("client", make_cert(ca, "historian client", uris=(client_uri,))),
    ):
        for kind, path in ck.write(folder, stem).items():
            out[f"{stem}_{kind}"] = path
    trusted = Path(folder) / "trusted"
    trusted.mkdir(exist_ok=True)
    (trusted / "ca.der").write_bytes(ca.cert_der())
    out["trusted"] = str(trusted)
    return out


def load_certificate(path: str | os.PathLike[str]) -> x509.Certificate:
    """Load a PEM or DER certificate."""
    data = Path(path).read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def application_uris(cert: x509.Certificate) -> list[str]:
    """The SAN URIs of ``cert`` (the OPC UA ApplicationUri is one of them)."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return list(san.get_values_for_type(x509.UniformResourceIdentifier))
