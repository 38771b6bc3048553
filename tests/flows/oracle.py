"""tshark's view of a capture's TCP/UDP conversations, frame by frame (the test oracle)."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame as tshark dissects it: innermost transport, its stream, and its source."""

    number: int
    stream: str
    """'tcp:<n>' / 'udp:<n>' for the innermost TCP/UDP layer, '' when there is none."""
    src: str
    """Innermost 'address port' of the sender."""
    ts: float
    protocols: str


FIELDS = ["frame.number", "frame.time_epoch", "frame.protocols", "tcp.stream", "udp.stream",
          "ip.src", "ipv6.src", "tcp.srcport", "udp.srcport"]


def frames(capture: Path | str) -> list[Frame]:
    """Capture → tshark's per-frame streams (VXLAN also decoded on flannel's UDP 8472)."""
    cmd = ["tshark", "-n", "-r", str(capture), "-d", "udp.port==8472,vxlan",
           "-T", "fields", "-E", "separator=\t", "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300).stdout
    result = []
    for line in out.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        num, ts, protos, tcs, ucs, ip4, ip6, tport, uport = cols
        layers = protos.split(":")
        transports = [x for x in layers if x in ("tcp", "udp")]
        ips = [x for x in layers if x in ("ip", "ipv6")]
        stream = src = ""
        if transports and "icmp" not in layers and "icmpv6" not in layers:
            last = transports[-1]
            ids = (tcs if last == "tcp" else ucs).split(",")
            ports = (tport if last == "tcp" else uport).split(",")
            if ids[-1] and ips:
                stream = f"{last}:{ids[-1]}"
                addr = (ip4 if ips[-1] == "ip" else ip6).split(",")[-1]
                src = f"{addr} {ports[-1]}"
        result.append(Frame(int(num), stream, src, float(ts or 0), protos))
    return result


def streams(fr: list[Frame]) -> dict[str, list[Frame]]:
    """Frames → their streams (frames without one are left out)."""
    out: dict[str, list[Frame]] = defaultdict(list)
    for f in fr:
        if f.stream:
            out[f.stream].append(f)
    return dict(out)
