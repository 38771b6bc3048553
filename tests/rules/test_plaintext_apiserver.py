from __future__ import annotations

from classifier.rules.plaintext_apiserver import PlaintextApiserver
from tests.rules.frames import flow, run

R = PlaintextApiserver()


def test_plaintext_api_call_is_flagged_with_request_evidence() -> None:
    f = flow(path="node-to-apiserver", plaintext=True, resp_p=6443, http_method="GET",
             http_path="/api/v1/nodes", http_status=200, auth="bearer", auth_kind="bearer",
             auth_fingerprint="abcdef012345")
    out = run(R, [f])
    assert list(out["id"]) == ["PLAINTEXT_APISERVER"]
    row = out.iloc[0]
    assert row["severity"] == "high" and row["uids"] == [f["uid"]]
    assert row["subject"] == "10.244.1.5 -> 10.0.0.11:6443"
    ev = row["evidence"][0]
    assert ev["request"] == "GET /api/v1/nodes" and ev["frame"] == f["first_frame"]
    assert ev["capture"] == "lab.pcap" and ev["auth_fingerprint"] == "abcdef012345"


def test_insecure_port_is_critical() -> None:
    out = run(R, [flow(path="client-to-apiserver", plaintext=True, resp_p=8080)])
    assert out.iloc[0]["severity"] == "critical"
    assert "8080" in out.iloc[0]["title"]


def test_tls_and_non_apiserver_plaintext_are_not_flagged() -> None:
    rows = [flow(path="node-to-apiserver", plaintext=False, tls_version="TLSv1.3"),
            flow(path="other", plaintext=True, resp_p=8080),
            flow(path="apiserver-proxy", plaintext=True, resp_p=8080)]
    assert run(R, rows).empty


def test_one_finding_per_pair_covers_every_flow() -> None:
    rows = [flow(path="pod-to-apiserver", plaintext=True, orig_p=p) for p in (40001, 40002)]
    out = run(R, rows)
    assert len(out) == 1 and out.iloc[0]["count"] == 2
    assert sorted(out.iloc[0]["uids"]) == sorted(r["uid"] for r in rows)
