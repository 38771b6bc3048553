from __future__ import annotations

from classifier.rules.unauth_kubelet_access import UnauthKubeletAccess
from tests.rules.frames import flow, req, run

R = UnauthKubeletAccess()


def test_tls12_empty_client_certificate_is_high() -> None:
    f = flow(path="kubelet-direct", resp_p=10250, tls_version="TLSv1.2",
             client_cert_requested=True, client_cert_presented=False, auth="none")
    out = run(R, [f])
    row = out.iloc[0]
    assert row["severity"] == "high" and row["uids"] == [f["uid"]]
    assert row["evidence"][0]["client_cert_presented"] is False
    assert "KHV036" in row["references"]


def test_plaintext_served_without_credentials_is_critical() -> None:
    f = flow(path="kubelet-direct", resp_p=10250, plaintext=True, auth="none")
    out = run(R, [f], [req(f, method="POST", uri="/run/default/web/app", query="cmd=id",
                           status_code=200)])
    row = out.iloc[0]
    assert row["severity"] == "critical"
    assert row["evidence"][0]["request"] == "POST /run/default/web/app?cmd=id"


def test_refused_plaintext_is_medium() -> None:
    f = flow(path="kubelet-direct", resp_p=10250, plaintext=True, auth="none")
    out = run(R, [f], [req(f, uri="/pods", status_code=401)])
    assert out.iloc[0]["severity"] == "medium"


def test_client_certificate_or_token_or_tls13_is_not_flagged() -> None:
    rows = [flow(path="apiserver-to-kubelet", resp_p=10250, tls_version="TLSv1.2",
                 client_cert_requested=True, client_cert_presented=True, auth="mtls"),
            flow(path="kubelet-direct", resp_p=10250, tls_version="TLSv1.3", auth="unknown"),
            flow(path="kubelet-direct", resp_p=10250, conn_state="REJ", orig_bytes=0,
                 resp_bytes=0, auth="unknown")]
    f = flow(path="kubelet-direct", resp_p=10250, plaintext=True, auth="bearer")
    out = run(R, [*rows, f], [req(f, uri="/pods", status_code=200, auth_kind="bearer")])
    assert out.empty
