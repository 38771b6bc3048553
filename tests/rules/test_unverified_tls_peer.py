from __future__ import annotations

from classifier.rules.unverified_tls_peer import UnverifiedTlsPeer
from tests.rules.frames import flow, run

R = UnverifiedTlsPeer()


def test_tls13_control_plane_flow_is_info_with_what_is_hidden() -> None:
    f = flow(path="apiserver-to-kubelet", resp_p=10250, tls_version="TLSv1.3", auth="unknown",
             tls_hidden="server_certificate,client_certificate")
    row = run(R, [f]).iloc[0]
    assert row["severity"] == "info"
    ev = row["evidence"][0]
    assert ev["hidden"] == "server_certificate,client_certificate"
    assert ev["cannot_conclude"] and ev["can_conclude"]


def test_tls12_visible_auth_and_non_control_plane_are_not_flagged() -> None:
    rows = [flow(path="node-to-apiserver", tls_version="TLSv1.2", auth="mtls"),
            flow(path="other", resp_p=443, tls_version="TLSv1.3", auth="unknown"),
            flow(path="apiserver-proxy", resp_p=8443, tls_version="TLSv1.3", auth="unknown"),
            flow(path="control-plane-other", resp_p=10259, tls_version="TLSv1.3",
                 auth="unknown")]
    assert run(R, rows).empty
