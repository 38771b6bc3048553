"""The flow-tracking kernel (numba): decoded packets, in capture order → per-flow state.

One sequential pass per batch over a hash table keyed by the direction-free 5-tuple plus VLAN
and tunnel context. TCP endpoint states and history letters follow Zeek's conn.log
(base/protocols/conn/main.zeek); a SYN on a 5-tuple whose connection ended starts a new flow,
UDP conversations end after an idle timeout.
"""

# ruff: noqa: SIM102, SIM109  (numba kernels: explicit comparisons compile to plain branches)
from __future__ import annotations

from typing import Any, Final

import numpy as np

from classifier.native import inline, kernel

KW: Final = 6
"""Key words: a_hi, a_lo, b_hi, b_lo, ports|proto|tunnel kind, vlans|tunnel id."""
HL: Final = 16
"""History letters kept per flow."""
# TCP flags (RFC 9293 §3.1)
FIN, SYN, RST, ACK = 0x01, 0x02, 0x04, 0x10
# endpoint states (Zeek's TCP_ENDPOINT_*)
INACTIVE, SYN_SENT, SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET = 0, 1, 2, 3, 4, 5, 6
# history letters: index → bit position; uppercase for the originator (Zeek conn.log history)
LETTERS: Final = "SHADFRT"
L_S, L_H, L_A, L_D, L_F, L_R, L_T = 0, 1, 2, 3, 4, 5, 6
# counters (ctr array slots)
C_CONTRIB, C_FILEEV, C_BURST, C_FLOWS, C_HT = 0, 1, 2, 3, 4
# hash-table values: >= 0 a live flow; EMPTY a free slot; WRITTEN a key whose flows were all
# finished and handed on (the key and its ordinal counter stay, so a reused 5-tuple's next
# flow gets the next ordinal)
EMPTY, WRITTEN = -1, -2
# per-direction TLS record walk (payload early stop), RFC 8446 §5.1 / RFC 5246 §6.2.1
TLS_UNDECIDED, TLS_WALKING, TLS_DONE, TLS_NO = 0, 1, 2, 3
TLS_MAX_RECORD: Final = 2**14 + 2048
"""TLSCiphertext.length limit (RFC 5246 §6.2.3), as classifier.dissect.tls checks it."""
BURST_GAP_NS: Final = 1_000_000_000
"""Originator payload packets more than 1 s apart start a new burst (cadence inference)."""
MAX_INTERVALS: Final = 256
"""Burst intervals kept per flow for the median."""


@inline
def _mix(h: np.uint64, v: np.uint64) -> np.uint64:
    h ^= v + np.uint64(0x9E3779B97F4A7C15) + (h << np.uint64(6)) + (h >> np.uint64(2))
    h ^= h >> np.uint64(31)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    return h


@inline
def _sdiff(a: np.uint32, b: np.uint32) -> Any:
    """a - b as a signed 32-bit sequence-number difference (RFC 1982 style)."""
    d = (np.int64(a) - np.int64(b)) & 0xFFFFFFFF
    return d - 0x100000000 if d >= 0x80000000 else d


@inline
def _letter(hist: np.ndarray, hist_n: np.ndarray, seen: np.ndarray, f: int, letter: int,
            d: int) -> None:
    bit = np.uint32(1) << np.uint32(letter * 2 + d)
    if (seen[f] & bit) == 0:
        seen[f] |= bit
        if hist_n[f] < hist.shape[1]:
            hist[f, hist_n[f]] = letter * 2 + d
            hist_n[f] += 1


@inline
def closed(state: np.ndarray, f: int) -> bool:
    """Flow f's TCP connection is over: both ends closed (FIN), or either end reset."""
    return bool((state[f, 0] >= CLOSED and state[f, 1] >= CLOSED) or state[f, 0] == RESET
                or state[f, 1] == RESET)


