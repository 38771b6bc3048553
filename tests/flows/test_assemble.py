"""Flow semantics: originator, Zeek conn_state/history, reassembly, reuse, timeouts, uids."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from classifier import schema
from classifier.flows import assemble, packet_index
from tests.ingest import craft
from tests.ingest.accounting import balanced

T0 = 1_700_000_000.0
C, S = "10.0.0.1", "10.0.0.2"


def tcp(src: str, dst: str, sport: int, dport: int, flags: str, seq: int, ack: int = 0,
        load: bytes = b"") -> bytes:
    return bytes(Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags,
                                                      seq=seq, ack=ack) / load)


def session(cport: int = 40000, cisn: int = 1000, sisn: int = 5000, t: float = T0,
            req: bytes = b"GET / HTTP/1.1\r\n\r\n", resp: bytes = b"HTTP/1.1 200 OK\r\n\r\n",
            ) -> list[tuple[float, bytes]]:
    """A complete TCP session: handshake, one request/response, FIN both ways."""
    c, s = cisn + 1, sisn + 1
    pk = [tcp(C, S, cport, 80, "S", cisn), tcp(S, C, 80, cport, "SA", sisn, c),
          tcp(C, S, cport, 80, "A", c, s), tcp(C, S, cport, 80, "PA", c, s, req),
          tcp(S, C, 80, cport, "A", s, c + len(req)),
          tcp(S, C, 80, cport, "PA", s, c + len(req), resp),
          tcp(C, S, cport, 80, "FA", c + len(req), s + len(resp)),
          tcp(S, C, 80, cport, "FA", s + len(resp), c + len(req) + 1),
          tcp(C, S, cport, 80, "A", c + len(req) + 1, s + len(resp) + 1)]
    return [(t + i * 0.001, p) for i, p in enumerate(pk)]


def run(tmp_path: Path, records: list[tuple[float, bytes]], **kw: int | bool) -> pd.DataFrame:
    p = craft.write_pcap(tmp_path / "f.pcap", records)
    a = assemble([str(p)], **kw)  # type: ignore[arg-type]
    balanced(a)
    assert list(a.flows.columns) == schema.FLOW_BASE.names
    assert a.flows.dtypes.astype(str).to_dict() == schema.FLOW_BASE.dtypes
    return a.flows


def test_complete_session_is_zeek_sf(tmp_path: Path) -> None:
    f = run(tmp_path, session())
    assert len(f) == 1
    r = f.iloc[0]
    assert (r["orig_h"], r["orig_p"], r["resp_h"], r["resp_p"]) == (C, 40000, S, 80)
    assert (r["conn_state"], r["history"], bool(r["orig_guessed"])) == ("SF", "ShADadFf", False)
    assert (r["orig_pkts"], r["resp_pkts"], r["orig_bytes"], r["resp_bytes"]) == (5, 4, 18, 19)
    assert (r["orig_isn"], r["resp_isn"]) == (1000, 5000)
    assert r["orig_payload"] == b"GET / HTTP/1.1\r\n\r\n"
    assert r["resp_payload"] == b"HTTP/1.1 200 OK\r\n\r\n"
    assert r["uid"].startswith("C") and len(r["uid"]) == 18
    assert (r["first_frame"], r["last_frame"], r["missed_bytes"]) == (1, 9, 0)
    assert r["orig_ip_bytes"] == 5 * 40 + 18


def test_states_s0_rej_and_midstream(tmp_path: Path) -> None:
    recs = [(T0, tcp(C, S, 1, 22, "S", 10)),
            (T0 + 1, tcp(C, S, 2, 23, "S", 10)), (T0 + 1.1, tcp(S, C, 23, 2, "RA", 0, 11)),
            (T0 + 2, tcp(S, C, 443, 3, "PA", 99, 7, b"x")), (T0 + 2.1, tcp(C, S, 3, 443, "A", 7, 100))]
    f = run(tmp_path, recs).set_index("orig_p")
    assert f.loc[1, "conn_state"] == "S0" and f.loc[1, "history"] == "S"
    assert f.loc[2, "conn_state"] == "REJ" and f.loc[2, "history"] == "Sr"
    mid = f.loc[443]
    assert (mid["conn_state"], bool(mid["orig_guessed"]), mid["orig_h"]) == ("OTH", True, S)


def test_synack_first_makes_its_receiver_the_originator(tmp_path: Path) -> None:
    recs = [(T0, tcp(S, C, 80, 40000, "SA", 5000, 1001)), (T0 + 0.1, tcp(C, S, 40000, 80, "A", 1001, 5001))]
    r = run(tmp_path, recs).iloc[0]
    assert (r["orig_h"], r["orig_p"], bool(r["orig_guessed"])) == (C, 40000, False)


def test_clienthello_over_three_segments_out_of_order_with_retransmission(tmp_path: Path) -> None:
    hello = bytes(range(256)) * 7  # 1792 bytes, like a Go >= 1.24 ClientHello with ML-KEM
    a, b, c = hello[:600], hello[600:1200], hello[1200:]
    base = 1001
    recs = [(T0, tcp(C, S, 40000, 443, "S", 1000)), (T0 + 0.01, tcp(S, C, 443, 40000, "SA", 7000, base)),
            (T0 + 0.02, tcp(C, S, 40000, 443, "A", base, 7001)),
            (T0 + 0.03, tcp(C, S, 40000, 443, "PA", base + 1200, 7001, c)),   # third first
            (T0 + 0.04, tcp(C, S, 40000, 443, "PA", base, 7001, a)),
            (T0 + 0.05, tcp(C, S, 40000, 443, "PA", base, 7001, a)),          # retransmission
            (T0 + 0.06, tcp(C, S, 40000, 443, "PA", base + 600, 7001, b))]
    r = run(tmp_path, recs).iloc[0]
    assert r["orig_payload"] == hello
    assert r["missed_bytes"] == 0
    assert "T" in r["history"] and r["orig_bytes"] == len(hello)


def test_gap_stops_the_prefix_and_counts_missed_bytes(tmp_path: Path) -> None:
    recs = [(T0, tcp(C, S, 40000, 80, "S", 0)), (T0 + 0.01, tcp(C, S, 40000, 80, "PA", 1, 0, b"a" * 100)),
            (T0 + 0.02, tcp(C, S, 40000, 80, "PA", 151, 0, b"b" * 100))]
    r = run(tmp_path, recs).iloc[0]
    assert r["orig_payload"] == b"a" * 100 and r["missed_bytes"] == 50


def test_payload_bytes_limit(tmp_path: Path) -> None:
    recs = session(req=b"q" * 3000)
    r = run(tmp_path, recs, payload_bytes=1000).iloc[0]
    assert r["orig_payload"] == b"q" * 1000
    r = run(tmp_path, recs, payload_bytes=0).iloc[0]
    assert r["orig_payload"] == b"" and r["orig_bytes"] == 3000


def test_reused_five_tuple_after_close_is_a_new_flow(tmp_path: Path) -> None:
    recs = session(cisn=1000) + session(cisn=900000, sisn=77, t=T0 + 10)
    f = run(tmp_path, recs)
    assert len(f) == 2 and f["uid"].nunique() == 2
    assert list(f["conn_state"]) == ["SF", "SF"] and list(f["orig_isn"]) == [1000, 900000]
    assert list(f["first_frame"]) == [1, 10]


def test_udp_idle_timeout_and_orientation(tmp_path: Path) -> None:
    def dns(src: str, dst: str, sp: int, dp: int, t: float) -> tuple[float, bytes]:
        return t, bytes(Ether() / IP(src=src, dst=dst) / UDP(sport=sp, dport=dp) / b"abcd")
    recs = [dns(C, S, 5000, 53, T0), dns(S, C, 53, 5000, T0 + 0.1), dns(C, S, 5000, 53, T0 + 500)]
    f = run(tmp_path, recs)
    assert len(f) == 2
    assert list(f["conn_state"]) == ["SF", "S0"]
    assert list(f["history"]) == ["Dd", "D"]
    assert f.iloc[0]["orig_payload"] == b"abcd" and f.iloc[0]["resp_payload"] == b"abcd"
    assert bool(f.iloc[0]["orig_guessed"])


def test_uids_are_deterministic_and_packet_index_agrees(tmp_path: Path) -> None:
    recs = session() + session(cport=40001, t=T0 + 1)
    p = craft.write_pcap(tmp_path / "d.pcap", recs)
    one = assemble([str(p)]).flows
    two = assemble([str(p)]).flows
    assert list(one["uid"]) == list(two["uid"])
    idx = packet_index([str(p)])
    assert list(idx.columns) == ["capture", "frame", "uid", "ts"]
    assert len(idx) == 18 and set(idx["uid"]) == set(one["uid"])
    assert list(idx["frame"][:3]) == [1, 2, 3]
    counts = idx.groupby("uid").size()
    assert (counts == 9).all()


def test_burst_interval(tmp_path: Path) -> None:
    recs = [(T0, tcp(C, S, 40000, 80, "S", 0))]
    for k in range(5):
        recs.append((T0 + 1 + 10 * k, tcp(C, S, 40000, 80, "PA", 1 + k, 0, b"h")))
    r = run(tmp_path, recs).iloc[0]
    assert r["orig_burst_interval"] == 10.0


def test_rotated_files_are_one_point_overlapping_files_are_two(tmp_path: Path) -> None:
    recs = session()
    first = craft.write_pcap(tmp_path / "cap.pcap0", recs[:4])
    second = craft.write_pcap(tmp_path / "cap.pcap1", recs[4:])
    a = assemble([str(second), str(first)])
    balanced(a)
    assert len(a.flows) == 1
    r = a.flows.iloc[0]
    assert (r["orig_pkts"], r["resp_pkts"], r["conn_state"]) == (5, 4, "SF")
    assert r["captures"] == f"{first}|{second}" and r["capture"] == str(first)
    assert r["last_frame"] == 5 and r["capture_points"] == str(first)
    other = craft.write_pcap(tmp_path / "node2.pcap", session(cport=41000))
    b = assemble([str(first), str(second), str(other)])
    balanced(b)
    assert set(b.flows["capture_points"]) <= {str(first), str(other), f"{first}|{other}"}
    assert len(b.inputs) == 3


def test_packet_index_uids_match_assemble_across_points(tmp_path: Path) -> None:
    a_recs = session()
    b_recs = [(t + 0.0005, p) for t, p in session()]  # the same connection seen by a 2nd node
    a = craft.write_pcap(tmp_path / "node1.pcap", a_recs)
    b = craft.write_pcap(tmp_path / "node2.pcap", b_recs)
    flows = assemble([str(a), str(b)]).flows
    idx = packet_index([str(a), str(b)])
    assert set(idx["uid"]) == set(flows["uid"])
    assert len(idx) == 18
