from __future__ import annotations

from classifier.rules.konnectivity_plaintext import KonnectivityPlaintext
from tests.rules.frames import flow, run

R = KonnectivityPlaintext()


def test_plaintext_http_connect_is_flagged() -> None:
    f = flow(path="konnectivity", plaintext=True, resp_p=8090, app_proto="connect",
             connect_target="10.0.0.21:10250", http_status=200)
    row = run(R, [f]).iloc[0]
    assert row["evidence"][0]["connect_target"] == "10.0.0.21:10250"


def test_tls_konnectivity_is_not_flagged() -> None:
    rows = [flow(path="konnectivity", plaintext=False, resp_p=8132, tls_version="TLSv1.3"),
            flow(path="other", plaintext=True, app_proto="connect", resp_p=3128)]
    assert run(R, rows).empty


def test_plain_connect_carrying_tls_to_the_kubelet_is_flagged() -> None:
    f = flow(path="konnectivity", plaintext=False, resp_p=8090, app_proto="connect",
             connect_target="192.168.10.11:10250", tunnel_proto="tls", tls_version="TLSv1.2")
    assert len(run(R, [f])) == 1
