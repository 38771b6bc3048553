"""`kubewire certs` and `kubewire http`: terminal table, -o csv/json/parquet, -q, filters, errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from classifier import api, schema
from classifier.dissect import dissect
from tests.cli.helpers import patch_analyze, run_main
from tests.conftest import zoo_capture
from tests.dissect.certs import kubelet_pair

LEAF, CA = kubelet_pair("worker-1", 1700000000)


def _tls_flow(uid: str, orig: str, resp: str) -> dict[str, Any]:
    from tests.dissect.test_tls import _client_hello, _hs, _record

    chain = b"".join(len(c).to_bytes(3, "big") + c for c in (LEAF, CA))
    sh_body = b"\x03\x03" + b"\x22" * 32 + b"\x00" + b"\xc0\x2f" + b"\x00"
    server = (_record(22, _hs(2, sh_body) + _hs(11, len(chain).to_bytes(3, "big") + chain)
                      + _hs(14, b"")) + _record(20, b"\x01"))
    return {"uid": uid, "ts": pd.Timestamp("2024-05-01T10:00:00Z"), "orig_h": orig,
            "orig_p": 50000, "resp_h": resp, "resp_p": 10250, "proto": "tcp", "duration": 0.1,
            "orig_burst_interval": 0.0, "orig_payload": _record(22, _client_hello(b"worker-1")),
            "resp_payload": server}


def _http_flow() -> dict[str, Any]:
    return {"uid": "Chttp", "ts": pd.Timestamp("2024-05-01T10:00:01Z"), "orig_h": "10.0.0.9",
            "orig_p": 50001, "resp_h": "10.0.0.2", "resp_p": 10255, "proto": "tcp",
            "duration": 0.1, "orig_burst_interval": 0.0,
            "orig_payload": b"GET /pods?token=s3cr3t-t0ken HTTP/1.1\r\nHost: n:10255\r\n"
                            b"Authorization: Bearer s3cr3t-b3arer\r\n\r\n",
            "resp_payload": b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"}


def _result(*_: Any, **kw: Any) -> api.Result:
    flows = schema.conform([_tls_flow("Ctls1", "10.0.0.1", "10.0.0.2"),
                            _tls_flow("Ctls2", "10.0.0.3", "10.0.0.2"), _http_flow()],
                           schema.FLOW_BASE)
    d = dissect(flows)
    # schema.conform cannot fill a missing float64 column with NA under pandas 3 (reported)
    f = schema.conform(d.flows.assign(path_confidence=float("nan")), schema.FLOWS)
    flt = kw.get("filters")
    if flt is not None and flt.hosts:
        f = f[f["orig_h"].isin(flt.hosts) | f["resp_h"].isin(flt.hosts)]
    keep = set(f["uid"])
    e = {n: schema.empty(getattr(schema, n.upper())) for n in ("hosts", "findings", "stats",
                                                               "inputs")}
    return api.Result(flows=f, tls=d.tls[d.tls["uid"].isin(keep)],
                      certificates=d.certificates, http=d.http[d.http["uid"].isin(keep)], **e)


@pytest.fixture
def fake_analyze(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    return patch_analyze(monkeypatch, _result)


_run = run_main


def test_certs_terminal_table(fake_analyze: list[dict[str, Any]],
                              capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["certs", "x.pcap"], capsys)
    assert code == 0
    assert out.splitlines()[0].split()[:3] == ["SUBJECT", "ISSUER", "SEEN"]
    assert "CN=worker-1@1700000000" in out and "kubelet" in out and "self-signed" in out
    leaf = next(line for line in out.splitlines() if line.startswith("CN=worker-1@"))
    assert " 2 " in leaf  # seen in two flows
    assert fake_analyze[0]["filters"] is None


def test_http_terminal_table_redacts(fake_analyze: list[dict[str, Any]],
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["http", "x.pcap"], capsys)
    assert code == 0
    assert "GET" in out and "bearer" in out and "<redacted:" in out
    assert "s3cr3t" not in out


@pytest.mark.parametrize("cmd,table", [("certs", schema.CERTIFICATES), ("http", schema.HTTP)])
@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_output_files(fake_analyze: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
                      tmp_path: Path, cmd: str, table: schema.Table, suffix: str) -> None:
    out = tmp_path / f"t{suffix}"
    code, stdout, err = _run([cmd, "x.pcap", "-o", str(out)], capsys)
    assert code == 0 and stdout == "" and "written to" in err
    if suffix == ".csv":
        frame = pd.read_csv(out)
    elif suffix == ".json":
        frame = pd.DataFrame(json.loads(out.read_text()))
    else:
        frame = pd.read_parquet(out)
    assert list(frame.columns) == table.export_names
    assert len(frame) == (2 if cmd == "certs" else 1)
    assert "s3cr3t" not in out.read_bytes().decode("latin-1")


def test_quiet_and_filters(fake_analyze: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
                           tmp_path: Path) -> None:
    code, out, err = _run(["certs", "x.pcap", "-q"], capsys)
    assert code == 0 and out == "" and err == ""
    code, out, _ = _run(["certs", "x.pcap", "--host", "10.0.0.9"], capsys)
    assert code == 0 and out.strip() == "no certificates"
    assert fake_analyze[-1]["filters"].hosts == ("10.0.0.9",)
    code, out, _ = _run(["http", "x.pcap", "--host", "10.0.0.1"], capsys)
    assert out.strip() == "no HTTP requests"


def test_bad_output_suffix_is_a_usage_error(fake_analyze: list[dict[str, Any]],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["http", "x.pcap", "-o", "out.txt"], capsys)
    assert code == 2 and "unknown output format" in err


def test_end_to_end_on_real_captures(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["certs", zoo_capture("zeek/client-certificate.pcap")], capsys)
    assert code == 0
    assert "CN=certauth.idrix.fr" in out and "CN=johanna@corelight.com" in out
    code, out, _ = _run(["http", zoo_capture("zeek/basic-auth-with-colon.pcap")], capsys)
    assert code == 0 and "basic:d9f1d9ba104c" in out  # kind + fingerprint, never the value
