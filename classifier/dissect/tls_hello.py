"""TLS ClientHello / ServerHello bodies → their fields, and a JA4-style client fingerprint."""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from classifier.dissect.facts import Malformed
from classifier.dissect.tls_names import HRR_RANDOM, is_grease, version_name

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


def parse_client_hello(body: bytes) -> ClientHello:
    """ClientHello handshake body → ClientHello; raises Malformed('tls_client_hello_invalid').

    Hot path (one per TLS flow): offsets, indexing and struct, no reader object per field;
    an index past the end raises IndexError / struct.error, reported as the same Malformed.
    """
    n = len(body)
    try:
        legacy = (body[0] << 8) | body[1]
        pos = 35 + body[34]  # version(2) random(32) session_id<0..32>
        clen = (body[pos] << 8) | body[pos + 1]
        pos += 2
        if pos + clen > n:
            raise _BAD
        ciphers = list(struct.unpack_from(f">{clen >> 1}H", body, pos))
        pos += clen
        pos += 1 + body[pos]  # compression_methods
        if pos > n:
            raise _BAD
        exts: list[int] = []
        ch = ClientHello(legacy_version=legacy, ciphers=ciphers, extensions=exts, length=n)
        if pos + 2 > n:
            return ch  # extensions are optional before TLS 1.3 (RFC 5246 §7.4.1.2)
        end = pos + 2 + ((body[pos] << 8) | body[pos + 1])
        if end > n:
            raise _BAD
        pos += 2
        unpack = _U16x2.unpack_from
        while pos < end:
            etype, elen = unpack(body, pos)
            pos += 4
            e_end = pos + elen
            if e_end > end:
                raise _BAD
            exts.append(etype)
            if etype in _PARSED_EXTS:
                _extension(ch, etype, body, pos, e_end)
            pos = e_end
    except (struct.error, IndexError) as exc:
        raise Malformed("tls_client_hello_invalid") from exc
    return ch


_U16x2 = struct.Struct(">HH")
_BAD = Malformed("tls_client_hello_invalid")
_PARSED_EXTS = frozenset({EXT_SERVER_NAME, EXT_ALPN, EXT_SUPPORTED_VERSIONS, EXT_SUPPORTED_GROUPS,
                          EXT_SIGNATURE_ALGORITHMS, EXT_KEY_SHARE})


def _vec(body: bytes, pos: int, end: int, len_bytes: int) -> tuple[int, int]:
    """A vector with a 1- or 2-byte length at pos inside [.., end) → (start, stop) of its contents."""
    if pos + len_bytes > end:
        raise _BAD
    ln = body[pos] if len_bytes == 1 else (body[pos] << 8) | body[pos + 1]
    start = pos + len_bytes
    if start + ln > end:
        raise _BAD
    return start, start + ln


def _u16_vec(body: bytes, start: int, stop: int) -> list[int]:
    return list(struct.unpack_from(f">{(stop - start) >> 1}H", body, start))


def _extension(ch: ClientHello, etype: int, body: bytes, pos: int, end: int) -> None:
    """One ClientHello extension we report (body[pos:end]) → its fields on ch."""
    if etype == EXT_KEY_SHARE:
        p, stop = _vec(body, pos, end, 2)
        total = 0
        while p < stop:
            if p + 2 > stop:
                raise _BAD
            s0, p = _vec(body, p + 2, stop, 2)
            total += p - s0
        ch.key_share_bytes += total
        return
    value = _extension_value(etype, body[pos:end])
    if etype == EXT_SERVER_NAME:
        if ch.sni is None:
            ch.sni = value[0] if value else None
    elif etype == EXT_ALPN:
        ch.alpn.extend(value)
    elif etype == EXT_SUPPORTED_VERSIONS:
        ch.versions = list(value)
    elif etype == EXT_SUPPORTED_GROUPS:
        ch.groups = list(value)
    elif etype == EXT_SIGNATURE_ALGORITHMS:
        ch.sig_algs = list(value)


@lru_cache(maxsize=4096)
def _extension_value(etype: int, raw: bytes) -> tuple[Any, ...]:
    """An extension's bytes → its values (cached: a client sends the same SNI, ALPN, versions,
    groups and signature algorithms on every connection); raises Malformed when invalid."""
    end = len(raw)
    if etype == EXT_SERVER_NAME:
        if end == 0:
            return ()
        p, stop = _vec(raw, 0, end, 2)
        found: tuple[str, ...] = ()
        while p < stop:  # every entry is checked, the first host_name kept
            ntype = raw[p]
            s0, p = _vec(raw, p + 1, stop, 2)
            if ntype == 0 and not found:
                found = (raw[s0:p].decode("ascii", "replace"),)
        return found
    if etype == EXT_ALPN:
        p, stop = _vec(raw, 0, end, 2)
        names = []
        while p < stop:
            s0, p = _vec(raw, p, stop, 1)
            names.append(raw[s0:p].decode("ascii", "replace"))
        return tuple(names)
    if etype == EXT_SUPPORTED_VERSIONS:
        return tuple(_u16_vec(raw, *_vec(raw, 0, end, 1)))
    return tuple(_u16_vec(raw, *_vec(raw, 0, end, 2)))  # groups, signature algorithms


_SH_BAD = Malformed("tls_server_hello_invalid")


def parse_server_hello(body: bytes) -> ServerHello:
    """ServerHello handshake body → ServerHello; raises Malformed('tls_server_hello_invalid')."""
    n = len(body)
    if n < 35:
        raise Malformed("tls_server_hello_invalid")
    version = (body[0] << 8) | body[1]
    pos = 35 + body[34]  # version(2) random(32) session_id<0..32>
    if pos + 3 > n:
        raise Malformed("tls_server_hello_invalid")
    cipher = (body[pos] << 8) | body[pos + 1]
    pos += 3  # cipher_suite(2) compression_method(1)
    alpn: str | None = None
    if n - pos >= 2:
        p, end = _vec_sh(body, pos, n)
        while p < end:
            if p + 2 > end:
                raise _SH_BAD
            etype = (body[p] << 8) | body[p + 1]
            d0, p = _vec_sh(body, p + 2, end)
            if etype == EXT_SUPPORTED_VERSIONS and p - d0 >= 2:
                version = (body[d0] << 8) | body[d0 + 1]
            elif etype == EXT_ALPN:
                a0, a1 = _vec_sh(body, d0, p)
                if a0 < a1:
                    s0 = a0 + 1
                    if s0 + body[a0] > a1:
                        raise _SH_BAD
                    alpn = body[s0:s0 + body[a0]].decode("ascii", "replace")
    return ServerHello(version=version, cipher=cipher, alpn=alpn,
                       hello_retry=body[2:34] == HRR_RANDOM)



def _vec_sh(body: bytes, pos: int, end: int) -> tuple[int, int]:
    """A uint16-length vector at pos inside [.., end) → (start, stop); Malformed past end."""
    if pos + 2 > end:
        raise _SH_BAD
    start = pos + 2
    stop = start + ((body[pos] << 8) | body[pos + 1])
    if stop > end:
        raise _SH_BAD
    return start, stop


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
