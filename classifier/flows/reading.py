"""Reading capture points: files → finished flows (``FlowTable`` batches) and packet accounting.

numpy and the packet kernels only, no pandas: ``classifier.flows.worker`` runs a point's read
in a forked process that starts before the table stages are imported.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

import numpy as np

from classifier.errors import CaptureError, MalformedPacketError
from classifier.flows.points import group_points, scan_span
from classifier.flows.table import Finished, FlowTable
from classifier.ingest.decode import decode
from classifier.ingest.reader import CaptureReader
from classifier.ingest.reasons import MALFORMED, outcome, reason_name

log = logging.getLogger("kubewire.flows")

Progress = Callable[[int, int], None]
LINKTYPE_NAMES = {0: "null", 1: "ethernet", 12: "raw", 14: "raw", 101: "raw", 108: "loop",
                  113: "linux_sll", 228: "ipv4", 229: "ipv6", 276: "linux_sll2"}
"""LINKTYPE_* numbers (https://www.tcpdump.org/linktypes.html) → short names."""

FINISH_LOOK_PACKETS = 1 << 17
"""Records read between two looks for finished flows (a look scans the live flows' state)."""
FINISH_MIN_FLOWS = 1024
"""Finished flows are handed on once at least this many (or a quarter of the table) are ready:
each hand-on builds a frame, so tiny ones would cost more than the memory they free."""


class FileProgress:
    """Adds up bytes over files and forwards (done, total) to the caller's callback."""

    def __init__(self, cb: Progress | None, total: int) -> None:
        self.cb, self.total, self.base = cb, total, 0

    def file_callback(self) -> Callable[[int], None] | None:
        """→ the reader's callback for the next file (bytes done in it), or None."""
        if self.cb is None:
            return None
        base, cb, total = self.base, self.cb, self.total
        return lambda done: cb(base + done, total)

    def file_done(self, size: int) -> None:
        """A file of ``size`` bytes was read to its end."""
        self.base += size
        if self.cb is not None:
            self.cb(self.base, self.total)


class PointSource(Protocol):
    """What a capture point's read gives: finished-flow batches, then the accounting."""

    paths: list[str]
    stats: list[dict[str, object]]
    inputs: list[dict[str, object]]

    def finished(self) -> Iterator[Finished]: ...


class PointReader:
    """The files of one capture point, read in time order → its finished flows, batch by batch
    as flows finish (the last batch when the read is over).

    After the read: ``stats`` (capture, outcome, reason, packets) and ``inputs`` (capture,
    format, size, sha256, link_types, packets, first_ts/last_ts in ns or None) as records,
    ``inputs`` filled once the last batch has been taken;
    with ``want_index``, ``index`` holds (file, frames, flow gids, ts) per batch of packets.
    """

    def __init__(self, paths: Sequence[str], payload_bytes: int, strict: bool,
                 progress: FileProgress, want_index: bool = False, trim_tls: bool = True) -> None:
        self.paths, self.payload_bytes, self.strict = list(paths), payload_bytes, strict
        self.trim_tls, self.progress, self.want_index = trim_tls, progress, want_index
        self.stats: list[dict[str, object]] = []
        self.inputs: list[dict[str, object]] = []
        self.index: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []

    def finished(self) -> Iterator[Finished]:
        """Reads the point's files → batches of finished flows (each in creation order)."""
        paths, strict = self.paths, self.strict
        table = FlowTable(self.payload_bytes, trim_tls=self.trim_tls)
        readers: list[CaptureReader] = []
        since = 0
        for fi, path in enumerate(paths):
            reader = CaptureReader(path, strict=strict, progress=self.progress.file_callback())
            counts = np.zeros(512, np.int64)
            for b in reader.batches():
                pk = decode(b.buf, b.off, b.caplen, b.linktype, b.reason)
                if strict:
                    _raise_first_malformed(path, pk.reason, b.frame)
                pf = table.feed(b.buf, b.ts, b.frame, pk, fi)
                counts += np.bincount(pk.reason, minlength=512)[:512]
                if self.want_index:
                    ok = pf >= 0
                    self.index.append((fi, b.frame[ok], table.gids(pf[ok]), b.ts[ok]))
                since += len(b)
                if since >= FINISH_LOOK_PACKETS:
                    since = 0
                    ts = b.ts[pk.reason <= 1]
                    if ts.shape[0]:  # the batch's oldest packet: robust to one bogus timestamp
                        mask = table.finishable(int(ts.min()))
                        if int(mask.sum()) >= min(FINISH_MIN_FLOWS, max(1, table.n_flows // 4)):
                            yield table.finish(mask)
            self.progress.file_done(reader.size)
            for code in np.flatnonzero(counts).tolist():
                self.stats.append({"capture": path, "outcome": outcome(code),
                                   "reason": reason_name(code), "packets": int(counts[code])})
            readers.append(reader)
        yield table.finish()
        for reader in readers:  # the digests last: a helper process may still be hashing
            self.inputs.append({
                "capture": reader.path, "format": reader.format, "size": reader.size,
                "sha256": reader.sha256,
                "link_types": ",".join(LINKTYPE_NAMES.get(x, f"linktype_{x}")
                                       for x in sorted(reader.link_types)),
                "packets": reader.records, "first_ts": reader.first_ts,
                "last_ts": reader.last_ts,
            })


def _raise_first_malformed(path: str, reasons: np.ndarray, frames: np.ndarray) -> None:
    bad = np.isin(reasons, np.array(sorted(MALFORMED), dtype=reasons.dtype))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MalformedPacketError(path, int(frames[i]), reason_name(int(reasons[i])))


def plan_points(paths: Sequence[str]) -> list[list[str]]:
    """Paths → capture points (each a list of paths in reading order)."""
    paths = [str(p) for p in paths]
    if not paths:
        raise CaptureError("no capture given")
    if len(paths) == 1:
        return [paths]
    if "-" in paths:
        raise CaptureError("'-' (stdin) cannot be combined with other captures")
    spans = [scan_span(i, p) for i, p in enumerate(paths)]
    return [[paths[i] for i in point] for point in group_points(spans)]


def total_size(points: Sequence[Sequence[str]]) -> int:
    """Capture points → the bytes of their regular files (stdin and pipes count 0)."""
    return sum(os.stat(p).st_size if p != "-" and os.path.isfile(p) else 0
               for pt in points for p in pt)


def open_points(paths: Sequence[str], payload_bytes: int, strict: bool, progress: Progress | None,
                *, want_index: bool = False, trim_tls: bool = True, process: bool = False,
                ) -> list[PointSource]:
    """Capture paths → the reads of their capture points, not started; with ``process`` a
    single point is read in a forked process (``classifier.flows.worker``), started now.

    Raises CaptureError when there is no path, '-' is combined with others, or a file of
    several cannot be read.
    """
    points = plan_points(paths)
    prog = FileProgress(progress, total_size(points))
    readers = [PointReader(pt, payload_bytes, strict, prog, want_index, trim_tls)
               for pt in points]
    if process and len(readers) == 1 and not want_index and hasattr(os, "fork"):
        from classifier.flows.worker import ReaderProcess

        try:
            return [ReaderProcess(readers[0])]
        except OSError as exc:  # no process or pipe to spare: read here instead
            log.info("reading in this process: cannot start a reader process (%s)", exc)
    return list(readers)
