"""Hostile bytes: every dissector on every truncated prefix and on random bytes never raises
anything but Malformed, and dissect() never raises at all (unless strict)."""

from __future__ import annotations

import contextlib

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier import schema
from classifier.dissect import dissect, registry
from classifier.dissect.facts import Malformed
from classifier.errors import MalformedPacketError
from tests.conftest import ZOO
from tests.dissect.streams import Stream, tcp_streams

FIXTURES = [
    "zeek/client-certificate.pcap", "zeek/tls13_wolfssl.pcap", "zeek/basic-auth-with-colon.pcap",
    "zeek/connect-with-header.pcap", "suricata-verify/http2-range__http2-range.pcap",
    "deepflow/grpc-server-stream.pcap", "zeek/ssh_kex_curve25519.pcap", "zeek/websocket.pcap",
]


def _streams() -> list[Stream]:
    out: list[Stream] = []
    for name in FIXTURES:
        if (ZOO / name).exists():
            out += tcp_streams(ZOO / name)[:1]
    return out


@pytest.fixture(scope="module")
def streams(tshark: str) -> list[Stream]:
    got = _streams()
    if not got:
        pytest.skip("zoo captures missing")
    return got


def _cuts(n: int) -> list[int]:
    """Every prefix length up to 300 bytes, then every 211th, and the whole (keeps it lean)."""
    return list(range(min(n, 300) + 1)) + list(range(300, n, 211)) + [n]


def test_every_dissector_on_every_prefix(streams: list[Stream]) -> None:
    for s in streams:
        for d in registry.DISSECTORS:
            for cut in _cuts(max(len(s.data0), len(s.data1))):
                o, r = s.data0[:cut], s.data1[:cut]
                assert 0.0 <= d.sniff(o) <= 1.0
                try:
                    facts = d.dissect_flow(o, r)
                except Malformed:
                    continue
                assert isinstance(facts.flow, dict)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.binary(max_size=300))
def test_random_bytes_never_raise_in_any_dissector(orig: bytes, resp: bytes) -> None:
    for d in registry.DISSECTORS:
        assert 0.0 <= d.sniff(orig) <= 1.0
        with contextlib.suppress(Malformed):
            d.dissect_flow(orig, resp)


PREFIXES = [b"", b"\x16\x03\x01", b"\x16\x03\x03\x00\x05\x01\x00\x00\x01", b"GET / HTTP/1.1\r\n",
            b"HTTP/1.1 200 OK\r\n", b"SSH-2.0-", http2_preface := b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"CONNECT a:1 HTTP/1.1\r\n\r\n"]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(PREFIXES), st.binary(max_size=200), st.sampled_from(PREFIXES),
       st.binary(max_size=200))
def test_protocol_looking_garbage_never_escapes_dissect(p1: bytes, b1: bytes, p2: bytes,
                                                        b2: bytes) -> None:
    flows = schema.conform([{"uid": "Cx", "orig_payload": p1 + b1, "resp_payload": p2 + b2,
                             "duration": 0.0, "orig_burst_interval": 0.0}], schema.FLOW_BASE)
    out = dissect(flows)
    assert len(out.flows) == 1
    assert out.flows["app_proto"].iloc[0] in {
        "tls", "http", "http2", "grpc", "ssh", "connect", "dns", "unknown"}


def test_strict_raises_with_capture_and_frame() -> None:
    flows = schema.conform([{"uid": "Cx", "capture": "x.pcap", "first_frame": 7,
                             "orig_payload": b"\x16\x03\x03\x00\x05\x01\x00\x00\x01\x00"
                             + b"\x99\x03\x03\x00\x01\x00",
                             "resp_payload": b"", "duration": 0.0,
                             "orig_burst_interval": 0.0}], schema.FLOW_BASE)
    lenient = dissect(flows)
    assert lenient.flows["dissect_error"].iloc[0] == "tls_bad_content_type"
    with pytest.raises(MalformedPacketError) as exc:
        dissect(flows, strict=True)
    assert exc.value.frame == 7 and exc.value.capture == "x.pcap"


