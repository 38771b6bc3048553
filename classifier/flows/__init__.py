"""Flow assembly: decoded packets → bidirectional flows with reassembled first bytes.

``assemble`` is the pipeline stage (schema.FLOW_BASE + STATS + INPUTS); ``packet_index`` maps
every decoded packet to its flow uid for evidence extraction.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from classifier import schema
from classifier.errors import CaptureError, MalformedPacketError
from classifier.flows.build import build_flows
from classifier.flows.merge import merge_points, merge_views, relabel_index
from classifier.flows.points import group_points, scan_span
from classifier.flows.table import FlowTable
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


@dataclass(slots=True)
class _PointResult:
    flows: pd.DataFrame
    stats: list[dict[str, object]]
    inputs: list[dict[str, object]]
    index: pd.DataFrame | None


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


def _read_point(paths: Sequence[str], label: str, payload_bytes: int, strict: bool,
                prog: _Progress, want_index: bool) -> _PointResult:
    """The files of one capture point, in time order → its flows, stats, inputs (+ index)."""
    table = FlowTable(payload_bytes)
    stats: list[dict[str, object]] = []
    inputs: list[dict[str, object]] = []
    idx_parts: list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] = []
    for fi, path in enumerate(paths):
        reader = CaptureReader(path, strict=strict, progress=prog.file_callback())
        counts = np.zeros(512, np.int64)
        for b in reader.batches():
            pk = decode(b.buf, b.off, b.caplen, b.linktype, b.reason)
            if strict:
                _raise_first_malformed(path, pk.reason, b.frame)
            pf = table.feed(b.buf, b.ts, b.frame, pk, fi)
            counts += np.bincount(pk.reason, minlength=512)[:512]
            if want_index:
                ok = pf >= 0
                idx_parts.append((fi, b.frame[ok], pf[ok], b.ts[ok]))
        prog.file_done(reader.size)
        for code in np.flatnonzero(counts).tolist():
            stats.append({"capture": path, "outcome": outcome(code), "reason": reason_name(code),
                          "packets": int(counts[code])})
        inputs.append({
            "capture": path, "format": reader.format, "size": reader.size,
            "sha256": reader.sha256,
            "link_types": ",".join(LINKTYPE_NAMES.get(x, f"linktype_{x}")
                                   for x in sorted(reader.link_types)),
            "packets": reader.records,
            "first_ts": pd.NaT if reader.first_ts is None else pd.Timestamp(reader.first_ts, tz="UTC"),
            "last_ts": pd.NaT if reader.last_ts is None else pd.Timestamp(reader.last_ts, tz="UTC"),
        })
    flows, uids = build_flows(table, paths, label)
    index = None
    if want_index:
        if idx_parts:
            index = pd.DataFrame({
                "capture": np.concatenate([np.full(len(fr), paths[fi], dtype=object)
                                           for fi, fr, _, _ in idx_parts]),
                "frame": np.concatenate([fr for _, fr, _, _ in idx_parts]).astype("uint64"),
                "uid": uids[np.concatenate([pf for _, _, pf, _ in idx_parts])],
                "ts": pd.to_datetime(np.concatenate([t for _, _, _, t in idx_parts]), unit="ns",
                                     utc=True),
            })
        else:
            index = _empty_index()
    return _PointResult(flows, stats, inputs, index)


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


def _run(paths: Sequence[str], payload_bytes: int, strict: bool, progress: Progress | None,
         want_index: bool) -> list[_PointResult]:
    points = _plan(paths)
    total = sum(os.stat(p).st_size if p != "-" and os.path.isfile(p) else 0
                for pt in points for p in pt)
    prog = _Progress(progress, total)
    return [_read_point(pt, pt[0], payload_bytes, strict, prog, want_index) for pt in points]


def assemble(
    paths: Sequence[str],
    *,
    payload_bytes: int = 16384,
    strict: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Assembled:
    """Capture paths → flows with the first ``payload_bytes`` of each direction reassembled.

    Files whose time ranges chain (rotated captures) form one capture point and are read in
    time order with flows stitched across them; files that overlap in time are separate
    points, assembled independently and then merged by ``classifier.flows.merge.merge_points``.
    ``progress(bytes_done, bytes_total)`` is called as the files are read.

    Payload policy: each direction keeps at most ``payload_bytes`` (plaintext HTTP, DNS,
    unknown protocols, directions seen without their SYN). A TCP direction whose bytes from the
    SYN on form a TLS record stream stops at the end of its first ChangeCipherSpec or
    ApplicationData record: the dissectors read nothing beyond it (everything after is
    encrypted), so the prefix shrinks to the handshake without changing any dissection.
    Gaps up to ``payload_bytes`` still count toward ``missed_bytes``.
    Raises CaptureError for a missing/unreadable/non-capture input; with ``strict`` raises
    MalformedPacketError at the first damaged record.
    """
    results = _run(paths, payload_bytes, strict, progress, want_index=False)
    frames = [r.flows for r in results]
    flows = frames[0] if len(frames) == 1 else _merge(frames)
    stats = schema.conform([s for r in results for s in r.stats], schema.STATS) if any(
        r.stats for r in results) else schema.empty(schema.STATS)
    inputs = schema.conform([i for r in results for i in r.inputs], schema.INPUTS)
    if len(frames) > 1:  # one point's frame is conformed already by build_flows
        flows = schema.conform(flows, schema.FLOW_BASE)
    return Assembled(flows=flows, stats=stats, inputs=inputs)


def _merge(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Per-capture-point flow tables → one table (the same connection at two points is one flow)."""
    return pd.DataFrame(merge_points(frames))


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
    results = _run(paths, 0, strict, progress, want_index=True)
    parts = [r.index for r in results if r.index is not None and len(r.index)]
    if not parts:
        return _empty_index()
    index = pd.concat(parts, ignore_index=True)
    if len(results) > 1:
        merged = merge_views([r.flows for r in results])
        index = pd.DataFrame(relabel_index(index, merged.aliases))
    return index


__all__ = ["Assembled", "assemble", "packet_index"]
