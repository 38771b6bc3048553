"""TLS (RFC 5246, RFC 8446): records and handshake messages across records → flow facts.

Everything after ChangeCipherSpec in TLS <= 1.2, and after the ServerHello in TLS 1.3, is
encrypted; for TLS 1.3 we list what is hidden (tls_hidden) instead of guessing it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

from classifier.dissect import x509
from classifier.dissect.facts import CertSighting, Facts, Malformed
from classifier.dissect.tls_hello import (
    ClientHello,
    ServerHello,
    ja4,
    parse_client_hello,
    parse_server_hello,
)
from classifier.dissect.tls_names import alert_name, cipher_name, group_name, is_grease, version_name
from classifier.dissect.wire import Reader

NAME: Final = "tls"

# Record content types (RFC 8446 §5.1, RFC 5246 §6.2.1).
CHANGE_CIPHER_SPEC: Final = 20
ALERT: Final = 21
HANDSHAKE: Final = 22
APPLICATION_DATA: Final = 23
HEARTBEAT: Final = 24
MAX_RECORD: Final = 2**14 + 2048  # RFC 5246 §6.2.3: TLSCiphertext.length limit

# Handshake message types (RFC 8446 §4, RFC 5246 §7.4).
CLIENT_HELLO: Final = 1
SERVER_HELLO: Final = 2
CERTIFICATE: Final = 11
CERTIFICATE_REQUEST: Final = 13
SERVER_HELLO_DONE: Final = 14

TLS13: Final = 0x0304
TLS13_HIDDEN: Final = "alpn_selected,server_certificate,certificate_request,client_certificate"


FIRST_BYTES: Final = frozenset({CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA, HEARTBEAT}
                               | set(range(0x80, 0x100)))
"""The first bytes ``sniff`` can score above 0 (record types; SSLv2's length high bit)."""


def sniff(data: bytes) -> float:
    """First bytes → confidence that they are TLS records (0..1); never raises."""
    if len(data) < 3 or data[1] != 3 or data[2] > 4:
        if len(data) >= 3 and data[0] & 0x80 and data[2] == 1:
            return 0.3  # SSLv2-compatible ClientHello (RFC 5246 Appendix E.2)
        return 0.0
    if data[0] == HANDSHAKE:
        return 0.95 if len(data) < 6 or data[5] in (CLIENT_HELLO, SERVER_HELLO) else 0.7
    if data[0] in (CHANGE_CIPHER_SPEC, ALERT, APPLICATION_DATA, HEARTBEAT):
        return 0.6
    return 0.0


def _is_hello(data: bytes, mtype: int) -> bool:
    return len(data) > 5 and data[0] == HANDSHAKE and data[1] == 3 and data[5] == mtype


def reversed_roles(orig: bytes, resp: bytes) -> bool:
    """True when the responder sent the ClientHello (the flow's direction was guessed wrong)."""
    return (_is_hello(resp, CLIENT_HELLO) and not _is_hello(orig, CLIENT_HELLO)) or (
        _is_hello(orig, SERVER_HELLO) and not _is_hello(resp, SERVER_HELLO))


@dataclass(slots=True)
class Record:
    """One TLS record: content type, record-layer version, fragment."""

    type: int
    version: int
    fragment: bytes


def parse_record(data: bytes, pos: int = 0) -> Record | None:
    """Bytes at pos → the record there, None when incomplete, Malformed when not a TLS record."""
    if len(data) - pos < 5:
        return None
    ctype, major, minor = data[pos], data[pos + 1], data[pos + 2]
    length = int.from_bytes(data[pos + 3:pos + 5], "big")
    if ctype not in (CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA, HEARTBEAT):
        raise Malformed("tls_bad_content_type")
    if major != 3 or minor > 4:
        raise Malformed("tls_bad_record_version")
    if length > MAX_RECORD:
        raise Malformed("tls_record_too_long")
    if len(data) - pos < 5 + length:
        return None
    return Record(ctype, (major << 8) | minor, data[pos + 5:pos + 5 + length])


@dataclass(slots=True)
class Direction:
    """One direction's plaintext records: handshake bytes, alerts, whether encryption began."""

    hs: bytearray = field(default_factory=bytearray)
    ccs: bool = False
    app_data: bool = False
    alerts: list[str] = field(default_factory=list)
    records: int = 0
    truncated: bool = False


def scan(data: bytes) -> Direction:
    """One direction's bytes → Direction, read up to the first encrypted record (CCS or
    application data); raises Malformed when the bytes are not TLS records.

    Same checks as parse_record, inline: no Record object and no copy of the fragments it
    only needs the type of (an application-data record can be 16 KiB).
    """
    d = Direction()
    hs = d.hs
    pos, n = 0, len(data)
    view = memoryview(data)
    while pos < n:
        if n - pos < 5:
            d.truncated = True
            break
        ctype, major, minor = data[pos], data[pos + 1], data[pos + 2]
        if ctype not in _CONTENT_TYPES:
            raise Malformed("tls_bad_content_type")
        if major != 3 or minor > 4:
            raise Malformed("tls_bad_record_version")
        length = (data[pos + 3] << 8) | data[pos + 4]
        if length > MAX_RECORD:
            raise Malformed("tls_record_too_long")
        end = pos + 5 + length
        if end > n:
            d.truncated = True
            break
        d.records += 1
        if ctype == HANDSHAKE:
            hs += view[pos + 5:end]
        elif ctype == CHANGE_CIPHER_SPEC:
            d.ccs = True
            break  # everything after is encrypted (TLS <= 1.2) or a TLS 1.3 retry we skip
        elif ctype == APPLICATION_DATA:
            d.app_data = True
            break  # encrypted from here on: nothing more to read, and it keeps scans cheap
        elif ctype == ALERT and length == 2:
            d.alerts.append(alert_name(data[pos + 5], data[pos + 6]))
        pos = end
    return d


_CONTENT_TYPES: Final = frozenset({CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA,
                                   HEARTBEAT})


def handshake_messages(buf: bytes | bytearray) -> tuple[list[tuple[int, bytes]], bool]:
    """Reassembled handshake bytes → ([(msg_type, body)], True when the last one is incomplete)."""
    if type(buf) is not bytes:
        buf = bytes(buf)  # one copy; the bodies are then slices of it
    out: list[tuple[int, bytes]] = []
    pos, n = 0, len(buf)
    while pos + 4 <= n:
        end = pos + 4 + ((buf[pos + 1] << 16) | (buf[pos + 2] << 8) | buf[pos + 3])
        if end > n:
            return out, True
        out.append((buf[pos], buf[pos + 4:end]))
        pos = end
    return out, pos != n


def parse_certificate_chain(body: bytes) -> list[bytes]:
    """TLS <= 1.2 Certificate body → DER certificates, leaf first (RFC 5246 §7.4.2)."""
    n = len(body)
    if n < 3:
        raise Malformed("tls_certificate_invalid")
    end = 3 + ((body[0] << 16) | (body[1] << 8) | body[2])
    if end > n:
        raise Malformed("tls_certificate_invalid")
    certs: list[bytes] = []
    pos = 3
    while pos < end:
        start = pos + 3
        if start > end:
            raise Malformed("tls_certificate_invalid")
        stop = start + ((body[pos] << 16) | (body[pos + 1] << 8) | body[pos + 2])
        if stop > end:
            raise Malformed("tls_certificate_invalid")
        certs.append(body[start:stop])
        pos = stop
    return certs


def parse_certificate_request(body: bytes, version: int) -> list[str]:
    """TLS <= 1.2 CertificateRequest body → acceptable CA names (RFC 5246 §7.4.4)."""
    r = Reader(body, reason="tls_certificate_request_invalid")
    r.vector(1)  # certificate_types
    if version >= 0x0303:
        r.vector(2)  # supported_signature_algorithms, TLS 1.2 only
    names: list[str] = []
    cas = r.sub(2)
    while cas.remaining():
        der = cas.vector(2)
        try:
            names.append(x509.dn_to_rfc4514(der))
        except Malformed:
            names.append("<unparsed>")
    return names


@lru_cache(maxsize=1024)
def _hello_text(alpn: tuple[str, ...], versions: tuple[int, ...], legacy: int,
                groups: tuple[int, ...]) -> tuple[str | None, str, str | None]:
    """A ClientHello's lists → (ALPN, offered versions, groups) as reported (cached: clients
    send the same few hellos all day)."""
    vs = [v for v in versions if not is_grease(v)] or [legacy]
    return (",".join(alpn) or None, ",".join(version_name(v) for v in vs),
            ",".join(group_name(g) for g in groups if not is_grease(g)) or None)


def dissect_flow(orig: bytes, resp: bytes) -> Facts:
    """Both directions' first bytes → TLS facts; raises Malformed when they are not TLS."""
    c, s = scan(orig), scan(resp)
    cmsgs, c_trunc = handshake_messages(c.hs)
    smsgs, s_trunc = handshake_messages(s.hs)
    errors: list[str] = []
    ch: ClientHello | None = None
    sh: ServerHello | None = None
    for t, body in cmsgs:
        if t == CLIENT_HELLO:
            ch = parse_client_hello(body)
            break
    for t, body in smsgs:
        if t == SERVER_HELLO:
            hello = parse_server_hello(body)
            if not hello.hello_retry:
                sh = hello
                break
    flow: dict[str, Any] = {"app_proto": NAME}
    facts = Facts(flow=flow)
    version = sh.version if sh else None
    row: dict[str, Any] = {}
    if ch is not None:
        alpn, offered, groups = _hello_text(tuple(ch.alpn), tuple(ch.versions),
                                            ch.legacy_version, tuple(ch.groups))
        fp = ja4(ch)
        flow["tls_sni"] = ch.sni
        flow["tls_alpn"] = alpn
        flow["tls_ja4"] = fp
        row.update(server_name=ch.sni, alpn_offered=alpn, client_versions=offered, groups=groups,
                   key_share_bytes=ch.key_share_bytes, client_hello_bytes=ch.length, ja4=fp)
    if sh is not None and version is not None:
        flow["tls_version"] = row["version"] = version_name(version)
        flow["tls_cipher"] = row["cipher"] = cipher_name(sh.cipher)
        if version < TLS13 and sh.alpn:
            flow["tls_alpn_selected"] = sh.alpn
            row["alpn_selected"] = sh.alpn
    alerts = c.alerts + s.alerts if c.alerts or s.alerts else _NO_ALERTS
    if alerts:
        flow["tls_alert"] = row["alert"] = alerts[0]
    if version is not None and version >= TLS13:
        flow["tls_hidden"] = row["hidden"] = TLS13_HIDDEN
        row["established"] = ((c.ccs or c.app_data) and (s.ccs or s.app_data)
                              and not _fatal(alerts))
    elif sh is not None and version is not None:
        _certificates(facts, row, cmsgs, smsgs, version, s, errors)
        row["established"] = c.ccs and s.ccs and not _fatal(alerts)
    if ch is None and sh is None:
        if c.truncated or s.truncated or c_trunc or s_trunc:
            errors.append("tls_handshake_truncated")
        elif not (c.hs or s.hs):
            errors.append("tls_handshake_not_seen")
    elif (c_trunc or s_trunc or (c.truncated and not (c.ccs or c.app_data))
          or (s.truncated and not (s.ccs or s.app_data))):
        errors.append("tls_handshake_truncated")
    if errors:
        flow["dissect_error"] = errors[0]
    if row:
        facts.tls.append(row)
    return facts


_NO_ALERTS: Final[list[str]] = []


def _fatal(alerts: list[str]) -> bool:
    return bool(alerts) and any(a.startswith("fatal:") for a in alerts)


def _certificates(facts: Facts, row: dict[str, Any], cmsgs: list[tuple[int, bytes]],
                  smsgs: list[tuple[int, bytes]], version: int, s: Direction,
                  errors: list[str]) -> None:
    """TLS <= 1.2: server chain, CertificateRequest, client chain → facts and TLS row."""
    flow = facts.flow
    server_chain: list[bytes] = []
    stypes = {t for t, _ in smsgs}
    for t, body in smsgs:
        if t == CERTIFICATE and not server_chain:
            server_chain = parse_certificate_chain(body)
        elif t == CERTIFICATE_REQUEST:
            names = parse_certificate_request(body, version)
            row["client_ca_names"] = "|".join(names) or None
    if CERTIFICATE_REQUEST in stypes:
        requested: bool | None = True
    elif SERVER_HELLO_DONE in stypes or s.ccs:
        requested = False
    else:
        requested = None
    flow["client_cert_requested"] = row["client_cert_requested"] = requested
    client_chain: list[bytes] | None = None
    for t, body in cmsgs:
        if t == CERTIFICATE:
            client_chain = parse_certificate_chain(body)
            break
    if client_chain is not None:
        presented: bool | None = bool(client_chain)
    elif requested is False:
        presented = False
    else:
        presented = None
    flow["client_cert_presented"] = row["client_cert_presented"] = presented
    if not server_chain and s.ccs and CERTIFICATE not in stypes:
        flow["tls_hidden"] = row["hidden"] = "server_certificate(resumed_session)"
    for der in server_chain:
        facts.certs.append(CertSighting(der, "server"))
    for der in client_chain or []:
        facts.certs.append(CertSighting(der, "client"))
    if server_chain:
        row["cert_chain_fps"] = _fps(server_chain)
        try:
            leaf = x509.parse(server_chain[0])
            flow.update(server_cert_subject=leaf.subject, server_cert_issuer=leaf.issuer,
                        server_cert_sans=leaf.sans, server_cert_fingerprint=leaf.fingerprint)
            flow["server_cert_self_signed"] = x509.parse(server_chain[-1]).self_signed
        except Malformed as exc:
            errors.append(exc.reason)
    if client_chain:
        row["client_cert_chain_fps"] = _fps(client_chain)
        try:
            flow["client_cert_subject"] = x509.parse(client_chain[0]).subject
        except Malformed as exc:
            errors.append(exc.reason)


def _fps(chain: list[bytes]) -> str:
    return ",".join(x509.fingerprint_of(d) for d in chain)