@inline
def _tls_walk(buf: np.ndarray, base: int, rel: int, cap: int, old_contig: int, limit: int,
              f: int, d: int, st: np.ndarray, nxt: np.ndarray, hdr: np.ndarray,
              keep: np.ndarray) -> None:
    """Walks the TLS record headers in a direction's new in-order bytes buf[base:base+cap]
    (stream offsets rel..rel+cap, of which old_contig.. are new). At the first complete
    ChangeCipherSpec or ApplicationData record sets keep = its end (TLS_DONE); anything that
    is not a clean in-order record stream sets TLS_NO (the plain cap applies)."""
    if rel > old_contig:
        st[f, d] = TLS_NO  # out of order: cannot walk without the missing bytes
        return
    end = rel + cap
    while True:
        q = nxt[f, d]
        if q + 5 > limit:
            st[f, d] = TLS_NO  # beyond the window: the cap decides
            return
        if q + 5 > end:
            # header continues in the next segment: stash its first bytes
            for p in range(max(q, old_contig), end):
                hdr[f, d, p - q] = buf[base + p - rel]
            return
        for j in range(5):
            if q + j >= old_contig:
                hdr[f, d, j] = buf[base + q + j - rel]
        ctype = hdr[f, d, 0]
        length = (np.int64(hdr[f, d, 3]) << 8) | np.int64(hdr[f, d, 4])
        if ctype < 20 or ctype > 24 or hdr[f, d, 1] != 3 or hdr[f, d, 2] > 4 or (
                length > TLS_MAX_RECORD):
            st[f, d] = TLS_NO
            return
        if ctype == 20 or ctype == 23:
            keep[f, d] = min(keep[f, d], q + 5 + length)
            st[f, d] = TLS_DONE
            return
        nxt[f, d] = q + 5 + length


