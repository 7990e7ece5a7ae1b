"""Certificates for tests, the simulated plant and first deployments (``cryptography``).

One call makes a small PKI in a folder: a CA, a server certificate and a client certificate,
each as PEM and DER, with the Subject Alternative Names that OPC UA and TLS check:

- the OPC UA ``ApplicationUri`` as a SAN URI (asyncua compares it with the client's
  ``application_uri``), DNS ``localhost`` and IP ``127.0.0.1`` for hostname checks;
- KeyUsage digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment (OPC UA Part 6);
- ExtendedKeyUsage **serverAuth only** on the server certificate and **clientAuth only** on the
  client certificate, so that neither can stand in for the other.

The deployment folder gets the CA *certificate* only (``trusted/ca.der``, ``ca.pem``): the CA
private key can sign a certificate for any host, so it is written only when asked for, to a
separate ``ca_folder`` (mode 0700, key 0600), never next to the certificates it signed.
Private keys are created 0600 and never written through a symlink. For production, use
certificates from your own CA.

Examples
--------
>>> import os, tempfile
>>> pki = make_pki(tempfile.mkdtemp())
>>> sorted(pki)[:3], "ca_key" in pki
(['ca_cert', 'ca_cert_der', 'client_cert'], False)
>>> cert = load_certificate(pki["client_cert"])
>>> application_uris(cert), usages(cert)
(['urn:historian:client'], ['clientAuth'])
>>> ca_dir = os.path.join(tempfile.mkdtemp(), "ca")
>>> pki = make_pki(tempfile.mkdtemp(), ca_folder=ca_dir)
>>> os.path.dirname(pki["ca_key"]) == ca_dir, oct(os.stat(pki["ca_key"]).st_mode & 0o777)
(True, '0o600')
>>> extra = make_cert(load_ca(ca_dir), "plc 2", dns=("plc2.plant.example",), usage="server")
>>> usages(extra.cert)
['serverAuth']
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from historian.acquisition._files import open_private, read_private
from historian.errors import InvalidArgumentError

__all__ = [
    "CLIENT_URI",
    "SERVER_URI",
    "CertKey",
    "application_uris",
    "load_ca",
    "load_certificate",
    "make_ca",
    "make_cert",
    "make_pki",
    "usages",
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
        fd = open_private(paths["key"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        with os.fdopen(fd, "wb") as f:
            f.write(self.key_pem())
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


def make_ca(
    common_name: str = "historian test CA", *, days: int = 3650, key_size: int = 2048
) -> CertKey:
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
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
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
    usage: Literal["server", "client", "both"] = "server",
) -> CertKey:
    """A leaf certificate signed by ``ca``, usable as OPC UA application instance certificate
    and as TLS certificate.

    ``usage`` picks the ExtendedKeyUsage: ``"server"`` (serverAuth), ``"client"`` (clientAuth)
    or ``"both"`` (for a ClientAndServer application; a collector never needs it).
    """
    ekus = {"server": [ExtendedKeyUsageOID.SERVER_AUTH],
            "client": [ExtendedKeyUsageOID.CLIENT_AUTH],
            "both": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]}  # fmt: skip
    if usage not in ekus:
        raise InvalidArgumentError(f"usage={usage!r}: use 'server', 'client' or 'both'")
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
                digital_signature=True,
                content_commitment=True,
                key_encipherment=True,
                data_encipherment=True,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(ekus[usage]), critical=False)
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
    ca_folder: str | os.PathLike[str] | None = None,
) -> dict[str, str]:
    """Create ``ca``, ``server`` (serverAuth) and ``client`` (clientAuth) certificates.

    Returns the paths: ``ca_cert``/``ca_cert_der``, ``server_cert``/``server_cert_der``/
    ``server_key``, ``client_cert``/``client_cert_der``/``client_key``, and ``trusted``, a
    folder holding the CA's DER certificate (an OPC UA trust list). The CA private key is
    written only with ``ca_folder`` (a folder outside ``folder``; created 0700, the key 0600;
    then ``ca_key`` is returned too, and :func:`load_ca` issues more certificates from it);
    without it the key is discarded once the two leaves are signed.
    """
    if ca_folder is not None:
        ca_dir, dep = Path(ca_folder).resolve(), Path(folder).resolve()
        if ca_dir == dep or dep in ca_dir.parents:
            raise InvalidArgumentError(
                f"ca_folder {str(ca_folder)!r} is inside the deployment folder {str(folder)!r}; "
                "keep the CA private key elsewhere (it can sign a certificate for any host)"
            )
    ca = make_ca(ca_name)
    hosts = tuple(dict.fromkeys(("localhost", socket.gethostname())))
    out: dict[str, str] = {}
    for stem, ck in (
        ("server", make_cert(ca, "historian sim server", uris=(server_uri,), dns=hosts,
                             usage="server")),
        ("client", make_cert(ca, "historian client", uris=(client_uri,), usage="client")),
    ):  # fmt: skip
        for kind, path in ck.write(folder, stem).items():
            out[f"{stem}_{kind}"] = path
    (Path(folder) / "ca.pem").write_bytes(ca.cert_pem())
    (Path(folder) / "ca.der").write_bytes(ca.cert_der())
    out["ca_cert"], out["ca_cert_der"] = str(Path(folder) / "ca.pem"), str(Path(folder) / "ca.der")
    trusted = Path(folder) / "trusted"
    trusted.mkdir(exist_ok=True)
    (trusted / "ca.der").write_bytes(ca.cert_der())
    out["trusted"] = str(trusted)
    if ca_folder is not None:
        Path(ca_folder).mkdir(parents=True, exist_ok=True, mode=0o700)
        os.chmod(ca_folder, 0o700)
        paths = ca.write(ca_folder, "ca")
        out["ca_key"] = paths["key"]
    return dict(sorted(out.items()))


def load_ca(ca_folder: str | os.PathLike[str]) -> CertKey:
    """The CA that :func:`make_pki` wrote to ``ca_folder`` (``ca.pem`` + ``ca-key.pem``), to
    sign more certificates with :func:`make_cert`. The key is read without following a
    symlink."""
    d = Path(ca_folder)
    cert = load_certificate(d / "ca.pem")
    key = serialization.load_pem_private_key(read_private(d / "ca-key.pem"), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidArgumentError(f"{d / 'ca-key.pem'}: not an RSA private key")
    return CertKey(cert, key)


def usages(cert: x509.Certificate) -> list[str]:
    """The ExtendedKeyUsage names of ``cert`` (``serverAuth``, ``clientAuth``, ...).

    Examples
    --------
    >>> usages(make_cert(make_ca(), "both", usage="both").cert)
    ['serverAuth', 'clientAuth']
    """
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return []
    names = {ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
             ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth"}  # fmt: skip
    return [names.get(o, o.dotted_string) for o in eku]


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
