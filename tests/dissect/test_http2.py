"""HTTP/2 and gRPC dissector: tshark's http2.header.* as the oracle, HPACK edge cases."""

from __future__ import annotations

import hpack

from classifier.dissect import http2, secrets
from classifier.dissect.facts import Malformed
from tests.conftest import zoo_capture
from tests.dissect.oracle import by_key, dissected, tshark_rows


def _pseudo(cap: str, decode_as: list[str] | None = None) -> dict[frozenset[str], dict[str, list[str]]]:
    out: dict[frozenset[str], dict[str, list[str]]] = {}
    for key, (names, values) in tshark_rows(cap, ["http2.header.name", "http2.header.value"],
                                            "http2.header", decode_as):
        d = out.setdefault(key, {})
        for n, v in zip(names.split("|"), values.split("|"), strict=False):
            d.setdefault(n, []).append(v)
    return out


def test_grpc_mid_connection_matches_tshark(tshark: str) -> None:
    cap = zoo_capture("deepflow/grpc-server-stream.pcap")
    theirs = _pseudo(cap, ["tcp.port==9001,http2"])
    assert theirs
    flows = by_key(dissected(cap))
    rows = by_key(dissected(cap), "http")
    for key, hdr in theirs.items():
        flow = flows[key][0]
        assert flow["app_proto"] == "grpc"
        assert flow["grpc_method"] == hdr[":path"][0]
        assert [r["uri"] for r in rows[key]] == hdr[":path"]
        assert [r["method"] for r in rows[key]] == hdr[":method"]
        assert rows[key][0]["status_code"] == int(hdr[":status"][0])
        assert flow["http_user_agent"] == hdr["user-agent"][0]


def test_h2c_statuses_match_tshark(tshark: str) -> None:
    cap = zoo_capture("suricata-verify/http2-range__http2-range.pcap")
    theirs = _pseudo(cap)
    rows = by_key(dissected(cap), "http")
    assert theirs
    for key, hdr in theirs.items():
        ours = [r["status_code"] for r in rows[key] if r["version"] == "HTTP/2"]
        assert ours == [int(s) for s in hdr[":status"]]


# --- crafted connections -----------------------------------------------------------------------

def frame(ftype: int, flags: int, stream: int, payload: bytes) -> bytes:
    """One HTTP/2 frame."""
    return len(payload).to_bytes(3, "big") + bytes([ftype, flags]) + stream.to_bytes(4, "big") + payload


TOKEN = "h2-bearer-secret-0123456789"


def client_bytes(enc: hpack.Encoder, *, path: str = "/etcdserverpb.KV/Range") -> bytes:
    block = enc.encode([(":method", "POST"), (":scheme", "http"), (":path", path),
                        (":authority", "etcd:2379"), ("content-type", "application/grpc"),
                        ("user-agent", "grpc-go/1.60.0"), ("authorization", f"Bearer {TOKEN}")])
    return (http2.PREFACE + frame(http2.SETTINGS, 0, 0, b"")
            + frame(http2.HEADERS, 0, 1, block[:10])
            + frame(http2.CONTINUATION, http2.END_HEADERS, 1, block[10:])
            + frame(http2.DATA, 0, 1, b"\x00\x00\x00\x00\x0c\n\n/registry/"))


def server_bytes() -> bytes:
    block = hpack.Encoder().encode([(":status", "200"), ("content-type", "application/grpc")])
    return (frame(http2.SETTINGS, 0, 0, b"\x00\x03\x00\x00\x00\x64")
            + frame(http2.HEADERS, http2.END_HEADERS | http2.PADDED, 1,
                    b"\x02" + block + b"\x00\x00")
            + frame(http2.DATA, 0, 1, b"\x00\x00\x00\x00\x08k8s\x00\x0a\x02v1"))


def test_crafted_grpc_with_authorization_metadata() -> None:
    facts = http2.dissect_flow(client_bytes(hpack.Encoder()), server_bytes())
    f = facts.flow
    assert f["app_proto"] == "grpc"
    assert f["grpc_method"] == "/etcdserverpb.KV/Range"
    assert f["auth_kind"] == "bearer"
    assert f["auth_fingerprint"] == secrets.fingerprint(TOKEN)
    assert f["http_status"] == 200
    assert f["payload_hint"] == "k8s-protobuf,etcd-registry"
    assert TOKEN not in repr(facts)


def test_query_tokens_in_path_are_redacted() -> None:
    facts = http2.dissect_flow(client_bytes(hpack.Encoder(), path=f"/api/v1/pods?token={TOKEN}"),
                               b"")
    assert TOKEN not in repr(facts)
    assert facts.flow["http_query"] == f"token=<redacted:{secrets.fingerprint(TOKEN)}>"


def test_missing_hpack_context_is_counted_not_raised() -> None:
    enc = hpack.Encoder()
    client_bytes(enc)  # the first request fills the dynamic table; it is not captured
    second = client_bytes(enc)[len(http2.PREFACE) + 9:]  # no preface, no SETTINGS
    facts = http2.dissect_flow(second, b"")
    assert facts.flow["dissect_error"] in ("hpack_missing_context", "hpack_partial")


def test_every_prefix_is_incomplete_or_clean() -> None:
    c, s = client_bytes(hpack.Encoder()), server_bytes()
    for i in range(len(c) + 1):
        try:
            facts = http2.dissect_flow(c[:i], s[: i % (len(s) + 1)])
        except Malformed as exc:
            assert exc.reason == "http2_no_frames"
            continue
        assert facts.flow["app_proto"] in ("http2", "grpc")
        assert TOKEN not in repr(facts)


def test_sniff() -> None:
    assert http2.sniff(http2.PREFACE) == 1.0
    assert http2.sniff(server_bytes()) >= 0.5
    assert http2.sniff(b"GET / HTTP/1.1\r\n") == 0.0
