from __future__ import annotations

from classifier.rules.insecure_component_port import InsecureComponentPort
from tests.rules.frames import flow, run

R = InsecureComponentPort()


def test_legacy_scheduler_port_is_medium_and_kube_proxy_healthz_info() -> None:
    a = flow(path="control-plane-other", plaintext=True, resp_p=10251, http_method="GET",
             http_path="/metrics", http_status=200)
    b = flow(path="control-plane-other", plaintext=True, resp_p=10256, resp_h="10.0.0.21")
    out = run(R, [a, b]).set_index("subject")
    assert out.loc["10.0.0.11:10251", "severity"] == "medium"
    assert "kube-scheduler" in out.loc["10.0.0.11:10251", "title"]
    assert out.loc["10.0.0.21:10256", "severity"] == "info"


def test_secure_ports_and_unanswered_are_not_flagged() -> None:
    rows = [flow(path="control-plane-other", plaintext=False, resp_p=10259,
                 tls_version="TLSv1.3"),
            flow(path="control-plane-other", plaintext=True, resp_p=10252, conn_state="REJ",
                 orig_bytes=0, resp_bytes=0)]
    assert run(R, rows).empty
