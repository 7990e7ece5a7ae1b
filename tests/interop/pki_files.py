"""Certificates for the third-party servers: historian's own PKI (pki.py) plus an empty CRL,
which node-opcua requires for every CA it trusts (else BadCertificateRevocationUnknown)."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from historian.acquisition.pki import CLIENT_URI, make_ca, make_cert

SERVER_URI = "urn:historian:interop:server"


def make_interop_pki(folder: Path) -> dict[str, str]:
    """CA, server (serverAuth, 127.0.0.1/localhost, ``SERVER_URI``) and client certificates,
    the CA's empty CRL, the server chain (leaf + CA, PEM) and a ``trusted`` folder (CA DER)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca = make_ca("historian interop CA")
    out: dict[str, str] = {}
    server = make_cert(ca, "interop server", uris=(SERVER_URI,), usage="server")
    client = make_cert(ca, "historian client", uris=(CLIENT_URI,), usage="client")
    for stem, ck in (("server", server), ("client", client)):
        for kind, path in ck.write(folder, stem).items():
            out[f"{stem}_{kind}"] = path
    (folder / "ca.der").write_bytes(ca.cert_der())
    (folder / "server-chain.pem").write_bytes(server.cert_pem() + ca.cert_pem())
    now = dt.datetime.now(dt.UTC)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(now - dt.timedelta(days=1))
        .next_update(now + dt.timedelta(days=30))
        .sign(ca.key, hashes.SHA256())
    )
    (folder / "ca.crl").write_bytes(crl.public_bytes(serialization.Encoding.DER))
    trusted = folder / "trusted"
    trusted.mkdir(exist_ok=True)
    (trusted / "ca.der").write_bytes(ca.cert_der())
    out.update(ca_der=str(folder / "ca.der"), ca_crl=str(folder / "ca.crl"),
               server_chain=str(folder / "server-chain.pem"), trusted=str(trusted),
               server_uri=SERVER_URI)  # fmt: skip
    return {k: os.fspath(v) for k, v in out.items()}
