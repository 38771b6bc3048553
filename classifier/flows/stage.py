"""Flow assembly: decoded packets → bidirectional flows with reassembled first bytes.

``assemble`` is the pipeline stage (schema.FLOW_BASE + STATS + INPUTS); ``FlowStream`` gives
the same flows as frames while reading, as they finish (bounded memory); ``packet_index`` maps
every decoded packet to its flow uid for evidence extraction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from pandas._libs.tslibs.nattype import NaTType

from classifier import schema
from classifier.flows.build import build_flows
from classifier.flows.merge import merge_points, merge_views, relabel_index
from classifier.flows.reading import PointReader, PointSource, Progress, open_points
from classifier.flows.table import Finished


@dataclass(frozen=True, slots=True)
class Assembled:
    """The flow stage's output: flows (schema.FLOW_BASE), stats (STATS), inputs (INPUTS)."""

    flows: pd.DataFrame
    stats: pd.DataFrame
    inputs: pd.DataFrame


class _Point:
    """One capture point's read (in this process or a forked one) → its flow frames (each
    FLOW_BASE, flows in creation order within a frame) handed on as they finish; the
    accounting (``stats``, ``inputs``) and the packet index are complete once the stream is."""

    def __init__(self, source: PointSource) -> None:
        self.source = source
        self.paths = source.paths
        self._uids: list[tuple[np.ndarray, np.ndarray]] = []

    @property
    def stats(self) -> list[dict[str, object]]:
        return self.source.stats

    @property
    def inputs(self) -> list[dict[str, object]]:
        """The files read, their first/last timestamps as UTC Timestamps (NaT when none)."""
        return [{**r, "first_ts": _utc(r["first_ts"]), "last_ts": _utc(r["last_ts"])}
                for r in self.source.inputs]

    def frames(self) -> Iterator[tuple[pd.DataFrame, np.ndarray]]:
        """Reads the point's files → its flow frames (the last one when the read is over),
        each with its flows' creation numbers."""
        for done in self.source.finished():
            yield self._build(done)

    def _build(self, done: Finished) -> tuple[pd.DataFrame, np.ndarray]:
        flows, uids = build_flows(done, self.paths, self.paths[0])
        gid = done.f["gid"]
        if isinstance(self.source, PointReader) and self.source.want_index:
            self._uids.append((gid, uids))
        return flows, gid

    def index(self) -> pd.DataFrame:
        """After the stream: one row per decoded TCP/UDP packet (capture, frame, uid, ts)."""
        parts = self.source.index if isinstance(self.source, PointReader) else []
        if not parts:
            return _empty_index()
        gid = np.concatenate([g for g, _ in self._uids])
        uid_of = np.empty(int(gid.max()) + 1 if gid.shape[0] else 0, dtype=object)
        for g, u in self._uids:
            uid_of[g] = u
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


def _utc(ns: object) -> pd.Timestamp | NaTType:
    return pd.NaT if ns is None else pd.Timestamp(ns, tz="UTC")


def _empty_index() -> pd.DataFrame:
    return pd.DataFrame({"capture": pd.Series([], dtype=object),
                         "frame": pd.Series([], dtype="uint64"),
                         "uid": pd.Series([], dtype=object),
                         "ts": pd.Series([], dtype=schema.UTC_TS)})


def _points(paths: Sequence[str], payload_bytes: int, strict: bool, progress: Progress | None,
            want_index: bool, trim_tls: bool = True, process: bool = False) -> list[_Point]:
    return [_Point(src) for src in open_points(paths, payload_bytes, strict, progress,
                                               want_index=want_index, trim_tls=trim_tls,
                                               process=process)]


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
    Raises as ``assemble`` does (CaptureError at construction for unreadable inputs).

    With ``reader_process`` a single capture point is read in a forked child process
    (``classifier.flows.worker``) that starts at construction, while this process goes on;
    the frames are the same. ``open_points`` followed by ``FlowStream.of(points)`` starts it
    before this module (and pandas) is imported."""

    def __init__(self, paths: Sequence[str], *, payload_bytes: int = 16384, strict: bool = False,
                 progress: Callable[[int, int], None] | None = None, trim_tls: bool = True,
                 reader_process: bool = False) -> None:
        self._points = _points(paths, payload_bytes, strict, progress, want_index=False,
                               trim_tls=trim_tls, process=reader_process)

    @classmethod
    def of(cls, sources: Sequence[PointSource]) -> FlowStream:
        """Points opened by ``classifier.flows.reading.open_points`` → their stream."""
        stream = cls.__new__(cls)
        stream._points = [_Point(src) for src in sources]
        return stream

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
