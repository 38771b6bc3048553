"""Flow assembly: decoded packets → bidirectional flows with reassembled first bytes.

``assemble`` is the pipeline stage (schema.FLOW_BASE + STATS + INPUTS); ``FlowStream`` gives
the same flows as frames while reading, as they finish (bounded memory); ``packet_index`` maps
every decoded packet to its flow uid for evidence extraction.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from classifier import schema
from classifier.errors import CaptureError, MalformedPacketError
from classifier.flows.build import build_flows
from classifier.flows.merge import merge_points, merge_views, relabel_index
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


@dataclass(frozen=True, slots=True)
class Assembled:
    """The flow stage's output: flows (schema.FLOW_BASE), stats (STATS), inputs (INPUTS)."""

    flows: pd.DataFrame
    stats: pd.DataFrame
    inputs: pd.DataFrame


class _Progress:
    """Adds up bytes over files and forwards (done, total) to the caller's callback."""

    def __init__(self, cb: Progress | None, total: int) -> None:
        self.cb, self.total, self.base = cb, total, 0

    def file_callback(self) -> Callable[[int], None] | None:
        if self.cb is None:
            return None
        base, cb, total = self.base, self.cb, self.total
        return lambda done: cb(base + done, total)

    def file_done(self, size: int) -> None:
        self.base += size
        if self.cb is not None:
            self.cb(self.base, self.total)


FINISH_LOOK_PACKETS = 1 << 17
"""Records read between two looks for finished flows (a look scans the live flows' state)."""
FINISH_MIN_FLOWS = 1024
"""Finished flows are handed on once at least this many (or a quarter of the table) are ready:
each hand-on builds a frame, so tiny ones would cost more than the memory they free."""


