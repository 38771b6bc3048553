from __future__ import annotations

from classifier.rules.legacy_tls import LegacyTls
from tests.rules.frames import flow, run

R = LegacyTls()


def test_tls10_and_weak_cipher_are_flagged() -> None:
    a = flow(path="node-to-apiserver", tls_version="TLSv1.0",
             tls_cipher="TLS_RSA_WITH_AES_128_CBC_SHA")
    b = flow(path="etcd", resp_p=2379, tls_version="TLSv1.2",
             tls_cipher="TLS_RSA_WITH_3DES_EDE_CBC_SHA")
    out = run(R, [a, b])
    assert len(out) == 2
    whys = sorted(r["evidence"][0]["why"] for _, r in out.iterrows())
    assert whys == ["cipher TLS_RSA_WITH_3DES_EDE_CBC_SHA", "version TLSv1.0"]


def test_modern_tls_and_non_control_plane_legacy_are_not_flagged() -> None:
    rows = [flow(path="node-to-apiserver", tls_version="TLSv1.2",
                 tls_cipher="TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"),
            flow(path="node-to-apiserver", tls_version="TLSv1.3", tls_cipher="TLS_AES_128_GCM_SHA256"),
            flow(path="other", resp_p=443, tls_version="TLSv1.0")]
    assert run(R, rows).empty
