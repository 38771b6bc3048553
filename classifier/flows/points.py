"""Capture points: several files → groups of time-contiguous files (rotated tcpdump -C/-G
output from one vantage point); files that overlap in time are separate points."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from classifier.ingest.reader import CaptureReader


@dataclass(frozen=True, slots=True)
class Span:
    """A file's time range (ns; None when it holds no timestamped packet)."""

    index: int
    path: str
    first: int | None
    last: int | None


def scan_span(index: int, path: str) -> Span:
    """Read only record headers of a file → its time range (not hashed: the read proper
    hashes it)."""
    r = CaptureReader(path, hashed=False)
    for _ in r.batches():
        pass
    return Span(index, path, r.first_ts, r.last_ts)


def _prefix_len(a: str, b: str) -> int:
    a, b = os.path.basename(a), os.path.basename(b)
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def group_points(spans: Sequence[Span]) -> list[list[int]]:
    """File spans → capture points (lists of file indexes in time order).

    Files are taken by start time; a file joins an existing point when it starts at or after
    that point's end (ties broken by the longest common file-name prefix, then the smallest
    gap), otherwise it opens a new point. Files without packets join the first point.
    """
    timed = sorted((s for s in spans if s.first is not None), key=lambda s: (s.first, s.index))
    points: list[list[Span]] = []
    for s in timed:
        assert s.first is not None
        fits = [p for p in points if p[-1].last is not None and s.first >= p[-1].last]
        if fits:
            best = max(fits, key=lambda p: (_prefix_len(p[-1].path, s.path),
                                            p[-1].last or 0))
            best.append(s)
        else:
            points.append([s])
    out = [[s.index for s in p] for p in points]
    empty = [s.index for s in spans if s.first is None]
    if empty:
        if out:
            out[0].extend(empty)
        else:
            out.append(empty)
    return out
