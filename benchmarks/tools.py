"""One benchmarked tool per call, run in its own process by run.py: TOOL FILE → one JSON line.

    python benchmarks/tools.py kubewire-api FILE
    python benchmarks/tools.py scapy FILE --limit 50000

The JSON line holds what the tool found (packets, flows) and ``work_s``, the time spent on the
work itself (imports and interpreter start-up excluded); run.py measures the whole process too.
A tool that cannot run prints {"missing": "reason"} and exits 3.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

Result = dict[str, Any]


def kubewire_api(path: str, limit: int, payload_bytes: int = 16384) -> Result:
    """classifier.flows.assemble: the flow table alone."""
    from classifier.flows import assemble

    t, c = time.perf_counter(), time.process_time()
    a = assemble([path], payload_bytes=payload_bytes)
    work, cpu = time.perf_counter() - t, time.process_time() - c
    packets = int(a.stats["packets"].sum())
    return {"work_s": work, "work_cpu_s": cpu, "packets": packets, "flows": len(a.flows),
            "table_mb": float(a.flows.memory_usage(deep=True).sum()) / 1e6}


def kubewire_dissect(path: str, limit: int) -> Result:
    """assemble, then classifier.dissect.dissect: the dissection share of the flow-table time."""
    from classifier.dissect import dissect
    from classifier.flows import assemble

    t, c = time.perf_counter(), time.process_time()
    a = assemble([path])
    t_flows, c_flows = time.perf_counter() - t, time.process_time() - c
    t, c = time.perf_counter(), time.process_time()
    d = dissect(a.flows)
    t_dissect, c_dissect = time.perf_counter() - t, time.process_time() - c
    protos = d.flows["app_proto"].astype("string").fillna("NA").value_counts().to_dict()
    return {"work_s": t_flows + t_dissect, "flows_s": t_flows, "dissect_s": t_dissect,
            "flows_cpu_s": c_flows, "dissect_cpu_s": c_dissect,
            "packets": int(a.stats["packets"].sum()), "flows": len(a.flows),
            "app_proto": {str(k): int(v) for k, v in protos.items()}}


def kubewire_ingest(path: str, limit: int) -> Result:
    """The capture reader + packet decoder alone (no flow table): where the time goes."""
    from classifier.ingest import CaptureReader, decode

    t = time.perf_counter()
    n = 0
    for b in CaptureReader(path).batches():
        decode(b.buf, b.off, b.caplen, b.linktype, b.reason)
        n += len(b)
    return {"work_s": time.perf_counter() - t, "packets": n}


def nfstream(path: str, limit: int) -> Result:
    """nfstream 6.x flow meter to a DataFrame (its documented way)."""
    from nfstream import NFStreamer

    t = time.perf_counter()
    df = NFStreamer(source=path, statistical_analysis=False).to_pandas()
    work = time.perf_counter() - t
    return {"work_s": work, "flows": len(df), "packets": int(df["bidirectional_packets"].sum())}


def dpkt_loop(path: str, limit: int) -> Result:
    """dpkt: parse Ethernet/IPv4/TCP|UDP per packet and count into a bidirectional 5-tuple dict."""
    import dpkt

    t = time.perf_counter()
    flows: dict[tuple[Any, ...], list[int]] = {}
    n = 0
    with open(path, "rb") as f:
        for _ts, buf in dpkt.pcap.Reader(f):
            n += 1
            eth = dpkt.ethernet.Ethernet(buf)
            ip = eth.data
            if not isinstance(ip, dpkt.ip.IP):
                continue
            l4 = ip.data
            if not isinstance(l4, dpkt.tcp.TCP | dpkt.udp.UDP):
                continue
            a, b = (ip.src, l4.sport), (ip.dst, l4.dport)
            key = (ip.p, *a, *b) if a <= b else (ip.p, *b, *a)
            c = flows.get(key)
            if c is None:
                flows[key] = [1, len(l4.data)]
            else:
                c[0] += 1
                c[1] += len(l4.data)
    return {"work_s": time.perf_counter() - t, "packets": n, "flows": len(flows)}


def scapy_slice(path: str, limit: int) -> Result:
    """scapy PcapReader on the first ``limit`` packets, building the same 5-tuple dict."""
    from scapy.layers.inet import IP, TCP, UDP
    from scapy.utils import PcapReader

    t = time.perf_counter()
    flows: dict[tuple[Any, ...], int] = {}
    n = 0
    with PcapReader(path) as r:
        for pkt in r:
            n += 1
            if IP in pkt:
                ip = pkt[IP]
                l4 = ip.getlayer(TCP)
                if l4 is None:
                    l4 = ip.getlayer(UDP)
                if l4 is not None:
                    a, b = (ip.src, l4.sport), (ip.dst, l4.dport)
                    key = (ip.proto, *a, *b) if a <= b else (ip.proto, *b, *a)
                    flows[key] = flows.get(key, 0) + 1
            if n >= limit:
                break
    return {"work_s": time.perf_counter() - t, "packets": n, "flows": len(flows), "slice": n}


TOOLS: dict[str, Callable[[str, int], Result]] = {
    "kubewire-api": kubewire_api, "kubewire-dissect": kubewire_dissect,
    "kubewire-ingest": kubewire_ingest, "nfstream": nfstream, "dpkt": dpkt_loop,
    "scapy": scapy_slice,
}
MODULES = {"nfstream": "nfstream", "dpkt": "dpkt", "scapy": "scapy"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("tool", choices=sorted(TOOLS))
    ap.add_argument("file")
    ap.add_argument("--limit", type=int, default=50_000)
    ap.add_argument("--payload-bytes", type=int, default=16384,
                    help="kubewire-api: prefix bytes kept per direction (0 = none)")
    a = ap.parse_args()
    try:
        if a.tool in MODULES:
            __import__(MODULES[a.tool])
        if a.tool == "kubewire-api":
            out = kubewire_api(a.file, a.limit, a.payload_bytes)
        else:
            out = TOOLS[a.tool](a.file, a.limit)
    except ImportError as e:
        print(json.dumps({"missing": f"not installed: {e}"}))
        return 3
    except NotImplementedError as e:
        print(json.dumps({"missing": f"not implemented yet: {e}"}))
        return 3
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
