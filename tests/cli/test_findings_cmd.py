"""kubewire findings / diff end to end on small crafted captures: JSON shape, --fail-on exit
codes, --baseline suppression, diff, and that no secret value reaches any output."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from scapy.all import IP, TCP, Ether, Raw, wrpcap

from classifier import api
from classifier.cli import cli
from classifier.cli.common import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, run_guarded

TOKEN = b"eyJhbGciOiJSUzI1NiJ9.c2VjcmV0LXRva2Vu.c2lnbmF0dXJl"
BODY = b'{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[]}'
OK = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(
    BODY) + BODY
API_REQ = (b"GET /api/v1/namespaces/default/pods HTTP/1.1\r\nHost: 10.0.0.1:8080\r\n"
           b"User-Agent: kubectl/v1.30.0 (linux/amd64) kubernetes/7c48c2b\r\n"
           b"Authorization: Bearer " + TOKEN + b"\r\nAccept: application/json\r\n\r\n")
RO_REQ = b"GET /pods HTTP/1.1\r\nHost: 10.0.0.21:10255\r\nUser-Agent: python-requests/2.31\r\n\r\n"
FIELDS = {"id", "severity", "title", "subject", "count", "first_seen", "last_seen", "uids",
          "evidence", "references", "suppressed", "suppress_reason"}


def _session(c: str, cp: int, s: str, sp: int, req: bytes, resp: bytes, t0: float) -> list:
    """One complete TCP connection: handshake, request, response, FIN/FIN/ACK."""
    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    cs, ss = 1000, 5000
    seq = [
        (c, s, cp, sp, "S", cs, 0, b""), (s, c, sp, cp, "SA", ss, cs + 1, b""),
        (c, s, cp, sp, "A", cs + 1, ss + 1, b""), (c, s, cp, sp, "PA", cs + 1, ss + 1, req),
        (s, c, sp, cp, "PA", ss + 1, cs + 1 + len(req), resp),
        (c, s, cp, sp, "FA", cs + 1 + len(req), ss + 1 + len(resp), b""),
        (s, c, sp, cp, "FA", ss + 1 + len(resp), cs + 2 + len(req), b""),
        (c, s, cp, sp, "A", cs + 2 + len(req), ss + 2 + len(resp), b""),
    ]
    out = []
    for i, (src, dst, sport, dport, flags, sq, ack, data) in enumerate(seq):
        p = e / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags, seq=sq, ack=ack)
        if data:
            p = p / Raw(data)
        p.time = t0 + i * 0.001
        out.append(p)
    return out


@pytest.fixture(scope="module")
def caps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """full: insecure-port API call with a bearer token + kubelet read-only /pods;
    readonly: only the read-only call (for diff)."""
    d = tmp_path_factory.mktemp("caps")
    api_s = _session("10.244.1.5", 40001, "10.0.0.1", 8080, API_REQ, OK, 1_700_000_000.0)
    ro_s = _session("10.244.1.5", 40002, "10.0.0.21", 10255, RO_REQ, OK, 1_700_000_001.0)
    full, ro = d / "full.pcap", d / "readonly.pcap"
    wrpcap(str(full), api_s + ro_s)
    wrpcap(str(ro), ro_s)
    return {"full": full, "readonly": ro}


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = run_guarded(cli, args)
    except SystemExit as exc:  # --fail-on exits with SystemExit (see cli.findings.exit_findings)
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_findings_json_shape_and_uids(caps: dict[str, Path], tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "findings.json"
    code, out, _ = _run(["findings", str(caps["full"]), "-o", str(out_file)], capsys)
    assert code == EXIT_OK
    doc = json.loads(out_file.read_text())
    assert isinstance(doc, list) and doc
    ids = {d["id"] for d in doc}
    assert {"PLAINTEXT_APISERVER", "CREDENTIALS_IN_PLAINTEXT", "KUBELET_READONLY_PORT"} <= ids
    flows = api.analyze(str(caps["full"])).flows
    known = set(flows["uid"])
    for d in doc:
        assert set(d) >= FIELDS
        assert d["count"] == len(d["uids"]) and set(d["uids"]) <= known
        assert d["first_seen"] <= d["last_seen"]
        assert all("capture" in e and "frame" in e and "uid" in e
                   for e in d["evidence"] if "more" not in e)
        assert isinstance(d["references"], list) and d["references"]
    cred = next(d for d in doc if d["id"] == "CREDENTIALS_IN_PLAINTEXT")
    ev = cred["evidence"][0]
    assert ev["auth_kind"] == "bearer" and len(ev["auth_fingerprint"]) == 12
    assert ev["request"] == "GET /api/v1/namespaces/default/pods"
    assert TOKEN.decode() not in out_file.read_text() and TOKEN.decode() not in out
    assert "PLAINTEXT_APISERVER" in out and "finding(s)" in out


def test_findings_csv(caps: dict[str, Path], tmp_path: Path,
                      capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "findings.csv"
    assert _run(["findings", str(caps["full"]), "-q", "-o", str(out_file)], capsys)[0] == EXIT_OK
    with out_file.open() as fh:
        rows = list(csv.DictReader(fh))
    assert rows and set(rows[0]) >= FIELDS
    assert all(isinstance(json.loads(r["uids"]), list) for r in rows)


def test_fail_on_exit_codes(caps: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
    full = str(caps["full"])
    assert _run(["findings", full, "-q", "--fail-on", "critical"], capsys)[0] == EXIT_FINDINGS
    # the read-only capture: anonymous /pods served (high) and the read-only port (medium)
    assert _run(["findings", str(caps["readonly"]), "-q", "--fail-on", "critical"],
                capsys)[0] == EXIT_OK
    code, out, err = _run(["findings", str(caps["readonly"]), "-q", "--fail-on", "HIGH"], capsys)
    assert code == EXIT_FINDINGS and out == "" and err == ""


def test_baseline_suppresses_but_keeps(caps: dict[str, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    base = tmp_path / "baseline.yaml"
    base.write_text(
        "- id: PLAINTEXT_APISERVER\n  subject: '*'\n  reason: lab cluster, ticket SEC-1\n"
        "- id: CREDENTIALS_IN_PLAINTEXT\n  subject: 10.244.1.5 -> 10.0.0.1:8080\n"
        "  reason: lab token\n"
        "- id: ANONYMOUS_API_ACCESS\n  subject: '* -> *:10255'\n  reason: read-only port scrape\n")
    out_file = tmp_path / "f.json"
    code, out, _ = _run(["findings", str(caps["full"]), "--baseline", str(base), "--fail-on",
                         "high", "-o", str(out_file)], capsys)
    assert code == EXIT_OK  # the remaining findings are below high
    doc = {d["id"]: d for d in json.loads(out_file.read_text())}
    assert doc["PLAINTEXT_APISERVER"]["suppressed"] is True
    assert doc["PLAINTEXT_APISERVER"]["suppress_reason"] == "lab cluster, ticket SEC-1"
    assert doc["KUBELET_READONLY_PORT"]["suppressed"] is False
    assert "suppressed: lab cluster, ticket SEC-1" in out and "3 suppressed" in out
    assert doc["ANONYMOUS_API_ACCESS"]["suppress_reason"] == "read-only port scrape"
    assert _run(["findings", str(caps["full"]), "-q", "--baseline", str(base), "--fail-on",
                 "medium"], capsys)[0] == EXIT_FINDINGS


def test_user_errors_exit_2(caps: dict[str, Path], tmp_path: Path,
                            capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("- id: X\n  subject: y\n")
    code, _, err = _run(["findings", str(caps["full"]), "--baseline", str(bad)], capsys)
    assert code == EXIT_USAGE and str(bad) in err and "entry 1" in err
    assert len(err.strip().splitlines()) == 1
    assert _run(["findings", str(caps["full"]), "-o", str(tmp_path / "f.txt")], capsys)[0] == 2
    assert _run(["findings", str(caps["full"]), "--fail-on", "severe"], capsys)[0] == EXIT_USAGE


def test_diff_appeared_and_disappeared(caps: dict[str, Path], tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "diff.json"
    code, out, _ = _run(["diff", str(caps["readonly"]), str(caps["full"]), "-o", str(out_file),
                         "--fail-on", "high"], capsys)
    assert code == EXIT_FINDINGS
    doc = json.loads(out_file.read_text())
    appeared = {(f["id"], f["change"]) for f in doc["findings"]}
    assert ("PLAINTEXT_APISERVER", "appeared") in appeared
    assert not any(f["id"] == "KUBELET_READONLY_PORT" for f in doc["findings"])
    assert any(p["change"] == "appeared" and p["server"] == "10.0.0.1:8080" for p in doc["paths"])
    assert doc["a"]["sha256"] and doc["b"]["sha256"]
    assert "+" in out and "PLAINTEXT_APISERVER" in out
    code, out, _ = _run(["diff", str(caps["full"]), str(caps["readonly"])], capsys)
    assert code == EXIT_OK and "-" in out and "10.0.0.1:8080" in out
    code, out, _ = _run(["diff", str(caps["full"]), str(caps["full"])], capsys)
    assert code == EXIT_OK and out.startswith("no changes")


def test_console_script_exit_code(caps: dict[str, Path]) -> None:
    import subprocess
    import sys

    exe = Path(sys.executable).parent / "kubewire"
    out = subprocess.run([str(exe), "findings", str(caps["full"]), "-q", "--fail-on", "high"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == EXIT_FINDINGS and out.stdout == "" and out.stderr == ""


def test_filters_narrow_the_findings(caps: dict[str, Path], tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "f.json"
    code, _, _ = _run(["findings", str(caps["full"]), "--path", "kubelet-readonly", "-q",
                       "-o", str(out_file)], capsys)
    assert code == EXIT_OK
    ids = {d["id"] for d in json.loads(out_file.read_text())}
    assert "KUBELET_READONLY_PORT" in ids and "PLAINTEXT_APISERVER" not in ids
