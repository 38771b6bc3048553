"""Secrets never leave kubewire: planted tokens, passwords and cookies appear in no output
(CSV, JSON, Parquet, the flows/http/tls tables, CLI terminal output, log records); only their
kind and short SHA-256 fingerprint do."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import hpack
import pandas as pd
import pytest
from click.testing import CliRunner

from classifier import schema
from classifier.cli import cli
from classifier.dissect import secrets
from tests.dissect.crafted import tcp_session, write
from tests.dissect.test_http2 import frame

BEARER = "kw-bearer-7f3a9c1e5b2d"
PASSWORD = "hunter2-pa55:colon"
BASIC = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
COOKIE = "kw-cookie-91ab77"
QTOKEN = "kw-query-token-55aa"
WSTOKEN = "a3ctd3MtdG9rZW4tNjY"
SETCOOKIE = "kw-setcookie-3344"
FWDTOKEN = "kw-fwd-token-8899"
PROXYPASS = "kw-proxy-pass-2211"
PROXY = base64.b64encode(f"bob:{PROXYPASS}".encode()).decode()
GRPCTOKEN = "kw-grpc-token-1122"
URLPASS = "kw-url-pass-4455"
SECRETS = [BEARER, PASSWORD, BASIC, COOKIE, QTOKEN, WSTOKEN, SETCOOKIE, FWDTOKEN, PROXYPASS,
           PROXY, GRPCTOKEN, URLPASS]


def test_fingerprint_and_classify() -> None:
    assert secrets.fingerprint("abc") == "ba7816bf8f01"
    assert secrets.fingerprint(b"abc") == secrets.fingerprint("abc")
    assert secrets.classify("authorization", f"Bearer {BEARER}") == ("bearer",
                                                                     secrets.fingerprint(BEARER))
    assert secrets.classify("authorization", f"Basic {BASIC}")[0] == "basic"
    assert secrets.classify("authorization", "Negotiate YII=")[0] == "negotiate"
    assert secrets.classify("authorization", "NTLM TlRMTVNT")[0] == "ntlm"
    assert secrets.classify("authorization", 'Digest username="a"')[0] == "digest"
    assert secrets.classify("authorization", "AWS4-HMAC-SHA256 Credential=x")[0] == "aws4"
    assert secrets.classify("cookie", "a=b")[0] == "cookie"
    assert secrets.classify("authorization", "Weird x")[0] == "other"
    q, fps = secrets.redact_query(f"a=1&access_token={QTOKEN}&Token={QTOKEN}")
    assert QTOKEN not in q and len(fps) == 2 and q.startswith("a=1&access_token=<redacted:")


def _http_bytes() -> tuple[bytes, bytes]:
    req = (f"GET /api/v1/pods?watch=1&access_token={QTOKEN} HTTP/1.1\r\n"
           f"Host: 10.0.0.1:6443\r\nAuthorization: Bearer {BEARER}\r\n"
           f"Cookie: sessionid={COOKIE}\r\n"
           f"X-Forwarded-Uri: /api/v1/namespaces/x/services/y/proxy/?token={FWDTOKEN}\r\n\r\n"
           f"GET /exec/ns/pod/c?command=sh HTTP/1.1\r\nHost: node-1:10250\r\n"
           f"Authorization: Basic {BASIC}\r\n"
           f"Sec-WebSocket-Protocol: v5.channel.k8s.io,"
           f"base64url.bearer.authorization.k8s.io.{WSTOKEN}\r\n\r\n"
           f"GET http://carol:{URLPASS}@proxy.example/x HTTP/1.1\r\nHost: proxy.example\r\n"
           f"Proxy-Authorization: Basic {PROXY}\r\n\r\n").encode()
    resp = (b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n"
            + f"Set-Cookie: s={SETCOOKIE}; HttpOnly\r\n".encode()
            + b"Content-Length: 2\r\n\r\n{}"
            b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n"
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    return req, resp


def _grpc_bytes() -> tuple[bytes, bytes]:
    block = hpack.Encoder().encode([(":method", "POST"), (":scheme", "http"),
                                    (":path", "/etcdserverpb.KV/Range"), (":authority", "etcd"),
                                    ("content-type", "application/grpc"),
                                    ("authorization", f"Bearer {GRPCTOKEN}")])
    from classifier.dissect import http2

    c = http2.PREFACE + frame(4, 0, 0, b"") + frame(1, 4, 1, block)
    s = frame(4, 0, 0, b"") + frame(1, 4, 1, hpack.Encoder().encode([(":status", "200")]))
    return c, s


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("secrets")
    req, resp = _http_bytes()
    greq, gresp = _grpc_bytes()
    return write(d / "planted.pcap", [
        tcp_session("10.0.0.5", "10.0.0.1", 40000, 8080, [("c", req), ("s", resp)]),
        tcp_session("10.0.0.6", "10.0.0.2", 40001, 2379, [("c", greq), ("s", gresp)],
                    t0=1_700_000_001.0),
    ])


def _assert_clean(text: str, where: str) -> None:
    for s in SECRETS:
        assert s not in text, f"{where} leaks {s!r}"


def test_no_output_contains_a_planted_secret(planted: Path, tmp_path: Path,
                                             caplog: pytest.LogCaptureFixture) -> None:
    from classifier import api

    caplog.set_level(logging.DEBUG)
    result = api.analyze([str(planted)])
    http = result.http
    assert sorted(http["auth_kind"].dropna()) == sorted([
        "bearer,cookie", "basic,bearer", "basic", "bearer"])
    fps = set(",".join(http["auth_fingerprint"].dropna()).split(","))
    assert secrets.fingerprint(BEARER) in fps and secrets.fingerprint(GRPCTOKEN) in fps
    assert secrets.fingerprint(BASIC) in fps
    assert (result.flows["auth_kind"].dropna() != "").all()
    tables = {"flows": (result.flows, schema.FLOWS), "http": (http, schema.HTTP),
              "tls": (result.tls, schema.TLS), "certificates": (result.certificates,
                                                                schema.CERTIFICATES)}
    for name, (frame_, spec) in tables.items():
        exported = schema.for_export(frame_, spec)
        _assert_clean(exported.to_csv(), f"{name} frame")
        exported.to_csv(tmp_path / f"{name}.csv", index=False)
        exported.to_json(tmp_path / f"{name}.json", orient="records", default_handler=str,
                         date_format="iso")
        exported.astype({c: str for c in exported.columns if exported[c].dtype == object}
                        ).to_parquet(tmp_path / f"{name}.parquet", index=False)
        _assert_clean((tmp_path / f"{name}.csv").read_text(), f"{name}.csv")
        _assert_clean((tmp_path / f"{name}.json").read_text(), f"{name}.json")
        back = pd.read_parquet(tmp_path / f"{name}.parquet")
        _assert_clean(back.to_csv(), f"{name}.parquet")
    # the dissection columns of every flow, including non-exported internals but payloads
    cols = [c for c in result.flows.columns if c not in ("orig_payload", "resp_payload")]
    _assert_clean(result.flows[cols].to_string(), "flows.to_string")
    _assert_clean("\n".join(r.getMessage() for r in caplog.records), "log records")


@pytest.mark.parametrize("command", ["http", "certs"])
def test_cli_terminal_and_files_are_clean(planted: Path, tmp_path: Path, command: str) -> None:
    runner = CliRunner()
    res = runner.invoke(cli, [command, str(planted)])
    assert res.exit_code == 0, res.output
    _assert_clean(res.output, f"kubewire {command}")
    if command == "http":
        assert "bearer" in res.output and secrets.fingerprint(BEARER) in res.output
    for suffix in (".csv", ".json", ".parquet"):
        out = tmp_path / f"{command}{suffix}"
        res = runner.invoke(cli, [command, str(planted), "-o", str(out)])
        assert res.exit_code == 0, res.output
        text = (pd.read_parquet(out).to_csv() if suffix == ".parquet"
                else out.read_text())
        _assert_clean(text, str(out))


def test_no_request_bytes_stay_cached_after_dissect() -> None:
    """Header blocks carry credentials: the http1 parse caches are emptied when dissect ends."""
    from classifier.dissect import dissect, http1

    req = f"GET /api?token={QTOKEN} HTTP/1.1\r\nAuthorization: Bearer {BEARER}\r\n\r\n".encode()
    flows = schema.conform([{"uid": "Cs", "orig_payload": req,
                             "resp_payload": b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}],
                           schema.FLOW_BASE)
    d = dissect(flows)
    assert d.flows["auth_kind"].iloc[0] == "bearer"
    assert http1._parse_head.cache_info().currsize == 0
    assert http1._redact_target.cache_info().currsize == 0
