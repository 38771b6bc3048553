from __future__ import annotations

from classifier.rules.kubelet_readonly_port import KubeletReadonlyPort
from tests.rules.frames import flow, req, run

R = KubeletReadonlyPort()


def test_answered_readonly_port_is_flagged_per_kubelet() -> None:
    a = flow(path="kubelet-readonly", resp_p=10255, plaintext=True, client_role="pod")
    b = flow(path="kubelet-readonly", resp_p=10255, plaintext=True, orig_h="10.244.2.9")
    out = run(R, [a, b], [req(a, uri="/pods", status_code=200)])
    assert len(out) == 1
    row = out.iloc[0]
    assert row["subject"] == "10.0.0.11:10255" and row["count"] == 2
    assert row["evidence"][0]["request"] == "GET /pods" and row["evidence"][0]["status"] == 200
    assert "CIS 4.2.4" in row["references"]


def test_refused_or_silent_readonly_port_is_not_flagged() -> None:
    rows = [flow(path="kubelet-readonly", resp_p=10255, conn_state="REJ", orig_bytes=0,
                 resp_bytes=0),
            flow(path="kubelet-readonly", resp_p=10255, conn_state="S0", orig_bytes=0,
                 resp_bytes=0),
            flow(path="other", resp_p=10255, plaintext=True)]
    assert run(R, rows).empty
