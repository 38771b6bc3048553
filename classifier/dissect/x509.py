"""X.509 certificates (DER) → the facts kubewire reports, parsed with `cryptography`, cached."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.x509.oid import NameOID

from classifier.dissect.facts import Malformed

# kubelet's self-signed serving certificate: CA "<host>-ca@<unix>" signs "<host>@<unix>"
# (k8s.io/client-go/util/cert/cert.go, GenerateSelfSignedCertKeyWithFixtures).
_KUBELET_LEAF: Final = re.compile(r"^(?P<host>.+)@(?P<ts>\d+)$")
_KUBELET_CA: Final = re.compile(r"^(?P<host>.+)-ca@(?P<ts>\d+)$")


@dataclass(frozen=True, slots=True)
class CertInfo:
    """The reported facts of one certificate (schema.CERTIFICATES without the sighting columns)."""

    fingerprint: str
    subject: str
    issuer: str
    common_name: str | None
    organization: str | None
    sans: str | None
    serial: str
    not_before: datetime | None
    not_after: datetime | None
    key_type: str | None
    key_bits: int | None
    is_ca: bool | None
    self_signed: bool
    kubelet_self_signed: bool


def sha256_hex(der: bytes) -> str:
    """DER bytes → SHA-256 hex (the certificate fingerprint)."""
    return hashlib.sha256(der).hexdigest()


@lru_cache(maxsize=4096)
def fingerprint_of(der: bytes) -> str:
    """DER bytes → SHA-256 hex, cached (the same few certificates recur on every flow)."""
    return hashlib.sha256(der).hexdigest()


def parse(der: bytes) -> CertInfo:
    """DER certificate → CertInfo; raises Malformed('x509_invalid') when it does not parse.

    Results are cached by fingerprint: clusters present the same few certificates on every flow.
    """
    return _parse_cached(der)


@lru_cache(maxsize=4096)
def _parse_cached(der: bytes) -> CertInfo:
    try:
        cert = x509.load_der_x509_certificate(der)
        subject = cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
    except ValueError as exc:
        raise Malformed("x509_invalid") from exc
    cn = _attr(cert.subject, NameOID.COMMON_NAME)
    issuer_cn = _attr(cert.issuer, NameOID.COMMON_NAME)
    orgs = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)]
    key_type, key_bits = _key(cert)
    self_signed = _self_signed(cert)
    return CertInfo(
        fingerprint=sha256_hex(der),
        subject=subject,
        issuer=issuer,
        common_name=cn,
        organization=",".join(orgs) or None,
        sans=_sans(cert),
        serial=format(cert.serial_number, "x"),
        not_before=_safe_time(cert, "not_valid_before_utc"),
        not_after=_safe_time(cert, "not_valid_after_utc"),
        key_type=key_type,
        key_bits=key_bits,
        is_ca=_is_ca(cert),
        self_signed=self_signed,
        kubelet_self_signed=_kubelet_style(cn, issuer_cn),
    )


def _attr(name: x509.Name, oid: x509.ObjectIdentifier) -> str | None:
    try:
        attrs = name.get_attributes_for_oid(oid)
    except ValueError:
        return None
    return str(attrs[0].value) if attrs else None


def _safe_time(cert: x509.Certificate, attr: str) -> datetime | None:
    try:
        value: datetime = getattr(cert, attr)
    except ValueError:
        return None
    return value


def _sans(cert: x509.Certificate) -> str | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except (x509.ExtensionNotFound, ValueError):
        return None
    values: list[str] = []
    for gn in ext.value:
        if isinstance(gn, x509.DNSName | x509.RFC822Name | x509.UniformResourceIdentifier):
            values.append(gn.value)
        elif isinstance(gn, x509.IPAddress):
            values.append(str(gn.value))
    return ",".join(values) or None


def _is_ca(cert: x509.Certificate) -> bool | None:
    try:
        ext = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    except ValueError:
        return None
    return bool(ext.value.ca)


def _key(cert: x509.Certificate) -> tuple[str | None, int | None]:
    try:
        key = cert.public_key()
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None, None
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return f"EC:{key.curve.name}", key.key_size
    if isinstance(key, ed25519.Ed25519PublicKey):
        return "Ed25519", 256
    if isinstance(key, ed448.Ed448PublicKey):
        return "Ed448", 456
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return type(key).__name__, None


def _self_signed(cert: x509.Certificate) -> bool:
    """Subject equals issuer and the signature verifies with the certificate's own key."""
    if cert.subject != cert.issuer:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _kubelet_style(cn: str | None, issuer_cn: str | None) -> bool:
    if not cn or not issuer_cn:
        return False
    ca = _KUBELET_CA.match(issuer_cn)
    if ca is None:
        return False
    if cn == issuer_cn:
        return True  # the kubelet's CA itself, when the server also sends it
    leaf = _KUBELET_LEAF.match(cn)
    return bool(leaf and leaf["host"] == ca["host"])


