"""Traffic model: flows and their messages → TCP/UDP packet columns (vectorised with numpy).

A flow is a TCP session (SYN/SYN-ACK/ACK, optional recorded TLS handshake flights, request /
response exchanges, FIN or RST teardown, or refused / unanswered) or a UDP conversation. Messages
are cut into MSS-sized segments; the receiver sends a delayed ACK per two segments (RFC 1122
§4.2.3.2). Sequence and acknowledgement numbers follow from the bytes each side has sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from benchmarks.payloads import Payloads
from benchmarks.pcapwrite import Packets

MSS = 1448  # 1500 MTU - 20 IP - 20 TCP - 12 timestamp option
SEG_T = 5e-6  # seconds between back-to-back segments
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
END_OPEN, END_FIN, END_FIN_SERVER, END_RST, END_REFUSED, END_NO_ANSWER = range(6)


def excl_cumsum_by_group(values: np.ndarray, group_sizes: np.ndarray) -> np.ndarray:
    """Values laid out group after group → the exclusive running sum within each group."""
    c = np.concatenate([[0], np.cumsum(values)])
    first = np.concatenate([[0], np.cumsum(group_sizes)[:-1]])
    return c[:-1] - np.repeat(c[first], group_sizes)


def nseg(length: np.ndarray) -> np.ndarray:
    return (length + MSS - 1) // MSS


@dataclass(slots=True)
class Traffic:
    """Flows, their messages and control packets, accumulated class by class."""

    cip: list[np.ndarray] = field(default_factory=list)
    sip: list[np.ndarray] = field(default_factory=list)
    cport: list[np.ndarray] = field(default_factory=list)
    sport: list[np.ndarray] = field(default_factory=list)
    proto: list[np.ndarray] = field(default_factory=list)
    msgs: list[tuple[np.ndarray, ...]] = field(default_factory=list)  # flow, dir, off, len, t
    ctrl: list[tuple[np.ndarray, ...]] = field(default_factory=list)  # flow, dir, t, flags, optlen
    n: int = 0
    seen_tcp: int = 0
    """TCP flows with at least one packet inside the capture window (set by ``packets``)."""
    seen_udp: int = 0
    tcp_tuples: int = 0

    def _new(self, cip: np.ndarray, sip: np.ndarray, cport: np.ndarray, sport: np.ndarray,
             proto: int) -> np.ndarray:
        k = len(cip)
        self.cip.append(cip.astype(np.uint32))
        self.sip.append(sip.astype(np.uint32))
        self.cport.append(cport.astype(np.uint16))
        self.sport.append(np.broadcast_to(sport, (k,)).astype(np.uint16))
        self.proto.append(np.full(k, proto, dtype=np.uint8))
        fid = np.arange(self.n, self.n + k)
        self.n += k
        return fid

    def _ctrl(self, fid: np.ndarray, d: int, t: np.ndarray, flags: int, opt: int = 0) -> None:
        k = len(fid)
        self.ctrl.append((fid, np.full(k, d, np.uint8), t, np.full(k, flags, np.uint8),
                          np.full(k, opt, np.int32)))

    def _msg(self, fid: np.ndarray, d: np.ndarray | int, off: np.ndarray | int,
             length: np.ndarray | int, t: np.ndarray) -> None:
        k = len(fid)
        self.msgs.append((fid, np.broadcast_to(d, (k,)).astype(np.uint8),
                          np.broadcast_to(off, (k,)).astype(np.int64),
                          np.broadcast_to(length, (k,)).astype(np.int64), t))

    def udp(self, pl: Payloads, rng: np.random.Generator, *, cip: np.ndarray, sip: np.ndarray,
            cport: np.ndarray, sport: int, t0: np.ndarray, pairs: list[int], rtt: np.ndarray) -> None:
        """One UDP conversation per flow: each listed DNS pair as query then answer."""
        fid = self._new(cip, sip, cport, np.array(sport), 17)
        t = t0.copy()
        for _ in range(len(pairs)):
            k = rng.integers(0, len(pl.dns), len(fid))
            q_off = np.array([pl.dns[i][0].off for i in k])
            q_len = np.array([pl.dns[i][0].length for i in k])
            r_off = np.array([pl.dns[i][1].off for i in k])
            r_len = np.array([pl.dns[i][1].length for i in k])
            self._msg(fid, 0, q_off, q_len, t)
            self._msg(fid, 1, r_off, r_len, t + rtt)
            t = t + rtt + 2e-4

    def tcp(self, pl: Payloads, *, cip: np.ndarray, sip: np.ndarray, cport: np.ndarray, sport: int,
            t0: np.ndarray, rtt: np.ndarray, tls: list[str] | None, n_ex: np.ndarray,
            req: tuple[np.ndarray, np.ndarray], resp: tuple[np.ndarray, np.ndarray],
            think: np.ndarray, gap: np.ndarray, end: np.ndarray) -> None:
        """TCP sessions: handshake, TLS flights (template per flow), exchanges, teardown.

        ``req``/``resp`` are (pool offsets, lengths) per exchange, flow after flow (``n_ex`` each);
        a zero length skips that message. ``end`` holds an END_* code per flow.
        """
        fid = self._new(cip, sip, cport, np.array(sport), 6)
        k = len(fid)
        self._ctrl(fid, 0, t0, SYN, 12)
        answered = (end != END_REFUSED) & (end != END_NO_ANSWER)
        self._ctrl(fid[answered], 1, t0[answered] + rtt[answered] / 2, SYN | ACK, 12)
        self._ctrl(fid[answered], 0, t0[answered] + rtt[answered], ACK)
        ref = end == END_REFUSED
        self._ctrl(fid[ref], 1, t0[ref] + rtt[ref] / 2, RST | ACK)
        na = end == END_NO_ANSWER
        for retry in (1.0, 3.0):  # SYN retransmissions (RFC 6298 §2: initial RTO 1 s, doubled)
            self._ctrl(fid[na], 0, t0[na] + retry, SYN, 12)
        t = t0 + rtt + 5e-5
        if tls is not None:
            names = np.array(tls)
            for name in np.unique(names):
                sel = np.flatnonzero((names == name) & answered)
                tt = t[sel]
                for d, m in pl.handshakes[str(name)].flights:
                    self._msg(fid[sel], d, m.off, m.length, tt)
                    tt = tt + nseg(np.array(m.length)) * SEG_T + rtt[sel] / 2 + 2e-4
                t[sel] = tt
        keep = np.repeat(answered, n_ex)
        n_ex = np.where(answered, n_ex, 0)
        ex_flow = np.repeat(np.arange(k), n_ex)
        req_off, req_len = req[0][keep], req[1][keep]
        resp_off, resp_len = resp[0][keep], resp[1][keep]
        think, gap = think[keep], gap[keep]
        half = rtt[ex_flow] / 2
        req_dur = nseg(req_len) * SEG_T
        dur = req_dur + half + think + nseg(resp_len) * SEG_T + half + 1e-4
        step = gap + dur
        start = t[ex_flow] + excl_cumsum_by_group(step, n_ex) + gap
        has_req, has_resp = req_len > 0, resp_len > 0
        self._msg(fid[ex_flow[has_req]], 0, req_off[has_req], req_len[has_req], start[has_req])
        t_resp = start + req_dur + half + think
        self._msg(fid[ex_flow[has_resp]], 1, resp_off[has_resp], resp_len[has_resp], t_resp[has_resp])
        t_end = t + np.bincount(ex_flow, weights=step, minlength=k) + 1e-3
        for code, first in ((END_FIN, 0), (END_FIN_SERVER, 1)):
            s = np.flatnonzero(end == code)
            self._ctrl(fid[s], first, t_end[s], FIN | ACK)
            self._ctrl(fid[s], 1 - first, t_end[s] + rtt[s] / 2, FIN | ACK)
            self._ctrl(fid[s], first, t_end[s] + rtt[s], ACK)
        s = np.flatnonzero(end == END_RST)
        self._ctrl(fid[s], 0, t_end[s], RST | ACK)

    def packets(self, pl: Payloads, rng: np.random.Generator, t_start_us: int,
                duration: float) -> Packets:
        """Everything accumulated → packet columns in capture order (inside [0, duration))."""
        m_flow, m_dir, m_off, m_len, m_t = (np.concatenate(c) for c in zip(*self.msgs, strict=True))
        c_flow, c_dir, c_t, c_flags, c_opt = (np.concatenate(c) for c in zip(*self.ctrl, strict=True))
        proto = np.concatenate(self.proto)
        is_tcp_msg = proto[m_flow] == 6
        ns = np.where(is_tcp_msg, nseg(m_len), 1)
        seg_msg = np.repeat(np.arange(len(m_flow)), ns)
        k = np.arange(len(seg_msg)) - np.repeat(np.cumsum(ns) - ns, ns)
        s_len = np.where(is_tcp_msg[seg_msg], np.minimum(MSS, m_len[seg_msg] - k * MSS), m_len[seg_msg])
        s_t = m_t[seg_msg] + k * SEG_T
        last = k == ns[seg_msg] - 1
        s_flags = np.where(last, PSH | ACK, ACK).astype(np.uint8)
        # Delayed ACKs from the receiver: one per two segments, and one for an odd last segment.
        tcp_seg = is_tcp_msg[seg_msg] & ((k % 2 == 1) | last)
        a_src = np.flatnonzero(tcp_seg)
        a_flow, a_dir = m_flow[seg_msg[a_src]], 1 - m_dir[seg_msg[a_src]]
        a_t = s_t[a_src] + 1.5e-6  # before the next segment: acks exactly this one
        flow = np.concatenate([c_flow, m_flow[seg_msg], a_flow])
        t = np.concatenate([c_t, s_t, a_t])
        d = np.concatenate([c_dir, m_dir[seg_msg], a_dir]).astype(np.uint8)
        flags = np.concatenate([c_flags, s_flags, np.full(len(a_src), ACK, np.uint8)])
        nz = np.zeros(len(a_src), np.int64)
        tlen = np.concatenate([c_opt.astype(np.int64), s_len, nz])
        optlen = np.concatenate([c_opt, np.zeros(len(s_len) + len(a_src), np.int32)])
        poff = np.concatenate([np.full(len(c_flow), pl.syn_opts.off), m_off[seg_msg] + k * MSS, nz])
        del seg_msg, k
        # Per-flow order by time, then sequence numbers from bytes sent so far per direction.
        ts_us = (t * 1e6).astype(np.int64)
        order = np.lexsort((ts_us, flow))
        flow, ts_us, d, flags, tlen, optlen, poff = (
            x[order] for x in (flow, ts_us, d, flags, tlen, optlen, poff))
        payload = tlen - optlen
        used = payload + ((flags & (SYN | FIN)) > 0)
        counts = np.bincount(flow, minlength=self.n)
        c0 = excl_cumsum_by_group(np.where(d == 0, used, 0), counts).astype(np.uint64)
        c1 = excl_cumsum_by_group(np.where(d == 1, used, 0), counts).astype(np.uint64)
        isn = rng.integers(0, 1 << 32, size=(self.n, 2), dtype=np.uint64)
        seq = np.where(d == 0, isn[flow, 0] + c0, isn[flow, 1] + c1) & 0xFFFFFFFF
        seq = np.where(flags & SYN, isn[flow, d], seq)  # a retransmitted SYN repeats the ISN
        ack = np.where(d == 0, isn[flow, 1] + c1, isn[flow, 0] + c0) & 0xFFFFFFFF
        ack = np.where(flags & ACK, ack, np.uint64(0))
        inside = (ts_us >= 0) & (ts_us < int(duration * 1e6))
        order = np.flatnonzero(inside)[np.argsort(ts_us[inside], kind="stable")]
        flow, d = flow[order], d[order]
        seen = np.unique(flow)
        self.seen_tcp = int((proto[seen] == 6).sum())
        self.seen_udp = len(seen) - self.seen_tcp
        st = seen[proto[seen] == 6]
        key = np.stack([np.concatenate(a)[st].astype(np.int64)
                        for a in (self.cip, self.sip, self.cport, self.sport)], axis=1)
        self.tcp_tuples = len(np.unique(key, axis=0))
        cip, sip = np.concatenate(self.cip)[flow], np.concatenate(self.sip)[flow]
        cport, sport = np.concatenate(self.cport)[flow], np.concatenate(self.sport)[flow]
        fwd = d == 0
        return Packets(
            ts_us=ts_us[order] + t_start_us, proto=proto[flow],
            src=np.where(fwd, cip, sip), dst=np.where(fwd, sip, cip),
            sport=np.where(fwd, cport, sport), dport=np.where(fwd, sport, cport),
            seq=seq[order].astype(np.uint32), ack=ack[order].astype(np.uint32),
            flags=flags[order], optlen=optlen[order], poff=poff[order], tlen=tlen[order].astype(np.int32),
            ip_id=rng.integers(0, 1 << 16, size=len(order), dtype=np.uint16),
            win=np.where(flags[order] & SYN, 64240, 502).astype(np.uint16))

