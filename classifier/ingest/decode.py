"""Packet decoding kernel (numba): framed records → per-packet L2/L3/L4 facts as numpy arrays.

Link types (https://www.tcpdump.org/linktypes.html): Ethernet with 802.1Q/802.1ad tags, Linux
SLL/SLL2, raw IPv4/IPv6, BSD NULL/LOOP. IPv4 (RFC 791) with options, IPv6 (RFC 8200) with
extension headers, TCP (RFC 9293), UDP (RFC 768). Overlays decapsulated: VXLAN (RFC 7348;
UDP 4789 and Linux/flannel's 8472), Geneve (RFC 8926, UDP 6081), IP-in-IP (RFC 2003/4213),
GRE (RFC 2784/2890) including ERSPAN types I-III.
"""


from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from classifier.ingest import reasons as R
from classifier.native import inline, kernel

TUN_NONE: Final = 0
TUN_VXLAN: Final = 1
TUN_GENEVE: Final = 2
TUN_IPIP: Final = 3
TUN_GRE: Final = 4
TUNNEL_NAMES: Final = {TUN_VXLAN: "vxlan", TUN_GENEVE: "geneve", TUN_IPIP: "ipip",
                       TUN_GRE: "gre"}
MAX_DEPTH: Final = 4
V4_MAPPED: Final = 0x0000FFFF00000000
"""IPv4 addresses are kept as IPv4-mapped IPv6 (RFC 4291 §2.5.5.2): hi word 0."""

# stages of the layer walk
_ETH, _ETYPE, _IP4, _IP6, _DONE = 0, 1, 2, 3, 4


@dataclass(slots=True)
class Packets:
    """Decoded facts of one batch of records, one array element per record."""

    reason: np.ndarray
    src_hi: np.ndarray
    src_lo: np.ndarray
    dst_hi: np.ndarray
    dst_lo: np.ndarray
    sport: np.ndarray
    dport: np.ndarray
    flags: np.ndarray
    seq: np.ndarray
    ack: np.ndarray
    pay_off: np.ndarray
    pay_len: np.ndarray
    """Payload length from the headers (what was sent)."""
    pay_cap: np.ndarray
    """Payload bytes actually captured (<= pay_len)."""
    ip_bytes: np.ndarray
    vlan1: np.ndarray
    vlan2: np.ndarray
    tun_kind: np.ndarray
    tun_src_hi: np.ndarray
    tun_src_lo: np.ndarray
    tun_dst_hi: np.ndarray
    tun_dst_lo: np.ndarray
    tun_id: np.ndarray


def decode(buf: np.ndarray, off: np.ndarray, caplen: np.ndarray, linktype: np.ndarray,
           reason_in: np.ndarray) -> Packets:
    """Framed records (offsets into buf) → Packets; records with a reason keep it."""
    n = off.shape[0]
    u64 = [np.zeros(n, np.uint64) for _ in range(8)]
    p = Packets(
        reason=np.empty(n, np.uint16), src_hi=u64[0], src_lo=u64[1], dst_hi=u64[2],
        dst_lo=u64[3], sport=np.zeros(n, np.uint16), dport=np.zeros(n, np.uint16),
        flags=np.zeros(n, np.uint8), seq=np.zeros(n, np.uint32), ack=np.zeros(n, np.uint32),
        pay_off=np.zeros(n, np.int64), pay_len=np.zeros(n, np.int64),
        pay_cap=np.zeros(n, np.int64), ip_bytes=np.zeros(n, np.int64),
        vlan1=np.full(n, -1, np.int32), vlan2=np.full(n, -1, np.int32),
        tun_kind=np.zeros(n, np.uint8), tun_src_hi=u64[4], tun_src_lo=u64[5],
        tun_dst_hi=u64[6], tun_dst_lo=u64[7], tun_id=np.full(n, -1, np.int64))
    _decode_all(buf, off, caplen, linktype, reason_in, p.reason, p.src_hi, p.src_lo, p.dst_hi,
                p.dst_lo, p.sport, p.dport, p.flags, p.seq, p.ack, p.pay_off, p.pay_len,
                p.pay_cap, p.ip_bytes, p.vlan1, p.vlan2, p.tun_kind, p.tun_src_hi, p.tun_src_lo,
                p.tun_dst_hi, p.tun_dst_lo, p.tun_id)
    return p


@inline
def _be16(b: np.ndarray, p: int) -> Any:
    return (np.int64(b[p]) << 8) | np.int64(b[p + 1])


