from __future__ import annotations

from classifier.rules.unauth_etcd import UnauthEtcd
from tests.rules.frames import flow, run

R = UnauthEtcd()


def test_plaintext_etcd_has_no_client_certificate() -> None:
    f = flow(path="etcd", plaintext=True, resp_p=2379, auth="none")
    row = run(R, [f]).iloc[0]
    assert row["severity"] == "critical" and "no TLS" in row["evidence"][0]["why"]


def test_tls12_without_certificate_request_or_certificate() -> None:
    a = flow(path="etcd", resp_p=2379, tls_version="TLSv1.2", client_cert_requested=False)
    b = flow(path="etcd-peer", resp_p=2380, resp_h="10.0.0.12", tls_version="TLSv1.2",
             client_cert_requested=True, client_cert_presented=False)
    assert len(run(R, [a, b])) == 2


def test_mutual_tls_and_tls13_are_not_flagged() -> None:
    rows = [flow(path="etcd", resp_p=2379, tls_version="TLSv1.2", client_cert_requested=True,
                 client_cert_presented=True, auth="mtls"),
            flow(path="etcd", resp_p=2379, tls_version="TLSv1.3", auth="unknown")]
    assert run(R, rows).empty