class _Point:
    """The files of one capture point, read in time order, as a stream of flow frames (each
    FLOW_BASE, flows in creation order within a frame) handed on as they finish; the
    accounting (``stats``, ``inputs``) and the packet index are complete once the stream is."""

    def __init__(self, paths: Sequence[str], payload_bytes: int, strict: bool, prog: _Progress,
                 want_index: bool, trim_tls: bool = True) -> None:
        self.paths, self.payload_bytes, self.strict = list(paths), payload_bytes, strict
        self.trim_tls = trim_tls
        self.prog, self.want_index = prog, want_index
        self.stats: list[dict[str, object]] = []
        self.inputs: list[dict[str, object]] = []
        self._idx: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
        self._uids: list[tuple[np.ndarray, np.ndarray]] = []

    def frames(self) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        """Reads the point's files → its flow frames (the last one when the read is over),
        each with its flows' creation numbers."""
        paths, strict = self.paths, self.strict
        table = FlowTable(self.payload_bytes, trim_tls=self.trim_tls)
        since = 0
        for fi, path in enumerate(paths):
            reader = CaptureReader(path, strict=strict, progress=self.prog.file_callback())
            counts = np.zeros(512, np.int64)
            for b in reader.batches():
                pk = decode(b.buf, b.off, b.caplen, b.linktype, b.reason)
                if strict:
                    _raise_first_malformed(path, pk.reason, b.frame)
                pf = table.feed(b.buf, b.ts, b.frame, pk, fi)
                counts += np.bincount(pk.reason, minlength=512)[:512]
                if self.want_index:
                    ok = pf >= 0
                    self._idx.append((fi, b.frame[ok], table.gids(pf[ok]), b.ts[ok]))
                since += len(b)
                if since >= FINISH_LOOK_PACKETS:
                    since = 0
                    ts = b.ts[pk.reason <= 1]
                    if ts.shape[0]:  # the batch's oldest packet: robust to one bogus timestamp
                        mask = table.finishable(int(ts.min()))
                        if int(mask.sum()) >= min(FINISH_MIN_FLOWS, max(1, table.n_flows // 4)):
                            yield self._build(table.finish(mask))
            self.prog.file_done(reader.size)
            for code in np.flatnonzero(counts).tolist():
                self.stats.append({"capture": path, "outcome": outcome(code),
                                   "reason": reason_name(code), "packets": int(counts[code])})
            self.inputs.append({
                "capture": path, "format": reader.format, "size": reader.size,
                "sha256": reader.sha256,
                "link_types": ",".join(LINKTYPE_NAMES.get(x, f"linktype_{x}")
                                       for x in sorted(reader.link_types)),
                "packets": reader.records,
                "first_ts": pd.NaT if reader.first_ts is None else pd.Timestamp(reader.first_ts, tz="UTC"),
                "last_ts": pd.NaT if reader.last_ts is None else pd.Timestamp(reader.last_ts, tz="UTC"),
            })
        yield self._build(table.finish())

    def _build(self, done: Finished) -> tuple[pd.DataFrame, np.ndarray]:
        flows, uids = build_flows(done, self.paths, self.paths[0])
        gid = done.f["gid"]
        if self.want_index:
            self._uids.append((gid, uids))
        return flows, gid

    def index(self) -> pd.DataFrame:
        """After the stream: one row per decoded TCP/UDP packet (capture, frame, uid, ts)."""
        if not self._idx:
            return _empty_index()
        gid = np.concatenate([g for g, _ in self._uids])
        uid_of = np.empty(int(gid.max()) + 1 if gid.shape[0] else 0, dtype=object)
        for g, u in self._uids:
            uid_of[g] = u
        parts = self._idx
        return pd.DataFrame({
            "capture": np.concatenate([np.full(len(fr), self.paths[fi], dtype=object)
                                       for fi, fr, _, _ in parts]),
            "frame": np.concatenate([fr for _, fr, _, _ in parts]).astype("uint64"),
            "uid": uid_of[np.concatenate([g for _, _, g, _ in parts])],
            "ts": pd.to_datetime(np.concatenate([t for _, _, _, t in parts]), unit="ns", utc=True),
        })

    def read(self) -> pd.DataFrame:
        """The whole stream → one flow frame, flows in creation order."""
        parts = [(f, g) for f, g in self.frames() if len(f)]
        if not parts:
            return schema.empty(schema.FLOW_BASE)
        if len(parts) == 1:
            return parts[0][0]
        order = np.argsort(np.concatenate([g for _, g in parts]), kind="stable")
        whole = pd.concat([f for f, _ in parts], ignore_index=True).take(order)
        # concat widens categoricals whose categories differ between frames
        return schema.conform(whole.reset_index(drop=True), schema.FLOW_BASE)


def _raise_first_malformed(path: str, reasons: np.ndarray, frames: np.ndarray) -> None:
    bad = np.isin(reasons, np.array(sorted(MALFORMED), dtype=reasons.dtype))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise MalformedPacketError(path, int(frames[i]), reason_name(int(reasons[i])))


def _empty_index() -> pd.DataFrame:
    return pd.DataFrame({"capture": pd.Series([], dtype=object),
                         "frame": pd.Series([], dtype="uint64"),
                         "uid": pd.Series([], dtype=object),
                         "ts": pd.Series([], dtype=schema.UTC_TS)})


def _plan(paths: Sequence[str]) -> list[list[str]]:
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


def _points(paths: Sequence[str], payload_bytes: int, strict: bool, progress: Progress | None,
            want_index: bool, trim_tls: bool = True) -> list[_Point]:
    points = _plan(paths)
    total = sum(os.stat(p).st_size if p != "-" and os.path.isfile(p) else 0
                for pt in points for p in pt)
    prog = _Progress(progress, total)
    return [_Point(pt, payload_bytes, strict, prog, want_index, trim_tls) for pt in points]


def _stats(points: list[_Point]) -> pd.DataFrame:
    """Read points → their packet accounting (STATS)."""
    stats = [s for p in points for s in p.stats]
    return schema.conform(stats, schema.STATS) if stats else schema.empty(schema.STATS)


def _inputs(points: list[_Point]) -> pd.DataFrame:
    """Read points → the files read (INPUTS)."""
    return schema.conform([i for p in points for i in p.inputs], schema.INPUTS)


def _read_all(points: list[_Point]) -> pd.DataFrame:
    """Points → one FLOW_BASE frame (several points merged: one connection is one flow)."""
    frames = [p.read() for p in points]
    if len(frames) == 1:
        return frames[0]  # conformed already by build_flows
    return schema.conform(pd.DataFrame(merge_points(frames)), schema.FLOW_BASE)


def assemble(
    paths: Sequence[str],
    *,
    payload_bytes: int = 16384,
    strict: bool = False,
    progress: Callable[[int, int], None] | None = None,
    trim_tls: bool = True,
) -> Assembled:
    """Capture paths → flows with the first ``payload_bytes`` of each direction reassembled.

    Files whose time ranges chain (rotated captures) form one capture point and are read in
    time order with flows stitched across them; files that overlap in time are separate
    points, assembled independently and then merged by ``classifier.flows.merge.merge_points``.
    ``progress(bytes_done, bytes_total)`` is called as the files are read. Flows are in
    creation order (the order of their first packets, point by point).

    Payload policy: each direction keeps at most ``payload_bytes`` (plaintext HTTP, DNS,
    unknown protocols, directions seen without their SYN). A TCP direction whose bytes from the
    SYN on form a TLS record stream stops at the end of its first ChangeCipherSpec or
    ApplicationData record: the dissectors read nothing beyond it (everything after is
    encrypted), so the prefix shrinks to the handshake without changing any dissection;
    ``trim_tls=False`` keeps the whole ``payload_bytes`` of TLS directions too.
    Gaps up to ``payload_bytes`` still count toward ``missed_bytes``.
    Raises CaptureError for a missing/unreadable/non-capture input; with ``strict`` raises
    MalformedPacketError at the first damaged record.
    """
    points = _points(paths, payload_bytes, strict, progress, want_index=False, trim_tls=trim_tls)
    flows = _read_all(points)
    return Assembled(flows=flows, stats=_stats(points), inputs=_inputs(points))


class FlowStream:
    """Capture paths → the same flows as ``assemble``, as FLOW_BASE frames handed on while the
    read goes on, each holding flows that had finished (see FlowTable): a table of any length
    in memory bounded by the flows live at a time. Flows are in creation order within a frame,
    frames in the order their flows finished. Several capture points are merged at the end
    (one frame). Iterate once; ``stats`` and ``inputs`` are complete afterwards.
    Raises as ``assemble`` does (CaptureError at construction for unreadable inputs)."""

    def __init__(self, paths: Sequence[str], *, payload_bytes: int = 16384, strict: bool = False,
                 progress: Callable[[int, int], None] | None = None, trim_tls: bool = True,
                 ) -> None:
        self._points = _points(paths, payload_bytes, strict, progress, want_index=False,
                               trim_tls=trim_tls)

    def __iter__(self) -> Iterator[pd.DataFrame]:
        if len(self._points) > 1:
            yield _read_all(self._points)
            return
        for frame, _ in self._points[0].frames():
            if len(frame):
                yield frame

    @property
    def stats(self) -> pd.DataFrame:
        """Packet accounting (schema.STATS) of what was read so far."""
        return _stats(self._points)

    @property
    def inputs(self) -> pd.DataFrame:
        """The files read so far (schema.INPUTS)."""
        return _inputs(self._points)


def packet_index(
    paths: Sequence[str],
    *,
    strict: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> pd.DataFrame:
    """Capture paths → one row per decoded TCP/UDP packet: capture, frame, uid, ts.

    ``capture`` is the path as given, ``frame`` the 1-based frame number in that file (as
    tshark numbers it), ``uid`` the packet's flow uid (the same uid ``assemble`` gives that
    flow on the same inputs; with several capture points, the uid of the merged flow),
    ``ts`` the capture time (UTC). Packets that were skipped or out of scope have no row.
    Rows are in reading order.
    """
    points = _points(paths, 0, strict, progress, want_index=True)
    frames = [p.read() for p in points]
    parts = [ix for ix in (p.index() for p in points) if len(ix)]
    if not parts:
        return _empty_index()
    index = pd.concat(parts, ignore_index=True)
    if len(points) > 1:
        merged = merge_views(frames)
        index = pd.DataFrame(relabel_index(index, merged.aliases))
    return index


__all__ = ["Assembled", "FlowStream", "assemble", "packet_index"]
