"""Record framing kernels (numba): walk pcap / pcapng record headers inside a byte buffer.

Each kernel fills preallocated per-record arrays (data offset, caplen, orig_len, ts in ns,
interface, reason) and returns how far it got, so the caller can stream the file in chunks.
Formats: pcap (https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/) and pcapng
(https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/).
"""

# ruff: noqa: SIM108, SIM109  (numba kernels: explicit comparisons compile to plain branches)
from __future__ import annotations

from typing import Any, Final

import numpy as np

from classifier.ingest.reasons import CORRUPT_RECORD_HEADER, PCAPNG_BAD_INTERFACE, PCAPNG_UNKNOWN_BLOCK
from classifier.native import helper, inline, kernel

# pcapng block types (draft-ietf-opsawg-pcapng §10.1)
SHB: Final = 0x0A0D0D0A
IDB: Final = 0x00000001
PB: Final = 0x00000002
SPB: Final = 0x00000003
NRB: Final = 0x00000004
ISB: Final = 0x00000005
EPB: Final = 0x00000006
# stop codes returned by the kernels
NEED_MORE: Final = 0
CORRUPT: Final = 1
META_BLOCK: Final = 2
FULL: Final = 3

MAX_BLOCK: Final = 16 << 20
"""No record or block may claim more than 16 MiB (Wireshark's own ceiling is 256 KiB/record)."""


@inline
def _u32(buf: np.ndarray, p: int, swapped: bool) -> Any:
    if swapped:
        return (np.uint32(buf[p]) << 24) | (np.uint32(buf[p + 1]) << 16) | (
            np.uint32(buf[p + 2]) << 8) | np.uint32(buf[p + 3])
    return (np.uint32(buf[p + 3]) << 24) | (np.uint32(buf[p + 2]) << 16) | (
        np.uint32(buf[p + 1]) << 8) | np.uint32(buf[p])


@inline
def _u16(buf: np.ndarray, p: int, swapped: bool) -> Any:
    if swapped:
        return (np.uint32(buf[p]) << 8) | np.uint32(buf[p + 1])
    return (np.uint32(buf[p + 1]) << 8) | np.uint32(buf[p])


@kernel()
def frame_pcap(buf: np.ndarray, pos: int, end: int, swapped: bool, frac_ns: int, limit: int,
               off: np.ndarray, caplen: np.ndarray, origlen: np.ndarray, ts: np.ndarray,
               reason: np.ndarray) -> tuple[int, int, int]:
    """Classic pcap records in buf[pos:end] → (records filled, next position, stop code)."""
    n = 0
    cap = off.shape[0]
    while True:
        if n >= cap:
            return n, pos, FULL
        if pos + 16 > end:
            return n, pos, NEED_MORE
        sec = _u32(buf, pos, swapped)
        frac = _u32(buf, pos + 4, swapped)
        cl = _u32(buf, pos + 8, swapped)
        ol = _u32(buf, pos + 12, swapped)
        if cl > limit:
            return n, pos, CORRUPT
        if pos + 16 + cl > end:
            return n, pos, NEED_MORE
        off[n] = pos + 16
        caplen[n] = cl
        origlen[n] = ol
        ts[n] = np.int64(sec) * 1_000_000_000 + np.int64(frac) * frac_ns
        reason[n] = 0
        n += 1
        pos += 16 + cl


@helper
def _plausible_pcap(buf: np.ndarray, p: int, swapped: bool, frac_ns: int, limit: int,
                    ref_sec: int) -> bool:
    cl = _u32(buf, p + 8, swapped)
    ol = _u32(buf, p + 12, swapped)
    if cl > limit or cl == 0 or ol < cl or ol > 262144:
        return False
    if _u32(buf, p + 4, swapped) * frac_ns >= 1_000_000_000:
        return False
    sec = _u32(buf, p, swapped)
    return not (ref_sec > 0 and abs(np.int64(sec) - ref_sec) > 86400)


@kernel()
def resync_pcap(buf: np.ndarray, pos: int, end: int, at_eof: bool, swapped: bool, frac_ns: int,
                limit: int, ref_sec: int) -> tuple[int, int]:
    """After a corrupt header at pos → (0, position of the next plausible record) or (1, pos to
    resume from once more data is buffered) or (2, end) when nothing plausible remains."""
    p = pos + 1
    while p + 16 <= end:
        if _plausible_pcap(buf, p, swapped, frac_ns, limit, ref_sec):
            nxt = p + 16 + _u32(buf, p + 8, swapped)
            if nxt == end and at_eof:
                return 0, p
            if nxt + 16 <= end:
                if _plausible_pcap(buf, nxt, swapped, frac_ns, limit, ref_sec):
                    return 0, p
            elif not at_eof:
                return 1, p
        p += 1
    if at_eof:
        return 2, end
    return 1, p


