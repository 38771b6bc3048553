"""Test helper: tshark's 'follow,tcp,raw' → each TCP stream's bytes per direction.

Used to feed dissectors real bytes independently of classifier.flows.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Stream:
    """One TCP stream: tshark's stream index, node 0 (first sender) and node 1, bytes each way."""

    index: int
    node0: str
    node1: str
    data0: bytes
    data1: bytes


def tcp_streams(capture: Path | str, *, decode_as: list[str] | None = None) -> list[Stream]:
    """Capture → every TCP stream with its bytes per direction (node 0 = first packet's sender)."""
    base = ["tshark", "-n", "-r", str(capture)]
    for d in decode_as or []:
        base += ["-d", d]
    ids = subprocess.run([*base, "-T", "fields", "-e", "tcp.stream", "-Y", "tcp"],
                         capture_output=True, text=True, check=True, timeout=120).stdout.split()
    indices = sorted({int(i) for i in ids if i})
    if not indices:
        return []
    cmd = [*base, "-q"]
    for i in indices:
        cmd += ["-z", f"follow,tcp,raw,{i}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=120).stdout
    streams: list[Stream] = []
    for block in out.split("=" * 67)[1:]:
        lines = block.splitlines()
        if not any(line.startswith("Filter: tcp.stream eq") for line in lines):
            continue
        idx = int(next(x for x in lines if x.startswith("Filter:")).rsplit(" ", 1)[1])
        node0 = next(x for x in lines if x.startswith("Node 0:")).split(": ", 1)[1]
        node1 = next(x for x in lines if x.startswith("Node 1:")).split(": ", 1)[1]
        d0, d1 = bytearray(), bytearray()
        for line in lines:
            if line.startswith("\t"):
                d1 += bytes.fromhex(line.strip())
            elif line and all(c in "0123456789abcdef" for c in line):
                d0 += bytes.fromhex(line)
        streams.append(Stream(idx, node0, node1, bytes(d0), bytes(d1)))
    return sorted(streams, key=lambda s: s.index)


def flow_frame(capture: Path | str, streams: list[Stream] | None = None) -> pd.DataFrame:
    """Capture → a FLOW_BASE-conformed frame with tshark-reassembled payloads (node 0 = orig)."""
    import pandas as pd

    from classifier import schema

    rows = []
    for s in streams if streams is not None else tcp_streams(capture):
        oh, op = s.node0.rsplit(":", 1)
        rh, rp = s.node1.rsplit(":", 1)
        rows.append({
            "uid": f"C{s.index:017d}", "ts": pd.Timestamp("2024-01-01", tz="UTC")
            + pd.Timedelta(seconds=s.index), "orig_h": oh, "orig_p": int(op), "resp_h": rh,
            "resp_p": int(rp), "proto": "tcp", "capture": str(capture), "first_frame": 1,
            "duration": 0.0, "orig_burst_interval": float("nan"),
            "orig_payload": s.data0, "resp_payload": s.data1,
        })
    return schema.conform(rows or None, schema.FLOW_BASE)