def test_a_dissector_bug_is_caught_counted_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(orig: bytes, resp: bytes) -> object:
        raise KeyError("bug")

    bad = registry.Dissector("ssh", lambda b: 1.0 if b.startswith(b"SSH-") else 0.0, boom)  # type: ignore[arg-type]
    monkeypatch.setattr(registry, "DISSECTORS", (bad,))
    flows = schema.conform([{"uid": "Cx", "orig_payload": b"SSH-2.0-x\r\n", "resp_payload": b"",
                             "duration": 0.0, "orig_burst_interval": 0.0}], schema.FLOW_BASE)
    out = dissect(flows)
    assert out.flows["dissect_error"].iloc[0] == "internal_error_keyerror"
    with pytest.raises(KeyError):
        dissect(flows, strict=True)


def test_empty_and_payloadless_tables_are_complete() -> None:
    out = dissect(schema.empty(schema.FLOW_BASE))
    assert list(out.flows.columns) == (schema.FLOW_BASE + schema.FLOW_DISSECT).names
    for frame, table in ((out.tls, schema.TLS), (out.http, schema.HTTP),
                         (out.certificates, schema.CERTIFICATES)):
        assert list(frame.columns) == table.names and len(frame) == 0
    flows = schema.conform([{"uid": "C1", "orig_payload": b"", "resp_payload": None,
                             "duration": 0.0, "orig_burst_interval": 0.0},
                            {"uid": "C2", "orig_payload": b"ab", "resp_payload": b"",
                             "duration": 0.0, "orig_burst_interval": 0.0},
                            {"uid": "C3", "orig_payload": b"\x00" * 50, "resp_payload": b"",
                             "duration": 0.0, "orig_burst_interval": 0.0}], schema.FLOW_BASE)
    out = dissect(flows)
    assert list(out.flows["dissect_error"]) == ["no_payload", "too_short", "no_match"]
    assert set(out.flows["app_proto"]) == {"unknown"}
    assert str(out.flows["http_status"].dtype) == "UInt16"
    assert isinstance(out.flows, pd.DataFrame)


def test_without_tables_the_flows_are_the_same_and_the_tables_empty() -> None:
    from classifier.flows import assemble
    from tests.conftest import zoo_capture

    flows = assemble([zoo_capture("zeek/client-certificate.pcap")]).flows
    full = dissect(flows)
    lean = dissect(flows, tables=False)
    assert len(full.tls) and len(full.certificates)
    pd.testing.assert_frame_equal(lean.flows, full.flows)
    for frame, table in ((lean.tls, schema.TLS), (lean.http, schema.HTTP),
                         (lean.certificates, schema.CERTIFICATES)):
        assert list(frame.columns) == table.names and len(frame) == 0


def test_a_filtered_flow_table_dissects_by_position() -> None:
    """Rows picked out of a table (gaps in the index) dissect as the same rows renumbered:
    columns are joined by position, payload prefixes included."""
    from classifier.flows import assemble
    from tests.conftest import CAPTURES

    flows = assemble([str(CAPTURES / "attack.pcap")]).flows
    picked = flows.iloc[::-2]
    assert not picked.index.equals(pd.RangeIndex(len(picked)))
    got = dissect(picked).flows
    pd.testing.assert_frame_equal(got, dissect(picked.reset_index(drop=True)).flows)
    assert got["uid"].tolist() == picked["uid"].tolist()
    assert got["orig_payload"].tolist() == picked["orig_payload"].tolist()
    assert schema.conforms(got[schema.FLOW_BASE.names + schema.FLOW_DISSECT.names],
                           schema.Table("flows", schema.FLOW_BASE.columns
                                        + schema.FLOW_DISSECT.columns))