@inline
def _be24(b: np.ndarray, p: int) -> Any:
    """Big-endian 24-bit value (VXLAN / Geneve VNI, RFC 7348 §5, RFC 8926 §3.4) at p."""
    return (np.int64(b[p]) << 16) | (np.int64(b[p + 1]) << 8) | np.int64(b[p + 2])


@inline
def _be32(b: np.ndarray, p: int) -> Any:
    return (np.int64(b[p]) << 24) | (np.int64(b[p + 1]) << 16) | (np.int64(b[p + 2]) << 8) | \
        np.int64(b[p + 3])


@inline
def _be64(b: np.ndarray, p: int) -> np.uint64:
    v = np.uint64(0)
    for k in range(8):
        v = (v << np.uint64(8)) | np.uint64(b[p + k])
    return v


@inline
def _enter_tunnel(i, kind, tid, tun_kind, tun_src_hi, tun_src_lo, tun_dst_hi,  # type: ignore[no-untyped-def]
                  tun_dst_lo, tun_id, src_hi, src_lo, dst_hi, dst_lo):
    """Packet i enters a tunnel: the outermost one is kept with its outer ends and id (-1 none)."""
    if tun_kind[i] == 0:
        tun_kind[i] = kind
        tun_src_hi[i] = src_hi[i]
        tun_src_lo[i] = src_lo[i]
        tun_dst_hi[i] = dst_hi[i]
        tun_dst_lo[i] = dst_lo[i]
        tun_id[i] = tid