@kernel()
def track(reason, ts, frame, src_hi, src_lo, dst_hi, dst_lo, sport, dport, flags, seq,  # type: ignore[no-untyped-def]
          pay_off, pay_len, pay_cap, ip_bytes, vlan1, vlan2, tun_kind, tun_src_hi, tun_src_lo,
          tun_dst_hi, tun_dst_lo, tun_id, file_idx, start, payload_bytes, udp_timeout,
          tcp_timeout, tls_init, ht_keys, ht_val, ht_n, ctr,
          f_slot, f_ord, f_orig_a, f_guessed, f_first_ts, f_last_ts, f_first_frame,
          f_first_file, f_last_frame, f_last_file, f_pkts, f_bytes, f_ipbytes, f_state,
          f_isn, f_ref_seq, f_ref_rel, f_has_ref, f_min_rel, f_max_end, f_contig,
          f_hist, f_hist_n, f_seen, f_last_pay, f_burst_start, f_nint, f_tun,
          f_tls_st, f_tls_next, f_tls_hdr, f_keep, buf,
          pkt_flow, c_pkt, c_flow, c_dir, c_rel, c_skip, c_len, c_copy, fe_flow, fe_file,
          b_flow, b_val):
    """Packets[start:] → flow state updates; returns the index reached (early when full).
    New directions start in TLS walk state ``tls_init`` (TLS_UNDECIDED trims TLS prefixes,
    TLS_NO keeps the plain cap)."""
    n = reason.shape[0]
    hcap = ht_val.shape[0]
    fcap = f_slot.shape[0]
    key = np.empty(KW, np.uint64)
    for i in range(start, n):
        r = reason[i]
        if r > 1:
            pkt_flow[i] = -1
            continue
        if ctr[C_FLOWS] >= fcap or ctr[C_HT] * 2 >= hcap:
            return i
        # --- direction-free key: the smaller (addr, port) endpoint first
        s_first = (src_hi[i] < dst_hi[i]) or (src_hi[i] == dst_hi[i] and (
            src_lo[i] < dst_lo[i] or (src_lo[i] == dst_lo[i] and sport[i] <= dport[i])))
        if s_first:
            key[0], key[1], key[2], key[3] = src_hi[i], src_lo[i], dst_hi[i], dst_lo[i]
            pa, pb = sport[i], dport[i]
        else:
            key[0], key[1], key[2], key[3] = dst_hi[i], dst_lo[i], src_hi[i], src_lo[i]
            pa, pb = dport[i], sport[i]
        key[4] = (np.uint64(pa) << np.uint64(16)) | np.uint64(pb) | (np.uint64(r) << np.uint64(32)) | (
            np.uint64(tun_kind[i]) << np.uint64(40))
        # VXLAN/Geneve VNIs separate tenants; GRE keys may differ per direction (ERSPAN)
        vni = tun_id[i] if tun_kind[i] == 1 or tun_kind[i] == 2 else -1
        key[5] = np.uint64(vlan1[i] + 1) | (np.uint64(vlan2[i] + 1) << np.uint64(16)) | (
            np.uint64(vni + 1) << np.uint64(32))
        h = np.uint64(0x84222325CBF29CE4)
        for k in range(KW):
            h = _mix(h, key[k])
        slot = np.int64(h & np.uint64(hcap - 1))
        while True:
            if ht_val[slot] == EMPTY:
                break
            same = True
            for k in range(KW):
                if ht_keys[slot, k] != key[k]:
                    same = False
                    break
            if same:
                break
            slot = (slot + 1) & (hcap - 1)
        fl = flags[i]
        t = ts[i]
        syn_only = (fl & (SYN | ACK)) == SYN
        f = ht_val[slot]
        if f >= 0:
            # does this packet start a new flow on the same key?
            dd = 0 if (f_orig_a[f] == 1) == s_first else 1
            if r == 0:
                if syn_only:
                    ended = f_state[f, 0] >= CLOSED or f_state[f, 1] >= CLOSED
                    if ended or (f_isn[f, dd] >= 0 and np.int64(seq[i]) != f_isn[f, dd]):
                        f = -1
                elif t - f_last_ts[f] > tcp_timeout and closed(f_state, f):
                    f = -1
            elif t - f_last_ts[f] > udp_timeout:
                f = -1
        if f < 0:
            if ht_val[slot] == EMPTY:
                for k in range(KW):
                    ht_keys[slot, k] = key[k]
                ctr[C_HT] += 1
            f = ctr[C_FLOWS]
            ctr[C_FLOWS] += 1
            ht_val[slot] = f
            f_slot[f] = slot
            f_ord[f] = ht_n[slot]
            ht_n[slot] += 1
            sender_is_orig = True
            f_guessed[f] = 1
            if r == 0 and (fl & SYN) != 0:
                f_guessed[f] = 0
                sender_is_orig = (fl & ACK) == 0
            f_orig_a[f] = 1 if sender_is_orig == s_first else 0
            f_first_ts[f] = t
            # outer tunnel ends as seen from the originator (paths may be asymmetric, so they
            # are flow attributes, not part of the key)
            f_tun[f, 4] = np.uint64(tun_id[i] + 1)
            if sender_is_orig:
                f_tun[f, 0], f_tun[f, 1] = tun_src_hi[i], tun_src_lo[i]
                f_tun[f, 2], f_tun[f, 3] = tun_dst_hi[i], tun_dst_lo[i]
            else:
                f_tun[f, 0], f_tun[f, 1] = tun_dst_hi[i], tun_dst_lo[i]
                f_tun[f, 2], f_tun[f, 3] = tun_src_hi[i], tun_src_lo[i]
            f_first_frame[f] = frame[i]
            f_first_file[f] = file_idx
            f_last_file[f] = -1
            for dd in range(2):
                f_pkts[f, dd] = 0
                f_bytes[f, dd] = 0
                f_ipbytes[f, dd] = 0
                f_state[f, dd] = INACTIVE
                f_isn[f, dd] = -1
                f_has_ref[f, dd] = 0
                f_ref_seq[f, dd] = 0
                f_ref_rel[f, dd] = 0
                f_min_rel[f, dd] = 0
                f_max_end[f, dd] = 0
                f_contig[f, dd] = 0
                f_tls_st[f, dd] = tls_init
                f_tls_next[f, dd] = 0
                f_keep[f, dd] = payload_bytes
            f_hist_n[f] = 0
            f_seen[f] = 0
            f_last_pay[f] = -1
            f_burst_start[f] = -1
            f_nint[f] = 0
        pkt_flow[i] = f
        d = 0 if (f_orig_a[f] == 1) == s_first else 1
        f_last_ts[f] = t
        f_last_frame[f] = frame[i]
        if f_last_file[f] != file_idx:
            f_last_file[f] = file_idx
            fe_flow[ctr[C_FILEEV]] = f
            fe_file[ctr[C_FILEEV]] = file_idx
            ctr[C_FILEEV] += 1
        f_pkts[f, d] += 1
        f_ipbytes[f, d] += ip_bytes[i]
        plen = pay_len[i]
        cap = pay_cap[i]
        rel = np.int64(0)
        if r == 0:
            # --- Zeek-style endpoint state machine and history
            st = f_state[f, d]
            if (fl & SYN) != 0:
                if f_isn[f, d] < 0:
                    f_isn[f, d] = seq[i]
                    f_has_ref[f, d] = 1
                    f_ref_seq[f, d] = (np.int64(seq[i]) + 1) & 0xFFFFFFFF
                    f_ref_rel[f, d] = 0
                    f_min_rel[f, d] = 0
                if (fl & ACK) != 0:
                    _letter(f_hist, f_hist_n, f_seen, f, L_H, d)
                    if f_state[f, 1 - d] == SYN_SENT or f_state[f, 1 - d] == SYN_ACK_SENT:
                        f_state[f, d] = ESTABLISHED
                        f_state[f, 1 - d] = ESTABLISHED
                    elif st == INACTIVE or st == SYN_SENT:
                        f_state[f, d] = SYN_ACK_SENT
                else:
                    _letter(f_hist, f_hist_n, f_seen, f, L_S, d)
                    if st == INACTIVE:
                        f_state[f, d] = SYN_SENT
            if (fl & FIN) != 0:
                _letter(f_hist, f_hist_n, f_seen, f, L_F, d)
                if f_state[f, d] != RESET:
                    f_state[f, d] = CLOSED
            if (fl & RST) != 0:
                _letter(f_hist, f_hist_n, f_seen, f, L_R, d)
                f_state[f, d] = RESET
            if (fl & (SYN | FIN | RST)) == 0:
                if st == INACTIVE:
                    f_state[f, d] = PARTIAL
                elif (st == SYN_SENT or st == SYN_ACK_SENT) and (fl & ACK) != 0 and (
                        f_state[f, 1 - d] == SYN_ACK_SENT or f_state[f, 1 - d] == ESTABLISHED):
                    f_state[f, d] = ESTABLISHED
                    f_state[f, 1 - d] = ESTABLISHED
                if plen == 0 and (fl & ACK) != 0:
                    _letter(f_hist, f_hist_n, f_seen, f, L_A, d)
            # --- sequence space: unwrapped offset relative to ISN+1 (or first seen seq)
            if f_has_ref[f, d] == 0:
                f_has_ref[f, d] = 1
                f_ref_seq[f, d] = seq[i]
                f_ref_rel[f, d] = 0
            rel = f_ref_rel[f, d] + _sdiff(seq[i], np.uint32(f_ref_seq[f, d]))
            if (fl & SYN) != 0:
                rel += 1  # payload of a SYN starts after the SYN's sequence number
            if rel > f_ref_rel[f, d]:
                f_ref_rel[f, d] = rel
                f_ref_seq[f, d] = (np.int64(seq[i]) + (1 if (fl & SYN) != 0 else 0)) & 0xFFFFFFFF
            if plen > 0:
                _letter(f_hist, f_hist_n, f_seen, f, L_D, d)
                if rel + plen <= f_max_end[f, d] and f_pkts[f, d] > 1:
                    _letter(f_hist, f_hist_n, f_seen, f, L_T, d)
                if rel < f_min_rel[f, d]:
                    f_min_rel[f, d] = rel
                if rel + plen > f_max_end[f, d]:
                    f_max_end[f, d] = rel + plen
        else:
            rel = f_bytes[f, d]
            f_bytes[f, d] += plen
            if plen > 0:
                _letter(f_hist, f_hist_n, f_seen, f, L_D, d)  # Zeek's UDP history: Dd
        # --- payload prefix contributions (copied by the caller while the buffer is live)
        # Every segment in the window is listed (gaps count toward missed_bytes), but bytes
        # are copied only below the direction's keep (see _tls_walk).
        if cap > 0 and rel < payload_bytes and rel + cap > -payload_bytes:
            if not (rel >= 0 and rel + cap <= f_contig[f, d]):
                lo = max(rel, -payload_bytes)
                hi = min(rel + cap, payload_bytes)
                old_contig = f_contig[f, d]
                if r == 0 and f_tls_st[f, d] <= TLS_WALKING:
                    if f_tls_st[f, d] == TLS_UNDECIDED:
                        # a record stream can only be walked from the SYN's next byte
                        f_tls_st[f, d] = TLS_WALKING if f_isn[f, d] >= 0 and rel <= 0 else TLS_NO
                    if f_tls_st[f, d] == TLS_WALKING:
                        _tls_walk(buf, pay_off[i], rel, cap, old_contig, payload_bytes, f, d,
                                  f_tls_st, f_tls_next, f_tls_hdr, f_keep)
                k = ctr[C_CONTRIB]
                c_pkt[k] = i
                c_flow[k] = f
                c_dir[k] = d
                c_rel[k] = lo
                c_skip[k] = lo - rel
                c_len[k] = hi - lo
                c_copy[k] = max(0, min(hi, f_keep[f, d]) - lo)
                ctr[C_CONTRIB] += 1
                if rel <= old_contig and old_contig < hi:
                    f_contig[f, d] = hi
        # --- originator payload bursts
        if d == 0 and plen > 0:
            if f_last_pay[f] < 0 or t - f_last_pay[f] > BURST_GAP_NS:
                if f_burst_start[f] >= 0 and f_nint[f] < MAX_INTERVALS:
                    b_flow[ctr[C_BURST]] = f
                    b_val[ctr[C_BURST]] = t - f_burst_start[f]
                    ctr[C_BURST] += 1
                    f_nint[f] += 1
                f_burst_start[f] = t
            f_last_pay[f] = t
    return n
