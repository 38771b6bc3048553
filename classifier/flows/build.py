"""Flow state of one capture point → the flow table (schema.FLOW_BASE) with Zeek's columns."""

from __future__ import annotations

import gc
import hashlib
import ipaddress
import socket
from collections.abc import Iterator, Sequence
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from classifier import schema
from classifier.flows import kernel as K
from classifier.flows.table import Finished, Payloads
from classifier.ingest.decode import TUNNEL_NAMES

if TYPE_CHECKING:  # pandas only for the frame: the Arrow path (``build_arrow``) needs none
    import pandas as pd

    from classifier.flows.reading import PointSource

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_B62_CODES = np.frombuffer(_B62.encode(), dtype=np.uint8)
_B62_5 = np.uint64(62**5)
_OCTETS = pa.array([str(i) for i in range(256)], pa.large_string())
_LETTER_CODES = [(K.LETTERS[c // 2].upper() if c % 2 == 0 else K.LETTERS[c // 2].lower())
                 for c in range(2 * len(K.LETTERS))]


def format_addr(hi: int, lo: int) -> str:
    """(hi, lo) 128-bit words → dotted IPv4 for IPv4-mapped addresses, else compressed IPv6."""
    if hi == 0 and (lo >> 32) == 0xFFFF:
        return socket.inet_ntoa((lo & 0xFFFFFFFF).to_bytes(4, "big"))
    return str(ipaddress.IPv6Address((hi << 64) | lo))


def format_addrs(hi: np.ndarray, lo: np.ndarray) -> list[str]:
    """Per flow (hi, lo) 128-bit words → address text (``format_addr`` once per distinct
    address)."""
    out = np.empty(hi.shape[0], dtype=object)
    # IPv4-mapped addresses (hi 0) are told apart by lo alone: a 1-D unique, fast
    v4 = (hi == 0) & ((lo >> np.uint64(32)) == np.uint64(0xFFFF))
    if v4.any():
        uniq, inv = np.unique(lo[v4], return_inverse=True)
        quads = [_OCTETS.take((uniq >> np.uint64(shift)) & np.uint64(0xFF))
                 for shift in (24, 16, 8, 0)]
        text = pc.binary_join_element_wise(*quads, pa.scalar(".", pa.large_string()))
        out[v4] = np.array(text.to_pylist(), dtype=object)[inv.reshape(-1)]
    other = np.flatnonzero(~v4)
    if other.shape[0]:
        cache: dict[tuple[int, int], str] = {}
        for i, h, l_ in zip(other.tolist(), hi[other].tolist(), lo[other].tolist(), strict=True):
            text = cache.get((h, l_))
            if text is None:
                text = cache[(h, l_)] = format_addr(h, l_)
            out[i] = text
    return list(out)


def _tunnel_addrs(hi: np.ndarray, lo: np.ndarray, tunneled: np.ndarray) -> list[str | None]:
    """Per flow outer (hi, lo) words → address text for tunneled flows, None for the rest
    (most flows: their zero words are never formatted)."""
    out: list[str | None] = [None] * hi.shape[0]
    at = np.flatnonzero(tunneled)
    for i, text in zip(at.tolist(), format_addrs(hi[at], lo[at]), strict=True):
        out[i] = text
    return out


def make_uid(*facts: object) -> str:
    """Stable facts of a flow → Zeek-style uid: 'C' + 17 base62 characters."""
    return make_uids([[f] for f in facts])[0]


def make_uids(columns: Sequence[Sequence[object] | np.ndarray]) -> list[str]:
    """Facts column by column (one value per flow in each) → a uid per flow: 'C' + the 17 low
    base62 digits (least significant first) of the 128-bit BLAKE2b digest of the flow's facts
    as text (``str`` of each value) joined by '|'."""
    if not columns or not len(columns[0]):
        return []
    joined = pc.binary_join_element_wise(*map(_fact_text, columns),
                                         pa.scalar("|", pa.large_string()))
    offsets = np.frombuffer(joined.buffers()[1], np.int64)[:len(joined) + 1].tolist()
    body = memoryview(joined.buffers()[2] or b"")
    digest = hashlib.blake2b
    raw = b"".join([digest(body[a:b], digest_size=16).digest()
                    for a, b in pairwise(offsets)])
    limbs = np.frombuffer(raw, dtype=">u4").reshape(-1, 4).astype(np.uint64)
    digits = np.empty((limbs.shape[0], 20), np.uint8)
    for k in range(4):  # long division of the 4 x 32-bit limbs by 62**5 (< 2**30): 5 digits a step
        rem = np.zeros(limbs.shape[0], np.uint64)
        for j in range(4):
            cur = (rem << np.uint64(32)) | limbs[:, j]
            limbs[:, j] = cur // _B62_5
            rem = cur % _B62_5
        for d in range(5):
            digits[:, 5 * k + d] = _B62_CODES[rem % np.uint64(62)]
            rem //= np.uint64(62)
    digits = digits[:, :17]
    text = np.concatenate([np.full((digits.shape[0], 1), ord("C"), np.uint8), digits], axis=1)
    return [s.decode("ascii") for s in text.view("S18").ravel().tolist()]


def _fact_text(col: Sequence[object] | np.ndarray) -> pa.Array:
    """One fact column → Arrow large strings equal to ``str`` of each value: integers and text
    converted in Arrow (None → 'None'), anything else value by value."""
    try:
        arr = pa.array(col, from_pandas=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):  # mixed types
        return pa.array([str(v) for v in col], pa.large_string())
    if pa.types.is_integer(arr.type):
        return pc.fill_null(pc.cast(arr, pa.large_string()), "None")
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type) or \
            pa.types.is_null(arr.type):
        return pc.fill_null(arr.cast(pa.large_string()), "None")
    return pa.array([str(v) for v in col], pa.large_string())


def conn_state(proto: str, os_: int, rs: int, hist: str, osize: int, rsize: int,
               resp_pkts: int) -> str:
    """Endpoint states → Zeek's conn_state (base/protocols/conn/main.zeek, conn_state())."""
    if proto != "tcp":
        return "SF" if resp_pkts > 0 else "S0"
    o_inactive = os_ in (K.INACTIVE, K.PARTIAL)
    r_inactive = rs in (K.INACTIVE, K.PARTIAL)
    if rs == K.RESET:
        if os_ in (K.SYN_SENT, K.SYN_ACK_SENT) or (os_ == K.RESET and osize == 0 and rsize == 0):
            return "REJ"
        return "RSTRH" if o_inactive else "RSTR"
    if os_ == K.RESET:
        if r_inactive:
            h = hist.lstrip("^")
            if h.startswith("S") and not any(c in h for c in "HAFGIQ"):
                return "RSTOS0"
            return "OTH"
        return "RSTO"
    if rs == K.CLOSED and os_ == K.CLOSED:
        return "SF"
    if os_ == K.CLOSED:
        return "SH" if r_inactive else "S2"
    if rs == K.CLOSED:
        return "SHR" if o_inactive else "S3"
    if os_ == K.SYN_SENT and rs == K.INACTIVE:
        return "S0"
    if os_ == K.ESTABLISHED and rs == K.ESTABLISHED:
        return "S1"
    return "OTH"


UINT32_NA: Final = ("tunnel_id", "orig_isn", "resp_isn")
"""Columns ``flow_columns`` gives as int64 with negative = missing (UInt32 in the schema)."""


def build_flows(t: Finished, files: Sequence[str], point: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Finished flows of a point → (FLOW_BASE frame in creation order, uid per flow)."""
    import pandas as pd

    if t.n == 0:
        return schema.empty(schema.FLOW_BASE), np.empty(0, dtype=object)
    cols, uids = flow_columns(t, files, point)
    cols["uid"] = pd.array(uids, dtype="string")
    cols["ts"] = pd.to_datetime(cols["ts"], unit="ns", utc=True)
    for name in ("orig_payload", "resp_payload"):
        cols[name] = cols[name].to_pylist()
    for name in UINT32_NA:
        cols[name] = pd.arrays.IntegerArray(*_uint32(cols[name]))
    return schema.conform(pd.DataFrame(cols), schema.FLOW_BASE), uids


def build_arrow(t: Finished, files: Sequence[str], point: str) -> tuple[pa.Table, np.ndarray]:
    """Finished flows of a point → (FLOW_BASE as an Arrow table, uid per flow), without
    pandas: the same rows as ``build_flows`` (``schema.arrow_table`` types)."""
    if t.n == 0:
        return schema.arrow_table({}, 0, schema.FLOW_BASE), np.empty(0, dtype=object)
    cols, uids = flow_columns(t, files, point)
    cols["uid"] = uids
    for name in UINT32_NA:
        data, missing = _uint32(cols[name])
        cols[name] = pa.array(data, pa.uint32(), mask=missing)
    return schema.arrow_table(cols, t.n, schema.FLOW_BASE), uids


def _uint32(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int64 values, negative = missing → (uint32 data with 0 where missing, missing mask)."""
    missing = values < 0
    return np.where(missing, 0, values).astype(np.uint32), missing


def arrow_batches(source: PointSource) -> Iterator[pa.Table]:
    """A capture point's read → its finished flows as FLOW_BASE Arrow tables (``build_arrow``),
    batch by batch as they finish (the same rows as ``flows.FlowStream`` frames; none empty)."""
    for done in source.finished():
        if done.n:
            yield build_arrow(done, source.paths, source.paths[0])[0]


def flow_columns(t: Finished, files: Sequence[str], point: str) -> tuple[dict[str, Any], np.ndarray]:
    """Finished flows of a point (at least one) → (FLOW_BASE columns as numpy arrays and
    lists in creation order, uid per flow). ``ts`` is int64 ns, the ``UINT32_NA`` columns
    int64 with negative = missing, ``uid`` absent (the second item); takes the payload
    buffer out of ``t``."""
    # the per-flow tuples and strings hold no cycles; collections would rescan them all
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _flow_columns(t, files, point)
    finally:
        if enabled:
            gc.enable()


def _flow_columns(t: Finished, files: Sequence[str], point: str) -> tuple[dict[str, Any], np.ndarray]:
    n = t.n
    f, keys, pl = t.f, t.keys, t.payloads
    t.payloads = Payloads(np.empty(0, np.uint8), pl.start, pl.length, pl.missed)
    orig_payload, resp_payload = payload_arrays(pl)
    missed = pl.missed[0::2] + pl.missed[1::2]
    del pl  # the prefixes are copied out: the reassembly buffer can go
    orig_a = f["orig_a"].astype(bool)
    w4 = keys[:, 4]
    pa = (w4 >> np.uint64(16)) & np.uint64(0xFFFF)
    pb = w4 & np.uint64(0xFFFF)
    is_udp = ((w4 >> np.uint64(32)) & np.uint64(0xFF)) == 1
    tkind = ((w4 >> np.uint64(40)) & np.uint64(0xFF)).astype(np.int64)
    w5 = keys[:, 5]
    v1 = (w5 & np.uint64(0xFFFF)).astype(np.int64) - 1
    v2 = ((w5 >> np.uint64(16)) & np.uint64(0xFFFF)).astype(np.int64) - 1

    o_hi = np.where(orig_a, keys[:, 0], keys[:, 2])
    o_lo = np.where(orig_a, keys[:, 1], keys[:, 3])
    r_hi = np.where(orig_a, keys[:, 2], keys[:, 0])
    r_lo = np.where(orig_a, keys[:, 3], keys[:, 1])
    orig_h, resp_h = format_addrs(o_hi, o_lo), format_addrs(r_hi, r_lo)
    orig_p = np.where(orig_a, pa, pb).astype(np.int64)
    resp_p = np.where(orig_a, pb, pa).astype(np.int64)
    tun = f["tun"]
    to_hi, to_lo, tr_hi, tr_lo = tun[:, 0], tun[:, 1], tun[:, 2], tun[:, 3]
    tid = tun[:, 4].astype(np.int64) - 1
    has_tun = tkind > 0
    t_orig = _tunnel_addrs(to_hi, to_lo, has_tun)
    t_resp = _tunnel_addrs(tr_hi, tr_lo, has_tun)
    proto = np.where(is_udp, "udp", "tcp")
    vlan = [None if a < 0 else (str(a) if b < 0 else f"{a}.{b}")
            for a, b in zip(v1.tolist(), v2.tolist(), strict=True)]
    tunnel = [TUNNEL_NAMES.get(k) for k in tkind.tolist()]
    tcp_bytes = f["max_end"] - f["min_rel"]
    nbytes = np.where(is_udp[:, None], f["bytes"], tcp_bytes)
    # history and conn_state are computed once per distinct combination, not per flow
    # (a 16-letter history packs into one uint64, 4 bits a letter: 1-D uniques sort fast)
    hkey = np.zeros(n, np.uint64)
    for j in range(K.HL):
        code = np.where(f["hist_n"] > j, f["hist"][:, j].astype(np.uint64) + np.uint64(1),
                        np.uint64(0))
        hkey |= code << np.uint64(4 * j)
    uniq, inv = np.unique(hkey, return_inverse=True)
    texts = ["".join(_LETTER_CODES[((k >> (4 * j)) & 15) - 1]
                     for j in range(K.HL) if (k >> (4 * j)) & 15) for k in uniq.tolist()]
    hist = [texts[i] for i in inv.tolist()]
    st = f["state"].astype(np.int64)
    ckey = (inv.astype(np.int64) << 12) | (is_udp.astype(np.int64) << 11) | (st[:, 0] << 7) | (
        st[:, 1] << 3) | ((nbytes[:, 0] == 0) << 2) | ((nbytes[:, 1] == 0) << 1) | (
        f["pkts"][:, 1] > 0)
    cuniq, cinv = np.unique(ckey, return_inverse=True)
    cstates = [conn_state("udp" if (k >> 11) & 1 else "tcp", (k >> 7) & 15, (k >> 3) & 15,
                          texts[k >> 12], 1 - ((k >> 2) & 1), 1 - ((k >> 1) & 1), k & 1)
               for k in cuniq.tolist()]
    states = [cstates[i] for i in cinv.tolist()]
    first_ts = f["first_ts"]
    # uids: stable facts only (never file names), ordinal separates reused 5-tuples
    tun_ends = [[a if tn else "" for a, tn in zip(ends, tunnel, strict=True)]
                for ends in (t_orig, t_resp)]
    uids = np.array(make_uids([
        first_ts, proto, orig_h, orig_p, resp_h, resp_p, vlan, tunnel, *tun_ends, tid,
        f["ord"]]), dtype=object)
    # files each flow was seen in
    sf, sfile = t.sightings
    seen: list[list[str]] = [[] for _ in range(n)]
    for fl, fi in zip(sf.tolist(), sfile.tolist(), strict=True):
        if files[fi] not in seen[fl]:
            seen[fl].append(files[fi])
    # burst cadence
    burst = group_medians(*t.bursts, n)

    isn = f["isn"]
    cols: dict[str, Any] = {
        "ts": first_ts,
        "duration": (f["last_ts"] - first_ts) / 1e9,
        "orig_h": orig_h, "orig_p": orig_p, "resp_h": resp_h, "resp_p": resp_p,
        "proto": proto,
        "orig_pkts": f["pkts"][:, 0], "resp_pkts": f["pkts"][:, 1],
        "orig_bytes": nbytes[:, 0], "resp_bytes": nbytes[:, 1],
        "orig_ip_bytes": f["ipbytes"][:, 0], "resp_ip_bytes": f["ipbytes"][:, 1],
        "conn_state": states, "history": hist,
        "orig_guessed": f["guessed"].astype(bool),
        "missed_bytes": missed,
        "vlan": vlan,
        "tunnel": tunnel,
        "tunnel_orig_h": t_orig,
        "tunnel_resp_h": t_resp,
        "tunnel_id": tid,
        "capture": [files[i] for i in f["first_file"].tolist()],
        "first_frame": f["first_frame"], "last_frame": f["last_frame"],
        "captures": ["|".join(s) for s in seen],
        "capture_points": [point] * n,
        "orig_isn": isn[:, 0], "resp_isn": isn[:, 1],
        "orig_burst_interval": burst,
        "orig_payload": orig_payload,
        "resp_payload": resp_payload,
    }
    return cols, uids


def payload_arrays(pl: Payloads) -> tuple[pa.Array, pa.Array]:
    """Reassembled prefixes (two per flow: originator, responder) → (originator, responder)
    Arrow binary columns (empty prefix b"", never null), copied out of the reassembly buffer
    in C: the buffer holds every prefix once, so sorted by start they are one Arrow array's
    values as they lie."""
    data = np.ascontiguousarray(pl.data)
    length = pl.length.astype(np.int64)
    start = np.where(length > 0, pl.start.astype(np.int64), 0)
    order = np.lexsort((length > 0, start))  # empty ones (moved to 0) before the one at 0
    first = start[order]
    ends = np.cumsum(length[order])
    if not order.size or not np.array_equal(first[1:], ends[:-1]) \
            or first[0] != 0 or ends[-1] > data.nbytes:
        prefixes = [data[a:a + n].tobytes() if n else b""
                    for a, n in zip(start.tolist(), length.tolist(), strict=True)]
        return (pa.array(prefixes[0::2], pa.large_binary()),
                pa.array(prefixes[1::2], pa.large_binary()))
    offsets = np.concatenate([np.zeros(1, np.int64), ends])
    slab = pa.Array.from_buffers(pa.large_binary(), order.size,
                                 [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    at = np.empty_like(order)
    at[order] = np.arange(order.size)
    return slab.take(pa.array(at[0::2])), slab.take(pa.array(at[1::2]))


def group_medians(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    """Values (ns) with their group (0..n-1) → each group's median in seconds, NaN for a group
    without values (as pandas' groupby median: the mean of the middle two for an even count)."""
    out = np.full(n, np.nan)
    if not group.size:
        return out
    order = np.lexsort((values, group))
    g, v = group[order], values[order] / 1e9
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, g.shape[0]])
    low = starts + (counts - 1) // 2
    high = starts + counts // 2
    out[g[starts]] = (v[low] + v[high]) / 2
    return out
