"""The running flow table of one capture point: feeds decoded batches to the numba kernel,
grows its arrays, keeps payload segments, file sightings and burst intervals, and hands
finished flows on (``finish``) so that it holds only the flows a packet could still join.

Performance notes:
- Per packet, everything happens in one numba pass (``kernel.track``): an open-addressing hash
  table in numpy arrays (direction-free 5-tuple + VLAN/tunnel words → flow index) and
  struct-of-arrays flow state; Python sees only per-batch and per-flow arrays. Tables grow by
  doubling between kernel calls (~150-200 ns per packet on bench-1x).
- Payload: the kernel lists the segments that fall in a direction's window; their bytes are
  copied once into an arena (grown by realloc, never old+new at once) while the chunk buffer
  is live, and reassembled per direction when the flow is taken out. A TLS direction stops
  copying after its first ChangeCipherSpec/ApplicationData record unless ``trim_tls`` is off
  (see ``classifier.flows.assemble``): on the benchmark capture that is 56 → 10 MB of payload
  at 1x. Taking flows out moves the other flows' segments into a fresh arena sized to them,
  so the arena follows the live flows.
- Build (``build.py``) works on per-flow arrays; history/conn_state strings are made once per
  distinct combination, uids hashed from fact columns, GC paused while objects are made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from classifier.flows import kernel as K
from classifier.flows.payload import copy_segments, reassemble
from classifier.ingest.decode import Packets
from classifier.native import kernel

UDP_TIMEOUT_S = 60.0
"""UDP conversations end after 60 s without a packet (Zeek's udp_inactivity_timeout)."""
TCP_CLOSED_TIMEOUT_S = 60.0
"""A closed TCP connection (FIN both ways, or a RST) ends for good 60 s after its last packet
(Linux's TIME_WAIT, 2 MSL): a later packet on its 5-tuple starts a new flow."""
FINISH_SLACK_S = 10.0
"""How far capture timestamps may run backwards without changing a result: a flow is handed
on only when even a packet this much older than the newest one could no longer join it."""

_FLOW_FIELDS: dict[str, tuple[type, tuple[int, ...]]] = {
    "slot": (np.int64, ()), "ord": (np.int64, ()), "orig_a": (np.uint8, ()),
    "guessed": (np.uint8, ()), "first_ts": (np.int64, ()), "last_ts": (np.int64, ()),
    "first_frame": (np.int64, ()), "first_file": (np.int64, ()), "last_frame": (np.int64, ()),
    "last_file": (np.int64, ()), "pkts": (np.int64, (2,)), "bytes": (np.int64, (2,)),
    "ipbytes": (np.int64, (2,)), "state": (np.uint8, (2,)), "isn": (np.int64, (2,)),
    "ref_seq": (np.int64, (2,)), "ref_rel": (np.int64, (2,)), "has_ref": (np.uint8, (2,)),
    "min_rel": (np.int64, (2,)), "max_end": (np.int64, (2,)), "contig": (np.int64, (2,)),
    "hist": (np.uint8, (K.HL,)), "hist_n": (np.int64, ()), "seen": (np.uint32, ()),
    "last_pay": (np.int64, ()), "burst_start": (np.int64, ()), "nint": (np.int64, ()),
    "tun": (np.uint64, (5,)), "tls_st": (np.uint8, (2,)), "tls_next": (np.int64, (2,)),
    "tls_hdr": (np.uint8, (2, 5)), "keep": (np.int64, (2,)), "gid": (np.int64, ()),
}


@kernel()
def _rehash(keys, val, cnt, new_keys, new_val, new_cnt):  # type: ignore[no-untyped-def]
    """Old hash table → new (double) table; returns old slot → new slot (-1 when empty)."""
    cap = new_val.shape[0]
    remap = np.full(val.shape[0], -1, np.int64)
    for s in range(val.shape[0]):
        if val[s] == K.EMPTY:
            continue
        h = np.uint64(0x84222325CBF29CE4)
        for k in range(keys.shape[1]):
            h = K._mix(h, keys[s, k])
        t = np.int64(h & np.uint64(cap - 1))
        while new_val[t] != K.EMPTY:
            t = (t + 1) & (cap - 1)
        new_keys[t] = keys[s]
        new_val[t] = val[s]
        new_cnt[t] = cnt[s]
        remap[s] = t
    return remap


@dataclass(slots=True)
class Payloads:
    """Reassembled prefixes: ``data[start[fd]:start[fd]+length[fd]]`` for fd = flow*2 + dir."""

    data: np.ndarray
    start: np.ndarray
    length: np.ndarray
    missed: np.ndarray


@dataclass(slots=True)
class Finished:
    """Flows no packet can join any more, taken out of the table: their state arrays (indexed
    0..n-1, in creation order), 5-tuple keys, payload prefixes, file sightings and bursts."""

    n: int
    f: dict[str, np.ndarray]
    keys: np.ndarray
    payloads: Payloads
    sightings: tuple[np.ndarray, np.ndarray]
    """(flow, file index) pairs, one per file a flow was seen in (first sighting order)."""
    bursts: tuple[np.ndarray, np.ndarray]
    """(flow, ns between originator payload bursts) pairs."""


class FlowTable:
    """Flow state of one capture point, grown as flows appear and shrunk as they finish.

    Memory follows the flows that can still get packets, not the length of the capture:
    ``finishable(now)`` marks every flow that no packet at or after ``now - FINISH_SLACK_S``
    could join (a UDP conversation idle past its timeout, a closed TCP connection quiet past
    TCP_CLOSED_TIMEOUT_S, a flow whose 5-tuple a newer flow took over) and ``finish(mask)``
    takes them out. What stays per finished flow is its hash-table key (64 bytes), so reused
    5-tuples keep their ordinals.
    """

    def __init__(self, payload_bytes: int, udp_timeout_s: float = UDP_TIMEOUT_S,
                 tcp_timeout_s: float = TCP_CLOSED_TIMEOUT_S, trim_tls: bool = True) -> None:
        self.payload_bytes = max(0, int(payload_bytes))
        self.tls_init = K.TLS_UNDECIDED if trim_tls else K.TLS_NO
        self.udp_timeout = int(udp_timeout_s * 1e9)
        self.tcp_timeout = int(tcp_timeout_s * 1e9)
        self.ht_keys = np.zeros((1 << 12, K.KW), np.uint64)
        self.ht_val = np.full(1 << 12, K.EMPTY, np.int64)
        self.ht_n = np.zeros(1 << 12, np.int64)
        self.ctr = np.zeros(5, np.int64)
        self.next_gid = 0
        self.f: dict[str, np.ndarray] = {}
        self._alloc_flows(1 << 10)
        self.arena = np.empty(1 << 20, np.uint8)
        self.arena_pos = 0
        self._segs: list[tuple[np.ndarray, ...]] = []
        self._fev: list[tuple[np.ndarray, np.ndarray]] = []
        self._bursts: list[tuple[np.ndarray, np.ndarray]] = []

    @property
    def n_flows(self) -> int:
        """Flows in the table now."""
        return int(self.ctr[K.C_FLOWS])

    def _alloc_flows(self, cap: int) -> None:
        old = self.f
        self.f = {}
        for name, (dt, shape) in _FLOW_FIELDS.items():
            arr: np.ndarray = np.zeros((cap, *shape), dt)
            if name in old:
                arr[: old[name].shape[0]] = old[name]
            self.f[name] = arr

    def _grow_ht(self) -> None:
        cap = self.ht_val.shape[0] * 2
        keys = np.zeros((cap, K.KW), np.uint64)
        val = np.full(cap, K.EMPTY, np.int64)
        cnt = np.zeros(cap, np.int64)
        remap = _rehash(self.ht_keys, self.ht_val, self.ht_n, keys, val, cnt)
        n = self.n_flows
        self.f["slot"][:n] = remap[self.f["slot"][:n]]
        self.ht_keys, self.ht_val, self.ht_n = keys, val, cnt

    def feed(self, buf: np.ndarray, ts: np.ndarray, frame: np.ndarray, pk: Packets,
             file_idx: int) -> np.ndarray:
        """One decoded batch (its chunk buffer still live) → per-packet flow index (-1 = none),
        valid until the next ``finish``; ``gids`` turns it into creation numbers."""
        n = pk.reason.shape[0]
        n0 = self.n_flows
        pkt_flow = np.empty(n, np.int64)
        c = [np.empty(n, np.int64) for _ in range(7)]
        fe_flow, fe_file = np.empty(n, np.int64), np.empty(n, np.int64)
        b_flow, b_val = np.empty(n, np.int64), np.empty(n, np.int64)
        self.ctr[K.C_CONTRIB] = self.ctr[K.C_FILEEV] = self.ctr[K.C_BURST] = 0
        f = self.f
        i = 0
        while True:
            i = K.track(
                pk.reason, ts, frame, pk.src_hi, pk.src_lo, pk.dst_hi, pk.dst_lo, pk.sport,
                pk.dport, pk.flags, pk.seq, pk.pay_off, pk.pay_len, pk.pay_cap, pk.ip_bytes, pk.vlan1,
                pk.vlan2, pk.tun_kind, pk.tun_src_hi, pk.tun_src_lo, pk.tun_dst_hi,
                pk.tun_dst_lo, pk.tun_id, file_idx, i, self.payload_bytes, self.udp_timeout,
                self.tcp_timeout, self.tls_init, self.ht_keys, self.ht_val, self.ht_n, self.ctr,
                f["slot"], f["ord"], f["orig_a"], f["guessed"], f["first_ts"], f["last_ts"],
                f["first_frame"], f["first_file"], f["last_frame"], f["last_file"], f["pkts"],
                f["bytes"], f["ipbytes"], f["state"], f["isn"], f["ref_seq"], f["ref_rel"],
                f["has_ref"], f["min_rel"], f["max_end"], f["contig"], f["hist"],
                f["hist_n"], f["seen"], f["last_pay"], f["burst_start"], f["nint"], f["tun"],
                f["tls_st"], f["tls_next"], f["tls_hdr"], f["keep"], buf,
                pkt_flow, c[0], c[1], c[2], c[3], c[4], c[5], c[6], fe_flow, fe_file, b_flow,
                b_val)
            if i >= n:
                break
            if self.ctr[K.C_FLOWS] >= f["slot"].shape[0]:
                self._alloc_flows(f["slot"].shape[0] * 2)
                f = self.f
            if self.ctr[K.C_HT] * 2 >= self.ht_val.shape[0]:
                self._grow_ht()
        n1 = self.n_flows
        if n1 > n0:
            f["gid"][n0:n1] = np.arange(self.next_gid, self.next_gid + n1 - n0)
            self.next_gid += n1 - n0
        nc = int(self.ctr[K.C_CONTRIB])
        if nc:
            c_pkt, c_flow, c_dir, c_rel, c_skip, c_len, c_copy = (a[:nc] for a in c)
            offs = self._append(buf, pk.pay_off, c_pkt, c_skip, c_copy)
            self._segs.append((c_flow.copy(), c_dir.copy(), c_rel.copy(), offs, c_len.copy(),
                               c_copy.copy()))
        ne = int(self.ctr[K.C_FILEEV])
        if ne:
            self._fev.append((fe_flow[:ne].copy(), fe_file[:ne].copy()))
        nb = int(self.ctr[K.C_BURST])
        if nb:
            self._bursts.append((b_flow[:nb].copy(), b_val[:nb].copy()))
        return pkt_flow

    def _append(self, src: np.ndarray, src_off: np.ndarray, idx: np.ndarray, skip: np.ndarray,
                length: np.ndarray) -> np.ndarray:
        """Byte ranges ``src[src_off[idx] + skip:][:length]`` → appended to the arena; → where
        each one starts there."""
        need = int(length.sum())
        if self.arena_pos + need > self.arena.shape[0]:
            # realloc: large blocks are remapped by the allocator, not copied, so growing
            # never holds the old and the new arena at once
            self.arena.resize(max(self.arena.shape[0] * 2, self.arena_pos + need), refcheck=False)
        offs: np.ndarray = self.arena_pos + np.cumsum(length) - length
        self.arena_pos = copy_segments(src, src_off, idx, skip, length, self.arena, self.arena_pos)
        return offs

    def gids(self, pkt_flow: np.ndarray) -> np.ndarray:
        """``feed``'s flow indexes (>= 0) → the flows' creation numbers (stable across finish)."""
        gid: np.ndarray = self.f["gid"][pkt_flow]
        return gid

    def finishable(self, now: int) -> np.ndarray:
        """Capture time ``now`` (ns) → mask of the flows no packet from ``now - FINISH_SLACK_S``
        on can join (see the class docstring)."""
        n = self.n_flows
        f = self.f
        slot = f["slot"][:n]
        quiet = (now - int(FINISH_SLACK_S * 1e9)) - f["last_ts"][:n]
        udp = ((self.ht_keys[slot, 4] >> np.uint64(32)) & np.uint64(0xFF)) == 1
        st = f["state"][:n]
        # kernel.closed, for every flow at once
        closed = ((st[:, 0] >= K.CLOSED) & (st[:, 1] >= K.CLOSED)) | (st == K.RESET).any(axis=1)
        superseded = self.ht_val[slot] != np.arange(n)
        mask: np.ndarray = superseded | np.where(udp, quiet > self.udp_timeout,
                                                 closed & (quiet > self.tcp_timeout))
        return mask

    def finish(self, mask: np.ndarray | None = None) -> Finished:
        """Takes the flows in ``mask`` (every flow when None: the read is over and the table
        cannot be fed again) out of the table."""
        n = self.n_flows
        final = mask is None
        take = np.ones(n, bool) if mask is None else mask
        sel = np.flatnonzero(take)
        live = np.flatnonzero(~take)
        pos = np.full(n, -1, np.int64)
        pos[sel] = np.arange(sel.shape[0])
        renum = np.full(n, -1, np.int64)
        renum[live] = np.arange(live.shape[0])
        f = {k: v[:n] for k, v in self.f.items()} if final else {
            k: v[sel] for k, v in self.f.items()}
        keys = self.ht_keys[f["slot"]]
        sightings, self._fev = _split_pairs(self._fev, pos, renum)
        bursts, self._bursts = _split_pairs(self._bursts, pos, renum)
        if final:
            self.release_index()
            self.f = {}
            self.ctr[K.C_FLOWS] = 0
        else:
            self._compact(sel, live, renum)
        payloads = self._take_payloads(pos, renum, f, final)
        return Finished(int(sel.shape[0]), f, keys, payloads, sightings, bursts)

    def _compact(self, sel: np.ndarray, live: np.ndarray, renum: np.ndarray) -> None:
        """Drops the flows ``sel`` from the state arrays (the ``live`` ones move to ``renum``,
        keeping their order) and marks the keys only they held WRITTEN."""
        n = self.n_flows
        slot = self.f["slot"][:n]
        current = self.ht_val[slot] == np.arange(n)
        self.ht_val[slot[sel[current[sel]]]] = K.WRITTEN
        kept = live[current[live]]
        self.ht_val[slot[kept]] = renum[kept]
        for v in self.f.values():
            v[:live.shape[0]] = v[live]
        self.ctr[K.C_FLOWS] = live.shape[0]

    def _take_payloads(self, pos: np.ndarray, renum: np.ndarray, f: dict[str, np.ndarray],
                       final: bool) -> Payloads:
        """Segments of the taken flows (``pos[flow] >= 0``) → their reassembled prefixes; the
        other flows' segments move to a fresh arena sized to them."""
        nt = int((pos >= 0).sum())
        start = np.zeros(nt * 2, np.int64)
        length = np.zeros(nt * 2, np.int64)
        missed = np.zeros(nt * 2, np.int64)
        if not self._segs or self.payload_bytes == 0:
            return Payloads(np.empty(0, np.uint8), start, length, missed)
        flow, dr, rel, off, ln, cp = (np.concatenate([s[k] for s in self._segs])
                                      for k in range(6))
        self._segs = []
        take = pos[flow] >= 0
        rest = None if final or take.all() else ~take
        t_flow, t_dr, t_rel, t_off, t_ln = (flow, dr, rel, off, ln) if rest is None else (
            a[take] for a in (flow, dr, rel, off, ln))
        t_flow = pos[t_flow]
        order = np.lexsort((np.arange(t_flow.shape[0]), t_rel, t_dr, t_flow))
        base_known = (f["isn"] >= 0).reshape(-1).astype(np.uint8)
        keep = np.where(f["tls_st"] == K.TLS_DONE, f["keep"],
                        np.iinfo(np.int64).max).reshape(-1)
        copied = int(cp.sum()) if rest is None else int(cp[take].sum())
        out = np.empty(min(copied, nt * 2 * self.payload_bytes), np.uint8)
        used = reassemble(order, t_flow, t_dr, t_rel, t_off, t_ln, self.arena, base_known, keep,
                          self.payload_bytes, out, start, length, missed)
        if rest is None:
            self.arena = np.empty(0 if final else 1 << 20, np.uint8)
            self.arena_pos = 0
        else:
            old, cp_r = self.arena, cp[rest]
            size = int(cp_r.sum())  # room for half as much again before the next realloc
            self.arena, self.arena_pos = np.empty(max(1 << 20, size + size // 2), np.uint8), 0
            k = cp_r.shape[0]
            new_off = self._append(old, off[rest], np.arange(k), np.zeros(k, np.int64), cp_r)
            self._segs = [(renum[flow[rest]], dr[rest], rel[rest], new_off, ln[rest], cp_r)]
        return Payloads(out[:used], start, length, missed)

    def release_index(self) -> None:
        """Drop the hash table (no more feeding); flow keys must have been read out before."""
        self.ht_keys = np.zeros((0, K.KW), np.uint64)
        self.ht_val = np.zeros(0, np.int64)
        self.ht_n = np.zeros(0, np.int64)


def _split_pairs(parts: list[tuple[np.ndarray, np.ndarray]], pos: np.ndarray, renum: np.ndarray,
                 ) -> tuple[tuple[np.ndarray, np.ndarray], list[tuple[np.ndarray, np.ndarray]]]:
    """(flow, value) pair arrays → (the taken flows' pairs numbered by ``pos``, the others'
    numbered by ``renum``), each in their original order."""
    if not parts:
        return (np.empty(0, np.int64), np.empty(0, np.int64)), []
    flow = np.concatenate([a for a, _ in parts])
    val = np.concatenate([b for _, b in parts])
    p = pos[flow]
    t = p >= 0
    r = renum[flow]
    k = r >= 0
    return (p[t], val[t]), ([(r[k], val[k])] if k.any() else [])