@kernel()
def _decode_all(buf, off, caplen, linktype, reason_in, reason, src_hi, src_lo, dst_hi,  # type: ignore[no-untyped-def]
                dst_lo, sport, dport, flags, seq, ack, pay_off, pay_len, pay_cap, ip_bytes,
                vlan1, vlan2, tun_kind, tun_src_hi, tun_src_lo, tun_dst_hi, tun_dst_lo, tun_id):
    for i in range(off.shape[0]):
        if reason_in[i] != 0:
            reason[i] = reason_in[i]
            continue
        p = off[i]
        end = p + caplen[i]
        lt = linktype[i]
        depth = 0
        nvlan = 0
        et = 0
        r = -1
        stage = _ETH
        # --- link layer → first stage
        if lt == 1:
            stage = _ETH
        elif lt == 113:  # Linux cooked v1: 16-byte header, protocol at offset 14
            if p + 16 > end:
                r = R.LINK_TRUNCATED
            else:
                et = _be16(buf, p + 14)
                p += 16
                stage = _ETYPE
        elif lt == 276:  # Linux cooked v2: 20-byte header, protocol at offset 0
            if p + 20 > end:
                r = R.LINK_TRUNCATED
            else:
                et = _be16(buf, p)
                p += 20
                stage = _ETYPE
        elif lt == 0 or lt == 108:  # BSD NULL (host order) / LOOP (network order) family
            if p + 4 > end:
                r = R.LINK_TRUNCATED
            else:
                fam_le = np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8) | (
                    np.int64(buf[p + 2]) << 16) | (np.int64(buf[p + 3]) << 24)
                fam_be = _be32(buf, p)
                fam = fam_be if lt == 108 else (fam_le if fam_le < 256 else fam_be)
                p += 4
                if fam == 2:
                    stage = _IP4
                elif fam == 24 or fam == 28 or fam == 30 or fam == 10:
                    stage = _IP6
                else:
                    r = R.NON_IP
        elif lt == 12 or lt == 14 or lt == 101:
            if p + 1 > end:
                r = R.LINK_TRUNCATED
            elif buf[p] >> 4 == 4:
                stage = _IP4
            elif buf[p] >> 4 == 6:
                stage = _IP6
            else:
                r = R.IP_BAD_VERSION
        elif lt == 228:
            stage = _IP4
        elif lt == 229:
            stage = _IP6
        else:
            r = R.UNSUPPORTED_LINK_TYPE
        ip_total_end = 0
        l4p = 0
        proto = np.int64(-1)
        while r < 0:
            if stage == _ETH:
                if p + 14 > end:
                    r = R.LINK_TRUNCATED
                    break
                et = _be16(buf, p + 12)
                p += 14
                stage = _ETYPE
                continue
            elif stage == _ETYPE:
                while et == 0x8100 or et == 0x88A8 or et == 0x9100:
                    if p + 4 > end:
                        r = R.LINK_TRUNCATED
                        break
                    if depth == 0:
                        if nvlan == 0:
                            vlan1[i] = _be16(buf, p) & 0xFFF
                        elif nvlan == 1:
                            vlan2[i] = _be16(buf, p) & 0xFFF
                        nvlan += 1
                    et = _be16(buf, p + 2)
                    p += 4
                if r >= 0:
                    break
                if et == 0x0800:
                    stage = _IP4
                elif et == 0x86DD:
                    stage = _IP6
                elif et == 0x0806:
                    r = R.ARP
                elif et == 0x88CC:
                    r = R.LLDP
                else:
                    r = R.NON_IP
                continue
            elif stage == _IP4:
                if p + 20 > end:
                    r = R.IPV4_TRUNCATED
                    break
                if buf[p] >> 4 != 4:
                    r = R.IP_BAD_VERSION
                    break
                ihl = (buf[p] & 0xF) * 4
                if ihl < 20:
                    r = R.IPV4_BAD_HEADER
                    break
                if p + ihl > end:
                    r = R.IPV4_TRUNCATED
                    break
                total = _be16(buf, p + 2)
                if total == 0:  # TCP segmentation offload: length left to the NIC
                    total = end - p
                if total < ihl:
                    r = R.IPV4_BAD_HEADER
                    break
                frag = _be16(buf, p + 6)
                if (frag & 0x2000) != 0 or (frag & 0x1FFF) != 0:
                    r = R.IPV4_FRAGMENT
                    break
                proto = np.int64(buf[p + 9])
                s = np.uint64(V4_MAPPED) | np.uint64(_be32(buf, p + 12))
                d = np.uint64(V4_MAPPED) | np.uint64(_be32(buf, p + 16))
                src_hi[i] = 0
                src_lo[i] = s
                dst_hi[i] = 0
                dst_lo[i] = d
                ip_bytes[i] = total
                ip_total_end = p + total
                l4p = p + ihl
            elif stage == _IP6:
                if p + 40 > end:
                    r = R.IPV6_TRUNCATED
                    break
                if buf[p] >> 4 != 6:
                    r = R.IP_BAD_VERSION
                    break
                plen = _be16(buf, p + 4)
                total = 40 + plen if plen != 0 else end - p
                nh = np.int64(buf[p + 6])
                src_hi[i] = _be64(buf, p + 8)
                src_lo[i] = _be64(buf, p + 16)
                dst_hi[i] = _be64(buf, p + 24)
                dst_lo[i] = _be64(buf, p + 32)
                ip_bytes[i] = total
                ip_total_end = p + total
                q = p + 40
                while True:
                    if nh == 0 or nh == 43 or nh == 60 or nh == 135 or nh == 139 or nh == 140:
                        if q + 8 > end:
                            r = R.IPV6_TRUNCATED
                            break
                        nh2 = np.int64(buf[q])
                        q += (np.int64(buf[q + 1]) + 1) * 8
                        nh = nh2
                    elif nh == 44:
                        if q + 8 > end:
                            r = R.IPV6_TRUNCATED
                            break
                        fo = _be16(buf, q + 2)
                        if (fo & 0xFFF8) != 0 or (fo & 1) != 0:
                            r = R.IPV6_FRAGMENT
                            break
                        nh = np.int64(buf[q])  # atomic fragment (RFC 6946): whole packet
                        q += 8
                    elif nh == 51:
                        if q + 8 > end:
                            r = R.IPV6_TRUNCATED
                            break
                        nh2 = np.int64(buf[q])
                        q += (np.int64(buf[q + 1]) + 2) * 4
                        nh = nh2
                    else:
                        break
                if r >= 0:
                    break
                if nh == 59:
                    r = R.IPV6_NO_NEXT_HEADER
                    break
                if q > ip_total_end:
                    r = R.IPV6_BAD_HEADER
                    break
                proto = nh
                l4p = q
            else:
                break
            # --- transport, or a tunnel that loops back to an inner layer
            if proto == 4 or proto == 41:  # IP-in-IP / IPv6-in-IP
                if depth >= MAX_DEPTH:
                    r = R.TUNNEL_TOO_DEEP
                    break
                _enter_tunnel(i, TUN_IPIP, -1,
                              tun_kind, tun_src_hi, tun_src_lo, tun_dst_hi, tun_dst_lo, tun_id,
                              src_hi, src_lo, dst_hi, dst_lo)
                depth += 1
                p = l4p
                end = min(end, ip_total_end)
                stage = _IP4 if proto == 4 else _IP6
                continue
            if proto == 47:  # GRE (RFC 2784/2890), ERSPAN (draft-foschiano-erspan)
                if l4p + 4 > end:
                    r = R.TUNNEL_TRUNCATED
                    break
                gf = _be16(buf, l4p)
                gp = _be16(buf, l4p + 2)
                if (gf & 0x7) != 0 or not (gp == 0x6558 or gp == 0x0800 or gp == 0x86DD
                                           or gp == 0x88BE or gp == 0x22EB):
                    r = R.PROTO_BASE + 47
                    break
                if depth >= MAX_DEPTH:
                    r = R.TUNNEL_TOO_DEEP
                    break
                q = l4p + 4
                key = -1
                if gf & 0x8000:
                    q += 4
                if gf & 0x2000:
                    if q + 4 > end:
                        r = R.TUNNEL_TRUNCATED
                        break
                    key = _be32(buf, q)
                    q += 4
                seq_present = (gf & 0x1000) != 0
                if seq_present:
                    q += 4
                if gp == 0x88BE and seq_present:
                    q += 8  # ERSPAN type II header
                elif gp == 0x22EB:
                    if q + 12 > end:
                        r = R.TUNNEL_TRUNCATED
                        break
                    q += 12 + (8 if (buf[q + 11] & 1) else 0)  # type III (+ platform subheader)
                if q > end:
                    r = R.TUNNEL_TRUNCATED
                    break
                _enter_tunnel(i, TUN_GRE, key,
                              tun_kind, tun_src_hi, tun_src_lo, tun_dst_hi, tun_dst_lo, tun_id,
                              src_hi, src_lo, dst_hi, dst_lo)
                depth += 1
                p = q
                end = min(end, ip_total_end)
                stage = _IP4 if gp == 0x0800 else (_IP6 if gp == 0x86DD else _ETH)
                continue
            if proto == 6:
                if l4p + 20 > end:
                    r = R.TCP_TRUNCATED
                    break
                doff = (np.int64(buf[l4p + 12]) >> 4) * 4
                if doff < 20 or l4p + doff > ip_total_end:
                    r = R.TCP_BAD_HEADER
                    break
                sport[i] = _be16(buf, l4p)
                dport[i] = _be16(buf, l4p + 2)
                seq[i] = _be32(buf, l4p + 4)
                ack[i] = _be32(buf, l4p + 8)
                flags[i] = buf[l4p + 13]
                po = l4p + doff
                pay_off[i] = po
                pay_len[i] = ip_total_end - po
                pay_cap[i] = max(0, min(end, ip_total_end) - po)
                r = R.TCP
                break
            if proto == 17:
                if l4p + 8 > end:
                    r = R.UDP_TRUNCATED
                    break
                sp = _be16(buf, l4p)
                dp = _be16(buf, l4p + 2)
                ulen = _be16(buf, l4p + 4)
                po = l4p + 8
                uend = l4p + ulen if ulen >= 8 and l4p + ulen <= ip_total_end else ip_total_end
                if uend < po:
                    r = R.UDP_TRUNCATED
                    break
                cend = min(end, uend)
                # VXLAN (RFC 7348 §5: I flag 0x08) on 4789, and Linux/flannel's 8472
                if (dp == 4789 or dp == 8472) and depth < MAX_DEPTH and po + 8 <= cend and (
                        buf[po] & 0x08) != 0:
                    _enter_tunnel(i, TUN_VXLAN, _be24(buf, po + 4),
                                  tun_kind, tun_src_hi, tun_src_lo, tun_dst_hi, tun_dst_lo, tun_id,
                                  src_hi, src_lo, dst_hi, dst_lo)
                    depth += 1
                    p = po + 8
                    end = cend
                    stage = _ETH
                    continue
                # Geneve (RFC 8926 §3.4): version 0, options length in 4-byte words
                if dp == 6081 and depth < MAX_DEPTH and po + 8 <= cend and (buf[po] >> 6) == 0:
                    gp = _be16(buf, po + 2)
                    q = po + 8 + (np.int64(buf[po]) & 0x3F) * 4
                    if (gp == 0x6558 or gp == 0x0800 or gp == 0x86DD) and q <= cend:
                        _enter_tunnel(i, TUN_GENEVE, _be24(buf, po + 4),
                                      tun_kind, tun_src_hi, tun_src_lo, tun_dst_hi, tun_dst_lo, tun_id,
                                      src_hi, src_lo, dst_hi, dst_lo)
                        depth += 1
                        p = q
                        end = cend
                        stage = _IP4 if gp == 0x0800 else (_IP6 if gp == 0x86DD else _ETH)
                        continue
                sport[i] = sp
                dport[i] = dp
                pay_off[i] = po
                pay_len[i] = uend - po
                pay_cap[i] = max(0, cend - po)
                r = R.UDP
                break
            if proto == 50:
                r = R.ESP
                break
            r = R.PROTO_BASE + proto  # type: ignore[assignment]
            break
        reason[i] = r
