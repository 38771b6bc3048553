"""TLS ClientHello / ServerHello bodies → their fields, and a JA4-style client fingerprint."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from functools import lru_cache

from classifier.dissect.facts import Malformed
from classifier.dissect.tls_names import HRR_RANDOM, is_grease, version_name
from classifier.dissect.wire import Reader

# Extension code points (IANA "TLS ExtensionType Values").
EXT_SERVER_NAME = 0
EXT_SUPPORTED_GROUPS = 10
EXT_SIGNATURE_ALGORITHMS = 13
EXT_ALPN = 16
EXT_SUPPORTED_VERSIONS = 43
EXT_KEY_SHARE = 51


@dataclass(slots=True)
class ClientHello:
    """The fields of a ClientHello (RFC 8446 §4.1.2) kubewire reports."""

    legacy_version: int
    ciphers: list[int]
    extensions: list[int]
    sni: str | None = None
    alpn: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    sig_algs: list[int] = field(default_factory=list)
    key_share_bytes: int = 0
    length: int = 0


@dataclass(slots=True)
class ServerHello:
    """The fields of a ServerHello (RFC 8446 §4.1.3)."""

    version: int
    cipher: int
    alpn: str | None
    hello_retry: bool


def _u16s(data: bytes) -> list[int]:
    """A vector of uint16 → the values (an odd trailing byte is ignored)."""
    return list(struct.unpack(f">{len(data) // 2}H", data[: len(data) // 2 * 2]))


def parse_client_hello(body: bytes) -> ClientHello:
    """ClientHello handshake body → ClientHello; raises Malformed('tls_client_hello_invalid').

    Hot path (one per TLS flow): offsets and struct instead of a Reader object per field.
    """
    n = len(body)
    try:
        legacy = _U16.unpack_from(body, 0)[0]
        pos = 34 + 1 + body[34]  # version(2) random(32) session_id<0..32>
        clen = _U16.unpack_from(body, pos)[0]
        if pos + 2 + clen > n:
            raise _BAD
        ciphers = _u16s(body[pos + 2:pos + 2 + clen])
        pos += 2 + clen
        pos += 1 + body[pos]  # compression_methods
        if pos > n:
            raise _BAD
        ch = ClientHello(legacy_version=legacy, ciphers=ciphers, extensions=[], length=n)
        if pos + 2 > n:
            return ch  # extensions are optional before TLS 1.3 (RFC 5246 §7.4.1.2)
        end = pos + 2 + _U16.unpack_from(body, pos)[0]
        if end > n:
            raise _BAD
        pos += 2
        while pos < end:
            etype, elen = _U16x2.unpack_from(body, pos)
            pos += 4
            if pos + elen > end:
                raise _BAD
            ch.extensions.append(etype)
            if etype in _PARSED_EXTS:
                _extension(ch, etype, Reader(body, pos, pos + elen, "tls_client_hello_invalid"))
            pos += elen
    except (struct.error, IndexError) as exc:
        raise Malformed("tls_client_hello_invalid") from exc
    return ch


_U16 = struct.Struct(">H")
_U16x2 = struct.Struct(">HH")
_BAD = Malformed("tls_client_hello_invalid")
_PARSED_EXTS = frozenset({EXT_SERVER_NAME, EXT_ALPN, EXT_SUPPORTED_VERSIONS, EXT_SUPPORTED_GROUPS,
                          EXT_SIGNATURE_ALGORITHMS, EXT_KEY_SHARE})


def _extension(ch: ClientHello, etype: int, data: Reader) -> None:
    """One ClientHello extension we report → its fields on ch."""
    if etype == EXT_SERVER_NAME and data.remaining():
        names = data.sub(2)
        while names.remaining():
            ntype = names.uint(1)
            name = names.vector(2)
            if ntype == 0 and ch.sni is None:
                ch.sni = name.decode("ascii", "replace")
    elif etype == EXT_ALPN:
        protos = data.sub(2)
        while protos.remaining():
            ch.alpn.append(protos.vector(1).decode("ascii", "replace"))
    elif etype == EXT_SUPPORTED_VERSIONS:
        ch.versions = _u16s(data.vector(1))
    elif etype == EXT_SUPPORTED_GROUPS:
        ch.groups = _u16s(data.vector(2))
    elif etype == EXT_SIGNATURE_ALGORITHMS:
        ch.sig_algs = _u16s(data.vector(2))
    elif etype == EXT_KEY_SHARE:
        shares = data.sub(2)
        while shares.remaining():
            shares.uint(2)
            ch.key_share_bytes += len(shares.vector(2))


def parse_server_hello(body: bytes) -> ServerHello:
    """ServerHello handshake body → ServerHello; raises Malformed('tls_server_hello_invalid')."""
    r = Reader(body, reason="tls_server_hello_invalid")
    version = r.uint(2)
    random = r.take(32)
    r.vector(1)
    cipher = r.uint(2)
    r.uint(1)
    alpn: str | None = None
    if r.remaining() >= 2:
        exts = r.sub(2)
        while exts.remaining():
            etype = exts.uint(2)
            data = exts.sub(2)
            if etype == EXT_SUPPORTED_VERSIONS and data.remaining() >= 2:
                version = data.uint(2)
            elif etype == EXT_ALPN:
                protos = data.sub(2)
                if protos.remaining():
                    alpn = protos.vector(1).decode("ascii", "replace")
    return ServerHello(version=version, cipher=cipher, alpn=alpn, hello_retry=random == HRR_RANDOM)


_JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}


def _hash12(items: list[str]) -> str:
    if not items:
        return "000000000000"
    return hashlib.sha256(",".join(items).encode()).hexdigest()[:12]


def ja4(ch: ClientHello, *, transport: str = "t") -> str:
    """ClientHello → JA4 fingerprint (FoxIO JA4 spec: a_b_c, GREASE ignored, sorted hashes).

    Cached on the hello's shape: a cluster's clients send the same few hellos all day.
    """
    return _ja4(transport, ch.legacy_version, tuple(ch.versions), bool(ch.sni),
                tuple(ch.ciphers), tuple(ch.extensions), ch.alpn[0] if ch.alpn else "",
                tuple(ch.sig_algs))


@lru_cache(maxsize=1024)
def _ja4(transport: str, legacy: int, all_versions: tuple[int, ...], has_sni: bool,
         all_ciphers: tuple[int, ...], all_exts: tuple[int, ...], alpn: str,
         sig_algs: tuple[int, ...]) -> str:
    versions = [v for v in all_versions if not is_grease(v)]
    top = max(versions) if versions else legacy
    ver = _JA4_VERSIONS.get(top, "00")
    sni = "d" if has_sni else "i"
    ciphers = [c for c in all_ciphers if not is_grease(c)]
    exts = [e for e in all_exts if not is_grease(e)]
    if alpn and not (alpn[0].isalnum() and alpn[-1].isalnum()):
        alpn_code = alpn.encode().hex()[:1] + alpn.encode().hex()[-1:]
    else:
        alpn_code = (alpn[0] + alpn[-1]) if alpn else "00"
    a = f"{transport}{ver}{sni}{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{alpn_code}"
    b = _hash12(sorted(f"{c:04x}" for c in ciphers))
    ext_list = sorted(f"{e:04x}" for e in exts if e not in (EXT_SERVER_NAME, EXT_ALPN))
    sigs = [f"{s:04x}" for s in sig_algs if not is_grease(s)]
    c_src = ",".join(ext_list) + ("_" + ",".join(sigs) if sigs else "")
    c = hashlib.sha256(c_src.encode()).hexdigest()[:12] if ext_list else "000000000000"
    return f"{a}_{b}_{c}"


def offered_versions(ch: ClientHello) -> list[str]:
    """ClientHello → versions offered (supported_versions, else the legacy version), GREASE out."""
    vs = [v for v in ch.versions if not is_grease(v)] or [ch.legacy_version]
    return [version_name(v) for v in vs]