# --- Distinguished names in a CertificateRequest (DER, no certificate around them) -----------

_OID_NAMES: Final = {
    "2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O",
    "2.5.4.11": "OU", "2.5.4.9": "STREET", "2.5.4.5": "serialNumber",
    "0.9.2342.19200300.100.1.25": "DC", "0.9.2342.19200300.100.1.1": "UID",
    "1.2.840.113549.1.9.1": "emailAddress",
}


def _der_tlv(buf: bytes, pos: int) -> tuple[int, int, int]:
    """DER bytes at pos → (tag, value start, value end); raises Malformed when invalid."""
    if pos + 2 > len(buf):
        raise Malformed("der_truncated")
    tag, ln = buf[pos], buf[pos + 1]
    pos += 2
    if ln & 0x80:
        n = ln & 0x7F
        if n == 0 or n > 3 or pos + n > len(buf):
            raise Malformed("der_bad_length")
        ln = int.from_bytes(buf[pos:pos + n], "big")
        pos += n
    if pos + ln > len(buf):
        raise Malformed("der_truncated")
    return tag, pos, pos + ln


def _oid(raw: bytes) -> str:
    if not raw:
        raise Malformed("der_bad_oid")
    parts = [raw[0] // 40, raw[0] % 40] if raw[0] < 80 else [2, raw[0] - 80]
    acc = 0
    for b in raw[1:]:
        acc = (acc << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(acc)
            acc = 0
    return ".".join(map(str, parts))


def _escape(v: str) -> str:
    v = re.sub(r'([,+"\\<>;])', r"\\\1", v)
    if v.startswith(("#", " ")):
        v = "\\" + v
    return v[:-1] + "\\ " if v.endswith(" ") else v


def dn_to_rfc4514(der: bytes) -> str:
    """A DER-encoded Name (SEQUENCE OF RDN) → RFC 4514 string; raises Malformed when invalid."""
    tag, start, end = _der_tlv(der, 0)
    if tag != 0x30:
        raise Malformed("der_not_sequence")
    rdns: list[str] = []
    pos = start
    while pos < end:
        tag, s_start, s_end = _der_tlv(der, pos)
        if tag != 0x31:
            raise Malformed("der_not_set")
        avas: list[str] = []
        p = s_start
        while p < s_end:
            _, a_start, a_end = _der_tlv(der, p)
            otag, o_start, o_end = _der_tlv(der, a_start)
            if otag != 0x06:
                raise Malformed("der_bad_oid")
            oid = _oid(der[o_start:o_end])
            _, v_start, v_end = _der_tlv(der, o_end)
            raw = der[v_start:v_end]
            text = raw.decode("utf-16-be", "replace") if der[o_end] == 0x1E else raw.decode(
                "utf-8", "replace")
            avas.append(f"{_OID_NAMES.get(oid, oid)}={_escape(text)}")
            p = a_end
        rdns.append("+".join(avas))
        pos = s_end
    return ",".join(reversed(rdns))
