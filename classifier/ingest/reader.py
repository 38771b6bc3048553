"""Streaming capture reader: a pcap/pcapng file → batches of framed records over one buffer.

The file is read in fixed-size chunks into a reusable numpy buffer; numba kernels walk the
record headers. Damage (corrupt headers, a cut-short last record) becomes a record with a
reason code, never an exception, unless ``strict``.

Performance notes:
- Chunks are 2 MiB (``CHUNK``), read with ``readinto`` into one of two reused buffers. Walking
  record headers is a dependent chain of loads (each header's position comes from the one
  before); on a chunk that was just copied in it runs from cache, and the caller decodes and
  tracks the same chunk right away while it is still cached (bench-1x: header walk ~0.1 s,
  decode ~0.15 s per 2 M records; 8 MiB chunks were ~25 % slower end to end, 256 KiB ones paid
  more per-batch Python overhead).
- The unconsumed tail of a chunk (a record cut by the chunk boundary) is copied to the start
  of the other buffer; a buffer holds one chunk plus the largest allowed record.
- SHA-256 of the raw bytes (INPUTS.sha256, ~0.7 s of CPU per GB) runs beside the read: for
  a large regular file in a helper process that hashes what the reader has consumed at the
  lowest CPU priority (``classifier.ingest.hasher``), so the read never waits for it and the
  digest is asked for only after the last batch; otherwise on a helper thread over each chunk
  right after it is read, a buffer reused only once its bytes are hashed.
- The kernels come compiled ahead of time (``classifier.native``); under numba's JIT
  fallback their first call costs ~0.5 s CPU and ~45 MB RSS once per process. (Three or four
  rotating buffers instead of two were measured: no faster.)
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from classifier.errors import CaptureError, MalformedPacketError
from classifier.ingest import framing as fr
from classifier.ingest.interfaces import Interface, parse_idb
from classifier.ingest.reasons import (
    CORRUPT_RECORD_HEADER,
    PCAPNG_BAD_INTERFACE,
    TRUNCATED_RECORD,
    reason_name,
)
from classifier.ingest.source import Source

log = logging.getLogger("kubewire.ingest")

CHUNK = 2 << 20
"""Bytes read per chunk; the buffer holds one chunk plus the largest allowed record."""
PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": (False, 1000, "pcap"), b"\xa1\xb2\xc3\xd4": (True, 1000, "pcap"),
    b"\x4d\x3c\xb2\xa1": (False, 1, "pcap-ns"), b"\xa1\xb2\x3c\x4d": (True, 1, "pcap-ns"),
}
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
BOM = 0x1A2B3C4D
MIN_RECORD_LIMIT = 262144
"""Largest plausible record when the header's snaplen is smaller (Wireshark's 256 KiB)."""


@dataclass(slots=True)
class RecordBatch:
    """Framed records of one chunk; ``buf`` is valid only until the next batch is requested."""

    buf: np.ndarray
    off: np.ndarray
    caplen: np.ndarray
    origlen: np.ndarray
    ts: np.ndarray
    iface: np.ndarray
    linktype: np.ndarray
    reason: np.ndarray
    frame: np.ndarray
    """1-based frame number (as tshark numbers them); 0 for records that are not packets."""

    def __len__(self) -> int:
        return int(self.off.shape[0])


@dataclass(slots=True)
class CaptureReader:
    """Reads one capture file; after iteration, format/link types/time range/size/sha are set."""

    path: str
    chunk: int = CHUNK
    strict: bool = False
    progress: Callable[[int], None] | None = None
    format: str = ""
    link_types: set[int] = field(default_factory=set)
    interfaces: list[Interface] = field(default_factory=list)
    records: int = 0
    frames: int = 0
    first_ts: int | None = None
    last_ts: int | None = None
    size: int = 0
    total: int = 0
    hashed: bool = True
    """SHA-256 the bytes read (False: ``sha256`` stays "", for passes that need only records)."""
    _source: Source | None = field(default=None, repr=False)

    @property
    def sha256(self) -> str:
        """SHA-256 (hex) of the bytes read, once the read is over ("" before). A helper
        process may still be hashing when the batches end: the first access waits for it."""
        return self._source.sha256() if self._source is not None else ""

    def batches(self) -> Iterator[RecordBatch]:
        """The file → record batches, in file order. Raises CaptureError if not a capture."""
        src = Source(self.path, hashed=self.hashed)
        self.total = src.total
        try:
            yield from self._read(src)
            src.drain()
        finally:
            src.close()
            self.size = src.bytes_read
            self._source = src
        if src.error:
            log.warning("%s: %s", self.path, src.error)

    # -- the chunk loop ------------------------------------------------------------------------

    def _read(self, src: Source) -> Iterator[RecordBatch]:
        bufs = _Buffers(self.chunk + fr.MAX_BLOCK + 64)
        buf = bufs.current
        valid = src.readinto(buf.data[: self.chunk])
        bufs.filled(src)
        eof = valid < self.chunk
        if valid == 0:
            raise CaptureError(f"{self.path}: empty file, not a capture")
        magic = bytes(buf[:4])
        if self.format == "":
            self._set_format(magic, src)
        pcapng = magic == PCAPNG_MAGIC
        if pcapng:
            pos, swapped, limit, frac = 0, False, 0, 0
        else:
            if valid < 24:
                raise CaptureError(f"{self.path}: truncated pcap file header ({valid} bytes)")
            swapped, frac, _ = PCAP_MAGICS[magic]
            e = ">" if swapped else "<"
            snaplen, network = struct.unpack(e + "II", bytes(buf[16:24]))
            self.link_types.add(network & 0xFFFF)
            self.interfaces = [Interface(linktype=network & 0xFFFF, snaplen=snaplen)]
            limit = min(max(snaplen, MIN_RECORD_LIMIT), fr.MAX_BLOCK)
            pos = 24
        cap = self.chunk // 12 + 16
        arrays = _Arrays(cap)
        while True:
            if pcapng:
                iv = _iface_arrays(self.interfaces)
                n, npos, code = fr.frame_pcapng(
                    buf, pos, valid, swapped, iv[0], iv[1], iv[2], iv[3], iv[4], arrays.off,
                                                arrays.caplen, arrays.origlen, arrays.ts,
                                                arrays.iface, arrays.reason, self.last_ts or 0)
            else:
                n, npos, code = fr.frame_pcap(buf, pos, valid, swapped, frac, limit, arrays.off,
                                              arrays.caplen, arrays.origlen, arrays.ts,
                                              arrays.reason)
            if n:
                yield self._batch(buf, arrays, n)
            pos = npos
            if code == fr.FULL:
                continue
            if code == fr.META_BLOCK:
                btype = struct.unpack(("<", ">")[swapped] + "I", bytes(buf[pos:pos + 4]))[0]
                need = _meta_len(buf, pos, valid, swapped, btype == fr.SHB)
                if need is None or pos + need > valid:
                    if eof:
                        if need is not None and need <= fr.MAX_BLOCK:
                            yield self._event(buf, TRUNCATED_RECORD, pos)
                        else:
                            yield self._event(buf, CORRUPT_RECORD_HEADER, pos)
                        return
                    buf, pos, valid, eof = self._fill(src, bufs, pos, valid)
                    continue
                if need < 12 or need > fr.MAX_BLOCK:
                    code = fr.CORRUPT
                else:
                    block = bytes(buf[pos:pos + need])
                    if btype == fr.SHB:
                        swapped = struct.unpack("<I", block[8:12])[0] != BOM
                        self.interfaces = []
                    else:
                        itf = parse_idb(block, swapped)
                        self.interfaces.append(itf)
                        self.link_types.add(itf.linktype)
                    pos += need
                    continue
            if code == fr.NEED_MORE:
                if eof:
                    if pos < valid:
                        yield self._event(buf, TRUNCATED_RECORD, pos)
                    return
                buf, pos, valid, eof = self._fill(src, bufs, pos, valid)
                continue
            # corrupt header: count it, then look for the next plausible record
            yield self._event(buf, CORRUPT_RECORD_HEADER, pos)
            while True:
                if pcapng:
                    st, p = fr.resync_pcapng(buf, pos, valid, eof, swapped)
                else:
                    ref = (self.last_ts or 0) // 1_000_000_000
                    st, p = fr.resync_pcap(buf, pos, valid, eof, swapped, frac, limit, ref)
                if st == 0:
                    pos = p
                    break
                if st == 2:
                    return
                buf, pos, valid, eof = self._fill(src, bufs, p, valid)
                pos -= 1 if not pcapng else 4  # resync starts after pos

    def _fill(self, src: Source, bufs: _Buffers, pos: int,
              valid: int) -> tuple[np.ndarray, int, int, bool]:
        """Unconsumed bytes + the next chunk → the other buffer (its old bytes hashed first)."""
        old = bufs.current
        buf = bufs.swap(src)
        rest = valid - pos
        if rest:
            buf[:rest] = old[pos:valid]
        got = src.readinto(buf.data[rest: rest + self.chunk])
        bufs.filled(src)
        if self.progress is not None:
            self.progress(src.bytes_read)
        return buf, 0, rest + got, got < self.chunk

    def _set_format(self, magic: bytes, src: Source) -> None:
        gz = "+gzip" if src.gzip else ""
        if magic == PCAPNG_MAGIC:
            self.format = "pcapng" + gz
        elif magic in PCAP_MAGICS:
            self.format = PCAP_MAGICS[magic][2] + gz
        else:
            what = "gzip data that is not a capture" if src.gzip else "not a pcap or pcapng file"
            raise CaptureError(f"{self.path}: {what} (magic {magic.hex()})")

    def _batch(self, buf: np.ndarray, a: _Arrays, n: int) -> RecordBatch:
        reason = a.reason[:n].copy()
        iface = a.iface[:n].copy()
        if len(self.interfaces) == 1 and not reason.any():
            return self._clean_batch(buf, a, n, reason, iface)
        if self.interfaces:
            lt = np.array([i.linktype for i in self.interfaces], dtype=np.int32)
            ok = iface < len(lt)
            linktype = np.where(ok, lt[np.minimum(iface, len(lt) - 1)], -1).astype(np.int32)
        else:
            linktype = np.full(n, -1, dtype=np.int32)
        is_pkt = (reason == 0) | (reason == PCAPNG_BAD_INTERFACE)
        frame = np.where(is_pkt, self.frames + np.cumsum(is_pkt), 0).astype(np.int64)
        self.frames += int(is_pkt.sum())
        self.records += n
        ts = a.ts[:n].copy()
        good = ts[reason == 0]
        if good.size:
            lo, hi = int(good.min()), int(good.max())
            self.first_ts = lo if self.first_ts is None else min(self.first_ts, lo)
            self.last_ts = hi if self.last_ts is None else max(self.last_ts, hi)
        if self.strict and (reason != 0).any():
            i = int(np.flatnonzero(reason != 0)[0])
            r = int(reason[i])
            if r in (PCAPNG_BAD_INTERFACE,):
                raise MalformedPacketError(self.path, int(frame[i]), reason_name(r))
        return RecordBatch(buf, a.off[:n].copy(), a.caplen[:n].astype(np.int64),
                           a.origlen[:n].astype(np.int64), ts, iface, linktype, reason, frame)

    def _clean_batch(self, buf: np.ndarray, a: _Arrays, n: int, reason: np.ndarray,
                     iface: np.ndarray) -> RecordBatch:
        """The common case of ``_batch``: one interface, every record a good packet."""
        linktype = np.full(n, self.interfaces[0].linktype, dtype=np.int32)
        frame = np.arange(self.frames + 1, self.frames + n + 1, dtype=np.int64)
        self.frames += n
        self.records += n
        ts = a.ts[:n].copy()
        lo, hi = int(ts.min()), int(ts.max())
        self.first_ts = lo if self.first_ts is None else min(self.first_ts, lo)
        self.last_ts = hi if self.last_ts is None else max(self.last_ts, hi)
        return RecordBatch(buf, a.off[:n].copy(), a.caplen[:n].astype(np.int64),
                           a.origlen[:n].astype(np.int64), ts, iface, linktype, reason, frame)

    def _event(self, buf: np.ndarray, reason: int, pos: int) -> RecordBatch:
        if self.strict:
            raise MalformedPacketError(self.path, self.frames + 1, reason_name(reason))
        self.records += 1
        z = np.zeros(1, dtype=np.int64)
        return RecordBatch(buf, np.array([pos], dtype=np.int64), z, z.copy(), z.copy(),
                           np.zeros(1, np.int32), np.full(1, -1, np.int32),
                           np.array([reason], dtype=np.uint16), z.copy())


class _Buffers:
    """Two chunk buffers used in turn, so hashing one overlaps decoding the other."""

    def __init__(self, size: int) -> None:
        self._bufs = [np.empty(size, dtype=np.uint8), np.empty(size, dtype=np.uint8)]
        self._marks = [0, 0]
        self._cur = 0

    @property
    def current(self) -> np.ndarray:
        return self._bufs[self._cur]

    def swap(self, src: Source) -> np.ndarray:
        """Switch to the other buffer once the bytes last read into it are hashed."""
        self._cur ^= 1
        src.sync(self._marks[self._cur])
        return self._bufs[self._cur]

    def filled(self, src: Source) -> None:
        self._marks[self._cur] = src.mark()


class _Arrays:
    """Preallocated per-record outputs of the framing kernels."""

    def __init__(self, cap: int) -> None:
        self.off = np.empty(cap, np.int64)
        self.caplen = np.empty(cap, np.uint32)
        self.origlen = np.empty(cap, np.uint32)
        self.ts = np.empty(cap, np.int64)
        self.iface = np.zeros(cap, np.int32)
        self.reason = np.empty(cap, np.uint16)


def _iface_arrays(ifs: list[Interface]) -> tuple[np.ndarray, ...]:
    return (np.array([i.mul for i in ifs], np.int64), np.array([i.div for i in ifs], np.int64),
            np.array([i.shift for i in ifs], np.int64),
            np.array([i.offset_ns for i in ifs], np.int64),
            np.array([i.snaplen for i in ifs], np.int64))


def _meta_len(buf: np.ndarray, pos: int, valid: int, swapped: bool, shb: bool) -> int | None:
    """Length of the SHB/IDB at pos (None when not yet buffered)."""
    if pos + 12 > valid:
        return None
    if shb:
        bom = struct.unpack("<I", bytes(buf[pos + 8:pos + 12]))[0]
        e = "<" if bom == BOM else ">"
    else:
        e = ">" if swapped else "<"
    return int(struct.unpack(e + "I", bytes(buf[pos + 4:pos + 8]))[0])
