"""Vectorised classic-pcap writer: packet columns (numpy) + a payload pool → Ethernet/IPv4/TCP|UDP.

Headers are built as numpy structured arrays per chunk and scattered into the output buffer; each
packet's payload (TCP options + data, or UDP data) is one slice of the pool. IPv4, TCP and UDP
checksums are correct (RFC 1071), the payload part computed from prefix sums over the pool.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

PCAP_MAGIC_US = 0xA1B2C3D4  # classic pcap, microsecond timestamps
LINKTYPE_ETHERNET = 1
SNAPLEN = 262144
ETH_IPV4 = 0x0800
PCAP_REC, ETH, IP, TCP, UDP = 16, 14, 20, 20, 8

_HDR_FIELDS = [
    ("ts_sec", "<u4"), ("ts_usec", "<u4"), ("incl", "<u4"), ("orig", "<u4"),
    ("eth_dst", ">u2"), ("eth_dst_lo", ">u4"), ("eth_src", ">u2"), ("eth_src_lo", ">u4"),
    ("eth_type", ">u2"),
    ("vihl", "u1"), ("tos", "u1"), ("tot_len", ">u2"), ("ip_id", ">u2"), ("frag", ">u2"),
    ("ttl", "u1"), ("proto", "u1"), ("ip_csum", ">u2"), ("src", ">u4"), ("dst", ">u4"),
    ("sport", ">u2"), ("dport", ">u2"),
]
TCP_HDR = np.dtype([*_HDR_FIELDS, ("seq", ">u4"), ("ack", ">u4"), ("off", "u1"), ("flags", "u1"),
                    ("win", ">u2"), ("csum", ">u2"), ("urp", ">u2")])
UDP_HDR = np.dtype([*_HDR_FIELDS, ("ulen", ">u2"), ("csum", ">u2")])
assert TCP_HDR.itemsize == PCAP_REC + ETH + IP + TCP
assert UDP_HDR.itemsize == PCAP_REC + ETH + IP + UDP


@dataclass(slots=True)
class Packets:
    """Packet columns in file order (all the same length)."""

    ts_us: np.ndarray  # int64 microseconds since the epoch
    proto: np.ndarray  # uint8: 6 or 17
    src: np.ndarray  # uint32
    dst: np.ndarray  # uint32
    sport: np.ndarray  # uint16
    dport: np.ndarray  # uint16
    seq: np.ndarray  # uint32 (TCP)
    ack: np.ndarray  # uint32 (TCP)
    flags: np.ndarray  # uint8 (TCP)
    optlen: np.ndarray  # int32: TCP option bytes at the start of the tail (multiple of 4)
    poff: np.ndarray  # int64: tail offset in the pool
    tlen: np.ndarray  # int32: tail length (TCP options + payload, or UDP payload)
    ip_id: np.ndarray  # uint16
    win: np.ndarray  # uint16

    def __len__(self) -> int:
        return len(self.ts_us)

    def take(self, idx: np.ndarray) -> Packets:
        return Packets(*(getattr(self, f)[idx] for f in self.__slots__))  # type: ignore[attr-defined]


class PoolSums:
    """16-bit one's-complement partial sums of any pool slice in O(1) (RFC 1071)."""

    def __init__(self, pool: np.ndarray) -> None:
        p = pool.astype(np.uint64)
        n, m = (len(p) - 1) // 2, (len(p) - 2) // 2
        self.pool = pool
        self.even = np.concatenate([[0], np.cumsum((p[0:2 * n:2] << 8) | p[1:2 * n:2])]).astype(np.uint64)
        self.odd = np.concatenate([[0], np.cumsum((p[1:2 * m + 1:2] << 8) | p[2:2 * m + 2:2])])
        self.odd = self.odd.astype(np.uint64)

    def sums(self, off: np.ndarray, length: np.ndarray) -> np.ndarray:
        words = (length // 2).astype(np.int64)
        odd = (off & 1).astype(bool)
        k = np.where(odd, (off - 1) // 2, off // 2)
        s = np.where(odd, self.odd[np.minimum(k + words, len(self.odd) - 1)] - self.odd[k],
                     self.even[np.minimum(k + words, len(self.even) - 1)] - self.even[k])
        last = np.where(length & 1, self.pool[np.maximum(off + length - 1, 0)].astype(np.uint64) << 8, 0)
        return s + last.astype(np.uint64)


def _fold(s: np.ndarray) -> np.ndarray:
    s = s.astype(np.uint64)
    for _ in range(4):
        s = (s & 0xFFFF) + (s >> 16)
    return s


def _mac(ip: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IPv4 address → a locally administered MAC 02:42:<ip> as (high 16 bits, low 32 bits)."""
    return np.full(len(ip), 0x0242, dtype=np.uint16), ip.astype(np.uint32)


def _headers(p: Packets, sums: PoolSums, tcp: bool) -> np.ndarray:
    n = len(p)
    h = np.zeros(n, dtype=TCP_HDR if tcp else UDP_HDR)
    l4 = TCP if tcp else UDP
    ip_len = IP + l4 + p.tlen.astype(np.int64)
    h["ts_sec"] = p.ts_us // 1_000_000
    h["ts_usec"] = p.ts_us % 1_000_000
    h["incl"] = h["orig"] = ip_len + ETH
    h["eth_dst"], h["eth_dst_lo"] = _mac(p.dst)
    h["eth_src"], h["eth_src_lo"] = _mac(p.src)
    h["eth_type"] = ETH_IPV4
    h["vihl"] = 0x45
    h["tot_len"] = ip_len
    h["ip_id"] = p.ip_id
    h["frag"] = 0x4000  # DF
    h["ttl"] = 64
    h["proto"] = p.proto
    h["src"], h["dst"] = p.src, p.dst
    h["sport"], h["dport"] = p.sport, p.dport
    raw = h.view(np.uint8).reshape(n, -1)
    ipw = raw[:, 30:50].astype(np.uint64)
    h["ip_csum"] = ~_fold((ipw[:, 0::2] << 8 | ipw[:, 1::2]).sum(axis=1)).astype(np.uint16)
    seg_len = (l4 + p.tlen).astype(np.uint64)
    pseudo = ((p.src >> 16).astype(np.uint64) + (p.src & 0xFFFF) + (p.dst >> 16) + (p.dst & 0xFFFF)
              + p.proto.astype(np.uint64) + seg_len)
    if tcp:
        h["seq"], h["ack"] = p.seq, p.ack
        h["off"] = ((TCP + p.optlen) // 4) << 4
        h["flags"] = p.flags
        h["win"] = p.win
    else:
        h["ulen"] = seg_len
    l4w = raw[:, 50:50 + l4].astype(np.uint64)
    total = pseudo + (l4w[:, 0::2] << 8 | l4w[:, 1::2]).sum(axis=1) + sums.sums(p.poff, p.tlen)
    csum = (~_fold(total)).astype(np.uint16)
    if not tcp:
        csum[csum == 0] = 0xFFFF  # RFC 768: zero means "no checksum"
    h["csum"] = csum
    return h


def write_header(f: BinaryIO) -> None:
    f.write(struct.pack("<IHHiIII", PCAP_MAGIC_US, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET))


def write_chunk(f: BinaryIO, p: Packets, pool: np.ndarray, sums: PoolSums) -> int:
    """Packets (file order) → records appended to ``f``; returns bytes written."""
    is_tcp = p.proto == 6
    hlen = np.where(is_tcp, TCP_HDR.itemsize, UDP_HDR.itemsize)
    rec = hlen + p.tlen.astype(np.int64)
    starts = np.concatenate([[0], np.cumsum(rec)[:-1]])
    out = np.empty(int(rec.sum()), dtype=np.uint8)
    for mask, tcp in ((is_tcp, True), (~is_tcp, False)):
        if not mask.any():
            continue
        sel = np.flatnonzero(mask)
        raw = _headers(p.take(sel), sums, tcp).view(np.uint8).reshape(len(sel), -1)
        out[starts[sel, None] + np.arange(raw.shape[1])] = raw
    mv, src = memoryview(out), memoryview(pool)
    for o, s, n in zip((starts + hlen).tolist(), p.poff.tolist(), p.tlen.tolist(), strict=True):
        if n:
            mv[o:o + n] = src[s:s + n]
    f.write(out.data)
    return len(out)
