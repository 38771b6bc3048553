"""Payload early stop: a TLS direction keeps bytes up to its first CCS/ApplicationData record
(unless trim_tls is off)."""

from __future__ import annotations

from pathlib import Path

from classifier.dissect import dissect
from tests.flows.test_assemble import T0, C, S, run, tcp


def rec(ctype: int, body: bytes) -> bytes:
    """One TLS record (RFC 8446 §5.1): type, legacy version 3.3, length, fragment."""
    return bytes([ctype, 3, 3]) + len(body).to_bytes(2, "big") + body


def hs(mtype: int, body: bytes) -> bytes:
    return bytes([mtype]) + len(body).to_bytes(3, "big") + body


HELLO = rec(22, hs(1, b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00"
                   + b"\x00\x00"))
CCS = rec(20, b"\x01")
APP = rec(23, b"\xaa" * 300)


def stream(data: bytes, cuts: list[int], order: list[int] | None = None,
           seq0: int = 1001) -> list[tuple[float, bytes]]:
    """Handshake + the originator's bytes cut at ``cuts`` into segments, sent in ``order``."""
    bounds = [0, *cuts, len(data)]
    segs = [(bounds[k], data[bounds[k]:bounds[k + 1]]) for k in range(len(bounds) - 1)]
    out = [(T0, tcp(C, S, 40000, 443, "S", seq0 - 1)),
           (T0 + 0.01, tcp(S, C, 443, 40000, "SA", 7000, seq0)),
           (T0 + 0.02, tcp(C, S, 40000, 443, "A", seq0, 7001))]
    for j, k in enumerate(order or range(len(segs))):
        off, b = segs[k]
        out.append((T0 + 0.03 + j * 0.01, tcp(C, S, 40000, 443, "PA", seq0 + off, 7001, b)))
    return out


def test_tls_direction_stops_after_first_encrypted_record(tmp_path: Path) -> None:
    data = HELLO + CCS + APP + APP
    r = run(tmp_path, stream(data, [len(HELLO) + 2, len(HELLO) + len(CCS) + 100])).iloc[0]
    assert r["orig_payload"] == HELLO + CCS
    assert r["orig_bytes"] == len(data) and r["missed_bytes"] == 0
    data = HELLO + APP + APP
    r = run(tmp_path, stream(data, [3, len(HELLO) + 1, len(HELLO) + 4])).iloc[0]
    assert r["orig_payload"] == HELLO + APP  # record headers split over segments


def test_gaps_after_the_stop_still_count_as_missed(tmp_path: Path) -> None:
    data = HELLO + APP + APP + APP
    cut = len(HELLO) + len(APP)
    recs = stream(data, [cut, cut + len(APP)], order=[0, 2])
    r = run(tmp_path, recs).iloc[0]
    assert r["orig_payload"] == HELLO + APP and r["missed_bytes"] == len(APP)


def test_not_a_clean_record_stream_keeps_the_cap(tmp_path: Path) -> None:
    data = HELLO + CCS + APP
    out_of_order = stream(data, [len(HELLO)], order=[1, 0])
    r = run(tmp_path, out_of_order).iloc[0]
    assert r["orig_payload"] == data
    bad = HELLO + b"\x63\x03\x03\x00\x01x" + APP  # bad content type: the dissector sees it all
    assert run(tmp_path, stream(bad, [])).iloc[0]["orig_payload"] == bad
    assert run(tmp_path, stream(data, []), payload_bytes=50).iloc[0]["orig_payload"] == data[:50]


def test_dissection_is_the_same_as_with_the_whole_stream(tmp_path: Path) -> None:
    data = HELLO + CCS + APP
    full = run(tmp_path, stream(data, [len(HELLO)], order=[1, 0]))  # out of order: kept whole
    cut = run(tmp_path, stream(data, [len(HELLO)]))
    assert len(full.iloc[0]["orig_payload"]) > len(cut.iloc[0]["orig_payload"])
    a, b = dissect(full).flows, dissect(cut).flows
    assert a["app_proto"].iloc[0] == "tls"
    skip = {"uid", "orig_payload", "resp_payload", "history", "first_frame", "last_frame"}
    cols = [c for c in a.columns if c not in skip]
    assert a[cols].astype(str).to_dict("records") == b[cols].astype(str).to_dict("records")


def test_trim_tls_off_keeps_the_whole_cap(tmp_path: Path) -> None:
    """trim_tls=False: a TLS direction keeps its first payload_bytes like any other, through
    the flow stage and the public API alike."""
    from classifier import CaptureStream, read_flows
    from classifier.flows import FlowStream

    data = HELLO + CCS + APP + APP + APP
    recs = stream(data, [len(HELLO), len(HELLO) + len(CCS) + 7])
    assert run(tmp_path, recs).iloc[0]["orig_payload"] == HELLO + CCS
    r = run(tmp_path, recs, trim_tls=False).iloc[0]
    assert r["orig_payload"] == data and r["missed_bytes"] == 0
    assert run(tmp_path, recs, trim_tls=False, payload_bytes=200).iloc[0]["orig_payload"] == \
        data[:200]
    path = str(tmp_path / "f.pcap")
    assert read_flows(path, trim_tls=False).iloc[0]["orig_payload"] == data
    assert read_flows(path, dissected=False, trim_tls=False).iloc[0]["orig_payload"] == data
    assert next(iter(FlowStream([path], trim_tls=False))).iloc[0]["orig_payload"] == data
    assert next(iter(CaptureStream(path, trim_tls=False))).iloc[0]["orig_payload"] == data
    assert next(iter(CaptureStream(path))).iloc[0]["orig_payload"] == HELLO + CCS
