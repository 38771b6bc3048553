"""HTTP/1.x dissector: tshark as the oracle (methods, URIs, status codes, credentials)."""

from __future__ import annotations

import pytest

from classifier.dissect import http1, secrets
from classifier.dissect.facts import Malformed
from tests.conftest import zoo_capture
from tests.dissect.oracle import by_key, dissected, tshark_rows

HTTP_CAPTURES = [
    "zeek/basic-auth-with-colon.pcap",               # Basic, raw IPv4 link type
    "suricata-verify/http-post-file__input.pcap",    # Bearer, IPv6 NULL link type
    "suricata-verify/http-auth-bearer__input.pcap",
    "zeek/connect-with-header.pcap",                 # CONNECT then TLS
    "suricata-verify/http-connect-tls__input.pcap",
    "zeek/websocket.pcap",
    "suricata-verify/websocket-ping__input.pcap",
    "suricata-verify/http2-range__http2-range.pcap",  # h2c upgrade
    "zeek/docker-http-upgrade.pcap",
    "zeek/erspan.pcap",                              # NTLM, 401
    "zeek/http-vlan-0.pcap",
    "zeek/vxlan-encapsulated-http.pcap",
    "suricata-verify/bug-130__input.pcap",
    "suricata-verify/decode-sll2-01__input.pcap",
]


@pytest.mark.parametrize("name", HTTP_CAPTURES)
def test_requests_and_status_codes_match_tshark(tshark: str, name: str) -> None:
    cap = zoo_capture(name)
    d = dissected(cap)
    rows = by_key(d, "http")
    req: dict[frozenset[str], list[tuple[str, str]]] = {}
    for key, (method, uri) in tshark_rows(cap, ["http.request.method", "http.request.uri"],
                                          "http.request"):
        req.setdefault(key, []).append((method, uri))
    assert req, "tshark saw no request"
    for key, theirs in req.items():
        ours = [(r["method"], r["connect_target"] if r["method"] == "CONNECT" else
                 (r["uri"] + ("?" + r["query"] if r["query"] else "")))
                for r in rows.get(key, []) if r["version"] != "HTTP/2"]
        # we read the first bytes of each flow only: ours is a non-empty prefix of tshark's
        assert ours and ours == theirs[:len(ours)], key
    resp: dict[frozenset[str], list[int]] = {}
    for key, (code,) in tshark_rows(cap, ["http.response.code"], "http.response"):
        resp.setdefault(key, []).append(int(code))
    flows = by_key(d)
    for key, codes in resp.items():
        if not any(len(f["resp_payload"] or b"") for f in flows[key]):
            continue  # the flow table kept no responder bytes (gap at its start)
        ours_codes = [r["status_code"] for r in rows.get(key, [])
                      if r["version"] != "HTTP/2" and r["status_code"] is not None]
        interim = [c for c in codes if 100 <= c < 200 and c != 101]
        finals = [c for c in codes if c not in interim]
        assert ours_codes and ours_codes == finals[:len(ours_codes)], key


@pytest.mark.parametrize("name", ["zeek/basic-auth-with-colon.pcap",
                                  "suricata-verify/http-post-file__input.pcap",
                                  "suricata-verify/http-auth-bearer__input.pcap",
                                  "zeek/erspan.pcap"])
def test_credentials_kind_and_fingerprint_match_tshark(tshark: str, name: str) -> None:
    cap = zoo_capture(name)
    rows = by_key(dissected(cap), "http")
    seen = 0
    for key, (auth,) in tshark_rows(cap, ["http.authorization"], "http.authorization"):
        kind, fp = secrets.classify("authorization", auth.split("|")[0])
        assert any(r["auth_fingerprint"] == fp and kind in (r["auth_kind"] or "")
                   for r in rows[key])
        seen += 1
    assert seen


def test_connect_tunnel_carries_tls_with_sni() -> None:
    d = dissected(zoo_capture("zeek/connect-with-header.pcap"))
    row = d.flows.iloc[0]
    assert row["app_proto"] == "connect"
    assert row["connect_target"] == "secure.newegg.com:443"
    assert row["tunnel_proto"] == "tls"
    assert row["tls_sni"] == "secure.newegg.com"


def test_websocket_and_h2c_upgrades() -> None:
    ws = dissected(zoo_capture("zeek/websocket.pcap")).flows.iloc[0]
    assert ws["http_upgrade"] == "websocket" and ws["tunnel_proto"] == "websocket"
    h2 = dissected(zoo_capture("suricata-verify/http2-range__http2-range.pcap"))
    up = h2.flows[h2.flows["http_upgrade"] == "h2c"]
    assert len(up) and set(up["app_proto"]) == {"http2"}
    assert set(h2.http[h2.http["version"] == "HTTP/2"]["uri"]) == {"/eicar"}


# --- unit cases -------------------------------------------------------------------------------

STATUS_BODY = (b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
               b'"message":"Unauthorized","reason":"Unauthorized","code":401}')
REQ = (b"GET /api/v1/namespaces/default/pods?watch=1&access_token=SECRETTOKEN123 HTTP/1.1\r\n"
       b"Host: 10.0.0.1:6443\r\nUser-Agent: kubectl/v1.30.0\r\n"
       b"Authorization: Bearer SECRETTOKEN456\r\n\r\n"
       b"POST /exec/ns/pod/c?command=sh HTTP/1.1\r\nHost: node:10250\r\n"
       b"Content-Length: 4\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
       b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\nbody")
RESP = (b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"
        + f"{len(STATUS_BODY) - 20:x}\r\n".encode() + STATUS_BODY[:-20] + b"\r\n"
        + b"14\r\n" + STATUS_BODY[-20:] + b"\r\n0\r\n\r\n"
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: SPDY/3.1\r\n"
        b"X-Stream-Protocol-Version: v4.channel.k8s.io\r\n\r\n\x80\x03\x00\x01")


def test_pipelined_requests_chunked_status_and_upgrade() -> None:
    facts = http1.dissect_flow(REQ, RESP)
    f = facts.flow
    assert f["http_requests"] == 2
    assert f["http_status"] == 401
    assert f["k8s_status_reason"] == "Unauthorized"
    assert f["auth_kind"] == "bearer"
    assert "SECRETTOKEN" not in repr(facts)
    assert f["http_query"].startswith("watch=1&access_token=<redacted:")
    second = facts.http[1]
    assert second["status_code"] == 101
    assert second["upgrade"] == "SPDY/3.1"
    assert second["stream_protocol"] == "v4.channel.k8s.io"
    assert f["tunnel_proto"] == "spdy/3.1"
    assert facts.tunnel is not None and facts.tunnel[1] == b"\x80\x03\x00\x01"


def test_every_prefix_is_incomplete_or_clean() -> None:
    for i in range(len(REQ) + 1):
        for j in (0, len(RESP) // 2, len(RESP)):
            try:
                facts = http1.dissect_flow(REQ[:i], RESP[:j])
            except Malformed as exc:  # only a request line cut to something else is invalid
                assert exc.reason.startswith("http_")
                continue
            assert facts.flow["app_proto"] in ("http", "connect")
        assert http1.parse_request(REQ[:i]) is None or i >= REQ.index(b"\r\n\r\n") + 4


def test_invalid_request_line_raises() -> None:
    with pytest.raises(Malformed):
        http1.parse_request(b"GET /x FTP/1.0\r\n\r\n")
    with pytest.raises(Malformed):
        http1.parse_request(b"GET /x HTTP/1.1\r\nno colon here\r\n\r\n")
