"""Test helpers: dissect a capture end to end, and tshark's view of the same flows."""

from __future__ import annotations

import subprocess
from functools import lru_cache
from pathlib import Path

from classifier.dissect import Dissection, dissect
from tests.dissect.streams import flow_frame


def endpoints_key(h1: str, p1: object, h2: str, p2: object) -> frozenset[str]:
    """Two endpoints → a direction-free key ('addr:port' strings)."""
    return frozenset({f"{h1}:{p1}", f"{h2}:{p2}"})


@lru_cache(maxsize=64)
def dissected(capture: str) -> Dissection:
    """Capture → Dissection, via classifier.flows.assemble (tshark streams if not available)."""
    try:
        from classifier.flows import assemble

        flows = assemble([capture], payload_bytes=16384, strict=False, progress=None).flows
    except NotImplementedError:
        flows = flow_frame(capture)
    return dissect(flows, strict=False)


def by_key(d: Dissection, table: str = "flows") -> dict[frozenset[str], list[dict[str, object]]]:
    """A dissection table → rows grouped by the flow's endpoints key."""
    flows = d.flows
    keys = {r.uid: endpoints_key(r.orig_h, r.orig_p, r.resp_h, r.resp_p)
            for r in flows.itertuples()}
    out: dict[frozenset[str], list[dict[str, object]]] = {}
    frame = getattr(d, table)
    for row in frame.to_dict("records"):
        out.setdefault(keys[row["uid"]], []).append(row)
    return out


def tshark_rows(capture: Path | str, fields: list[str], display_filter: str,
                decode_as: list[str] | None = None) -> list[tuple[frozenset[str], list[str]]]:
    """tshark → [(endpoints key, [field values...])] for packets matching the filter.

    Multi-occurrence fields come back joined with the separator '|'.
    """
    cmd = ["tshark", "-n", "-r", str(capture), "-Y", display_filter, "-T", "fields",
           "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"]
    for d in decode_as or []:
        cmd += ["-d", d]
    for f in ["ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport", *fields]:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=120).stdout
    rows = []
    for line in out.splitlines():
        v = line.split("\t")
        src = v[0] or v[1]
        dst = v[3] or v[4]
        rows.append((endpoints_key(src.split("|")[-1], v[2], dst.split("|")[-1], v[5]), v[6:]))
    return rows
