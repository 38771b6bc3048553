from __future__ import annotations

from classifier.rules.kubelet_self_signed_cert import KubeletSelfSignedCert
from tests.rules.frames import flow, run

R = KubeletSelfSignedCert()
FP = "ab" * 32


def test_kubelet_style_certificate_from_table_is_flagged() -> None:
    f = flow(path="apiserver-to-kubelet", resp_p=10250, tls_version="TLSv1.2",
             server_cert_fingerprint=FP, server_cert_subject="CN=node-1@1732700000",
             server_cert_issuer="CN=node-1-ca@1732700000")
    out = run(R, [f], certs=[{"fingerprint": FP, "kubelet_self_signed": True}])
    row = out.iloc[0]
    assert row["subject"] == "10.0.0.11:10250" and row["uids"] == [f["uid"]]
    assert row["evidence"][0]["server_cert_subject"] == "CN=node-1@1732700000"
    assert "CIS 1.2.5" in row["references"]


def test_kubelet_style_name_and_self_signed_flag_without_table() -> None:
    f = flow(path="kubelet-direct", resp_p=10250, server_cert_subject="CN=node-2@1732700000",
             server_cert_self_signed=True)
    assert len(run(R, [f])) == 1


def test_ca_signed_kubelet_certificate_is_not_flagged() -> None:
    rows = [flow(path="apiserver-to-kubelet", resp_p=10250, server_cert_fingerprint=FP,
                 server_cert_subject="CN=system:node:node-1,O=system:nodes",
                 server_cert_self_signed=False),
            flow(path="other", resp_p=443, server_cert_subject="CN=host@1732700000",
                 server_cert_self_signed=True)]
    assert run(R, rows, certs=[{"fingerprint": FP, "kubelet_self_signed": False}]).empty