@helper
def _ts_ns(raw: np.uint64, mul: int, div: int, shift: int, offset: int) -> Any:
    if shift > 0:
        sec = raw >> np.uint64(shift)
        frac = raw & ((np.uint64(1) << np.uint64(shift)) - np.uint64(1))
        return np.int64(sec) * 1_000_000_000 + np.int64(
            (frac * np.uint64(1_000_000_000)) >> np.uint64(shift)) + offset
    if div > 1:
        return np.int64(raw // np.uint64(div)) + offset
    return np.int64(raw) * mul + offset


@kernel()
def frame_pcapng(buf: np.ndarray, pos: int, end: int, swapped: bool,
                 if_mul: np.ndarray, if_div: np.ndarray, if_shift: np.ndarray,
                 if_offset: np.ndarray, if_snap: np.ndarray,
                 off: np.ndarray, caplen: np.ndarray, origlen: np.ndarray, ts: np.ndarray,
                 iface: np.ndarray, reason: np.ndarray, prev_ts: int) -> tuple[int, int, int]:
    """pcapng blocks in buf[pos:end] → (records filled, next position, stop code).

    Stops with META_BLOCK at a section header or interface description (parsed by the caller).
    Statistics, name-resolution and other known metadata blocks are skipped silently; unknown
    block types become a record with reason PCAPNG_UNKNOWN_BLOCK. Simple packet blocks carry no
    time: they get the previous packet's (``prev_ts`` before the first one).
    """
    n = 0
    cap = off.shape[0]
    nif = if_mul.shape[0]
    while True:
        if n >= cap:
            return n, pos, FULL
        if pos + 12 > end:
            return n, pos, NEED_MORE
        btype = _u32(buf, pos, swapped)
        if btype == SHB or btype == IDB:
            return n, pos, META_BLOCK
        blen = _u32(buf, pos + 4, swapped)
        if blen < 12 or blen % 4 != 0 or blen > MAX_BLOCK:
            return n, pos, CORRUPT
        if pos + blen > end:
            return n, pos, NEED_MORE
        if _u32(buf, pos + blen - 4, swapped) != blen:
            return n, pos, CORRUPT
        if btype == EPB or btype == PB:
            if blen < 32:
                return n, pos, CORRUPT
            if btype == EPB:
                ifid = _u32(buf, pos + 8, swapped)
            else:
                ifid = _u16(buf, pos + 8, swapped)
            raw = (np.uint64(_u32(buf, pos + 12, swapped)) << np.uint64(32)) | np.uint64(
                _u32(buf, pos + 16, swapped))
            cl = _u32(buf, pos + 20, swapped)
            ol = _u32(buf, pos + 24, swapped)
            if 28 + cl + 4 > blen:
                return n, pos, CORRUPT
            off[n] = pos + 28
            caplen[n] = cl
            origlen[n] = ol
            iface[n] = ifid
            if ifid >= nif:
                ts[n] = 0
                reason[n] = PCAPNG_BAD_INTERFACE
            else:
                ts[n] = _ts_ns(raw, if_mul[ifid], if_div[ifid], if_shift[ifid], if_offset[ifid])
                prev_ts = ts[n]
                reason[n] = 0
            n += 1
        elif btype == SPB:
            if blen < 16:
                return n, pos, CORRUPT
            ol = _u32(buf, pos + 8, swapped)
            cl = min(ol, blen - 16)
            if nif > 0 and if_snap[0] > 0:
                cl = min(cl, if_snap[0])
            off[n] = pos + 12
            caplen[n] = cl
            origlen[n] = ol
            iface[n] = 0
            ts[n] = prev_ts
            reason[n] = 0 if nif > 0 else PCAPNG_BAD_INTERFACE
            n += 1
        elif btype in (NRB, ISB, 0x9, 0xA, 0xBAD, 0x40000BAD):
            pass
        else:
            off[n] = pos
            caplen[n] = 0
            origlen[n] = 0
            iface[n] = 0
            ts[n] = 0
            reason[n] = PCAPNG_UNKNOWN_BLOCK
            n += 1
        pos += blen


@kernel()
def resync_pcapng(buf: np.ndarray, pos: int, end: int, at_eof: bool, swapped: bool) -> tuple[int, int]:
    """After a corrupt block at pos → like resync_pcap: the next 4-aligned block whose leading
    and trailing lengths agree and whose type is a packet or metadata block."""
    p = pos + 4
    while p + 12 <= end:
        bt = _u32(buf, p, swapped)
        if bt in (SHB, IDB, PB, SPB, NRB, ISB, EPB):
            bl = _u32(buf, p + 4, swapped)
            if bl >= 12 and bl % 4 == 0 and bl <= MAX_BLOCK:
                if p + bl <= end:
                    if _u32(buf, p + bl - 4, swapped) == bl:
                        return 0, p
                elif not at_eof:
                    return 1, p
        p += 4
    if at_eof:
        return 2, end
    return 1, p


CORRUPT_REASON: Final = CORRUPT_RECORD_HEADER
