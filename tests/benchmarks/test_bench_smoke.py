"""The benchmark generator writes a valid, realistic capture (tshark is the oracle); no timing."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from benchmarks import generate
from tests import tshark as ts

ROOT = Path(__file__).resolve().parents[2]
SCALE = 0.01  # 0.6 s of the modelled cluster: ~20k packets


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> generate.Stats:
    return generate.generate(tmp_path_factory.mktemp("bench") / "small.pcap", scale=SCALE)


def test_packet_count_and_conversations_match_tshark(small: generate.Stats, tshark: str) -> None:
    rows = ts.fields(small.path, ["frame.number", "tcp.stream", "udp.stream", "frame.protocols"])
    assert len(rows) == small.packets > 10_000
    tcp_streams = {r[1] for r in rows if r[1]}
    udp_streams = {r[2] for r in rows if r[2]}
    # A client port reused for a second connection is one 5-tuple but two tshark streams.
    assert small.tcp_tuples <= len(tcp_streams) <= small.tcp_flows
    assert len(udp_streams) == small.udp_flows
    protos = {p for r in rows for p in r[3].split(":")}
    assert {"eth", "ip", "tcp", "udp", "tls", "http", "dns", "x509sat"} <= protos


def test_checksums_valid_and_nothing_malformed(small: generate.Stats, tshark: str) -> None:
    bad = ts.fields(small.path, ["frame.number"], extra=[
        "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
        "-o", "udp.check_checksum:TRUE"],
        display_filter="ip.checksum.status == 0 || tcp.checksum.status == 0 || "
                       "udp.checksum.status == 0 || _ws.malformed || tcp.analysis.lost_segment || "
                       "tcp.analysis.ack_lost_segment || tcp.analysis.out_of_order")
    assert bad == []


def test_tcp_sessions_have_handshakes_and_teardowns(small: generate.Stats, tshark: str) -> None:
    rows = ts.fields(small.path, ["tcp.flags.str"], display_filter="tcp")
    flags = Counter(r[0] for r in rows)
    syn = sum(v for k, v in flags.items() if "S" in k and "A" not in k)
    synack = sum(v for k, v in flags.items() if "S" in k and "A" in k)
    fin = sum(v for k, v in flags.items() if "F" in k)
    rst = sum(v for k, v in flags.items() if "R" in k)
    assert syn > synack > 0 and fin > 0 and rst > 0  # refused and unanswered SYNs, RST teardowns


def test_tls_handshakes_are_real(small: generate.Stats, tshark: str) -> None:
    hello = ts.fields(small.path, ["tcp.dstport", "tls.handshake.extensions_server_name",
                                   "tls.handshake.extensions_alpn_str"],
                      display_filter="tls.handshake.type == 1")
    assert any(r[1] == "kubernetes.default.svc" and r[2] == "h2,http/1.1" for r in hello)
    ports = {r[0] for r in hello}
    assert {"443", "6443", "10250"} <= ports
    certs = ts.fields(small.path, ["x509sat.uTF8String"], display_filter="tls.handshake.type == 11")
    names = {n for r in certs for n in r[0].split(",")}
    assert "kube-apiserver" in names


def test_plaintext_http_and_dns(small: generate.Stats, tshark: str) -> None:
    reqs = ts.fields(small.path, ["tcp.dstport", "http.request.method", "http.request.uri"],
                     display_filter="http.request", extra=["-d", "tcp.port==10255,http",
                                                           "-d", "tcp.port==10256,http"])
    uris = {r[2] for r in reqs}
    assert all(r[1] == "GET" for r in reqs)
    assert {"/healthz", "/metrics"} & uris and {"8080", "10255"} <= {r[0] for r in reqs}
    dns = ts.fields(small.path, ["dns.qry.name"], display_filter="dns.flags.response == 1")
    assert dns and all(r[0].endswith((".cluster.local", ".example.com")) for r in dns)


def test_deterministic(small: generate.Stats, tmp_path: Path) -> None:
    again = generate.generate(tmp_path / "again.pcap", scale=SCALE)
    assert again.path.read_bytes() == small.path.read_bytes()


def test_longer_capture_scales_packets_and_flows(small: generate.Stats, tmp_path: Path) -> None:
    longer = generate.generate(tmp_path / "longer.pcap", scale=SCALE * 4)
    assert 3.5 * small.packets < longer.packets < 4.5 * small.packets
    assert longer.udp_flows == 4 * small.udp_flows  # short flows: 4× as many
    assert longer.tcp_flows > 2 * small.tcp_flows  # (the ~90 long-lived ones stay the same)


@pytest.mark.slow
def test_harness_reports_every_tool(small: generate.Stats, tmp_path: Path) -> None:
    """run.py on the small file: every tool is measured or named missing with a reason."""
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "run.py"), "--file",
                           str(small.path), "--no-4x", "--scapy-limit", "300", "--json", str(out)],
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    res = json.loads(out.read_text())
    tools = {r["tool"]: r for r in res["runs"]}
    assert {"tshark -z conv,tcp", "dpkt loop", "scapy PcapReader", "nfstream"} <= set(tools)
    for r in tools.values():
        assert r["missing"] or (r["seconds"] > 0 and r["rss_mb"] > 0), r
    dpkt = tools["dpkt loop"]
    if not dpkt["missing"]:
        assert dpkt["out"]["packets"] == small.packets
    api = tools["kubewire assemble (API)"]
    if not api["missing"]:
        assert api["out"]["packets"] == small.packets
    assert len(res["targets"]) == 5
    for r in tools.values():
        if not r["missing"] and r["tool"] not in ("cat (page cache)",
                                                   "kubewire assemble+dissect (API)"):
            assert len(r["out"]["walls"]) == 3, r  # default: 3 rounds, every tool in each


def test_target_ratio_pairs_rounds() -> None:
    """The target ratio is the median of per-round ratios, so a slow round for every tool
    alike does not move it; without rounds it is the ratio of the medians."""
    from benchmarks.run import Run, median_run, paired_ratio

    kw = median_run([Run("kw", wall_s=w, seconds=w, out={}) for w in (1.0, 2.0, 1.1)])
    peer = median_run([Run("peer", wall_s=w, seconds=w, out={}) for w in (10.0, 20.0, 11.0)])
    assert kw.out["walls"] == [1.0, 2.0, 1.1] and kw.seconds == 1.1
    assert paired_ratio(peer, kw) == pytest.approx(10.0)
    lone = Run("peer", wall_s=9.0, seconds=9.0, out={"walls": [9.0]})
    assert paired_ratio(lone, kw) == pytest.approx(9.0 / 1.1)
