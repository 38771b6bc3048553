"""The running flow table of one capture point: feeds decoded batches to the numba kernel,
grows its arrays, keeps payload segments, file sightings and burst intervals.

Performance notes:
- Per packet, everything happens in one numba pass (``kernel.track``): an open-addressing hash
  table in numpy arrays (direction-free 5-tuple + VLAN/tunnel words → flow index) and
  struct-of-arrays flow state; Python sees only per-batch and per-flow arrays. Tables grow by
  doubling between kernel calls (~150-200 ns per packet on bench-1x).
- Payload: the kernel lists the segments that fall in a direction's window; their bytes are
  copied once into an arena (grown by realloc, never old+new at once) while the chunk buffer
  is live, and reassembled per direction at the end. A TLS direction stops copying after its
  first ChangeCipherSpec/ApplicationData record (see ``classifier.flows.assemble``): on the
  benchmark capture that is 56 → 10 MB of payload at 1x. Peak payload memory is still twice
  the kept bytes (arena + reassembled buffer, then buffer + the bytes objects).
- Build (``build.py``) works on per-flow arrays; history/conn_state strings are made once per
  distinct combination, uids hashed from streamed facts, GC paused while objects are made.
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
    "tls_hdr": (np.uint8, (2, 5)), "keep": (np.int64, (2,)),
}


@kernel()
def _rehash(keys, val, cnt, new_keys, new_val, new_cnt):  # type: ignore[no-untyped-def]
    """Old hash table → new (double) table; returns old slot → new slot (-1 when empty)."""
    cap = new_val.shape[0]
    remap = np.full(val.shape[0], -1, np.int64)
    for s in range(val.shape[0]):
        if val[s] < 0:
            continue
        h = np.uint64(0x84222325CBF29CE4)
        for k in range(keys.shape[1]):
            h = K._mix(h, keys[s, k])
        t = np.int64(h & np.uint64(cap - 1))
        while new_val[t] >= 0:
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


class FlowTable:
    """Flow state of one capture point, grown as flows appear."""

    def __init__(self, payload_bytes: int, udp_timeout_s: float = UDP_TIMEOUT_S) -> None:
        self.payload_bytes = max(0, int(payload_bytes))
        self.udp_timeout = int(udp_timeout_s * 1e9)
        self.ht_keys = np.zeros((1 << 12, K.KW), np.uint64)
        self.ht_val = np.full(1 << 12, -1, np.int64)
        self.ht_n = np.zeros(1 << 12, np.int64)
        self.ctr = np.zeros(5, np.int64)
        self.f: dict[str, np.ndarray] = {}
        self._alloc_flows(1 << 10)
        self.arena = np.empty(1 << 20, np.uint8)
        self.arena_pos = 0
        self._segs: list[tuple[np.ndarray, ...]] = []
        self._fev: list[tuple[np.ndarray, np.ndarray]] = []
        self._bursts: list[tuple[np.ndarray, np.ndarray]] = []

    @property
    def n_flows(self) -> int:
        """Flows so far."""
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
        val = np.full(cap, -1, np.int64)
        cnt = np.zeros(cap, np.int64)
        remap = _rehash(self.ht_keys, self.ht_val, self.ht_n, keys, val, cnt)
        n = self.n_flows
        self.f["slot"][:n] = remap[self.f["slot"][:n]]
        self.ht_keys, self.ht_val, self.ht_n = keys, val, cnt

    def feed(self, buf: np.ndarray, ts: np.ndarray, frame: np.ndarray, pk: Packets,
             file_idx: int) -> np.ndarray:
        """One decoded batch (its chunk buffer still live) → per-packet flow index (-1 = none)."""
        n = pk.reason.shape[0]
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
                self.ht_keys, self.ht_val, self.ht_n, self.ctr,
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
        nc = int(self.ctr[K.C_CONTRIB])
        if nc:
            c_pkt, c_flow, c_dir, c_rel, c_skip, c_len, c_copy = (a[:nc] for a in c)
            need = int(c_copy.sum())
            if self.arena_pos + need > self.arena.shape[0]:
                # realloc: large blocks are remapped by the allocator, not copied, so growing
                # never holds the old and the new arena at once
                self.arena.resize(max(self.arena.shape[0] * 2, self.arena_pos + need),
                                  refcheck=False)
            offs = self.arena_pos + np.concatenate(([0], np.cumsum(c_copy)[:-1]))
            self.arena_pos = copy_segments(buf, pk.pay_off, c_pkt, c_skip, c_copy, self.arena,
                                           self.arena_pos)
            self._segs.append((c_flow.copy(), c_dir.copy(), c_rel.copy(), offs, c_len.copy()))
        ne = int(self.ctr[K.C_FILEEV])
        if ne:
            self._fev.append((fe_flow[:ne].copy(), fe_file[:ne].copy()))
        nb = int(self.ctr[K.C_BURST])
        if nb:
            self._bursts.append((b_flow[:nb].copy(), b_val[:nb].copy()))
        return pkt_flow

    def release_index(self) -> None:
        """Drop the hash table (no more feeding); flow keys must have been read out before."""
        self.ht_keys = np.zeros((0, K.KW), np.uint64)
        self.ht_val = np.zeros(0, np.int64)
        self.ht_n = np.zeros(0, np.int64)

    def file_sightings(self) -> tuple[np.ndarray, np.ndarray]:
        """(flow, file index) pairs, one per file a flow was seen in (first sighting order)."""
        if not self._fev:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return (np.concatenate([a for a, _ in self._fev]),
                np.concatenate([b for _, b in self._fev]))

    def burst_intervals(self) -> tuple[np.ndarray, np.ndarray]:
        """(flow, ns between originator payload bursts) pairs."""
        if not self._bursts:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return (np.concatenate([a for a, _ in self._bursts]),
                np.concatenate([b for _, b in self._bursts]))

    def payloads(self) -> Payloads:
        """Every flow direction's reassembled prefix."""
        nfd = self.n_flows * 2
        start = np.zeros(nfd, np.int64)
        length = np.zeros(nfd, np.int64)
        missed = np.zeros(nfd, np.int64)
        if not self._segs or self.payload_bytes == 0:
            return Payloads(np.empty(0, np.uint8), start, length, missed)
        flow, dr, rel, off, ln = (np.concatenate([s[k] for s in self._segs]) for k in range(5))
        self._segs = []
        order = np.lexsort((np.arange(flow.shape[0]), rel, dr, flow))
        n = self.n_flows
        base_known = (self.f["isn"][:n] >= 0).reshape(-1).astype(np.uint8)
        keep = np.where(self.f["tls_st"][:n] == K.TLS_DONE, self.f["keep"][:n],
                        np.iinfo(np.int64).max).reshape(-1)
        out = np.empty(min(self.arena_pos, nfd * self.payload_bytes), np.uint8)
        used = reassemble(order, flow, dr, rel, off, ln, self.arena, base_known, keep,
                          self.payload_bytes, out, start, length, missed)
        self.arena = np.empty(0, np.uint8)
        return Payloads(out[:used], start, length, missed)
