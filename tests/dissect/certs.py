"""Test helper: certificates made with `cryptography` (kubelet-style self-signed pairs, CAs)."""

from __future__ import annotations

import datetime as dt

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NOW = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _name(cn: str, org: str | None = None) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    return x509.Name(attrs)


def make_cert(cn: str, *, issuer_cn: str | None = None, issuer_key: ec.EllipticCurvePrivateKey
              | None = None, ca: bool = False, sans: list[str] | None = None,
              org: str | None = None) -> tuple[bytes, ec.EllipticCurvePrivateKey]:
    """A DER certificate (+ its key); self-signed unless an issuer name and key are given."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (x509.CertificateBuilder()
               .subject_name(_name(cn, org))
               .issuer_name(_name(issuer_cn) if issuer_cn else _name(cn, org))
               .public_key(key.public_key())
               .serial_number(0x1234ABCD)
               .not_valid_before(NOW)
               .not_valid_after(NOW + dt.timedelta(days=365))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False)
    cert = builder.sign(issuer_key or key, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER), key


def kubelet_pair(host: str = "node-1", ts: int = 1700000000) -> tuple[bytes, bytes]:
    """kubelet's self-signed serving pair: (leaf '<host>@<ts>', CA '<host>-ca@<ts>')."""
    ca_der, ca_key = make_cert(f"{host}-ca@{ts}", ca=True)
    leaf_der, _ = make_cert(f"{host}@{ts}", issuer_cn=f"{host}-ca@{ts}", issuer_key=ca_key,
                            sans=[host])
    return leaf_der, ca_der
