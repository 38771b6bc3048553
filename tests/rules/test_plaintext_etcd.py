from __future__ import annotations

from classifier.rules.plaintext_etcd import PlaintextEtcd
from tests.rules.frames import flow, run

R = PlaintextEtcd()


def test_plaintext_etcd_grpc_is_flagged() -> None:
    f = flow(path="etcd", plaintext=True, resp_p=2379, app_proto="grpc",
             grpc_method="/etcdserverpb.KV/Range", payload_hint="etcd-registry")
    row = run(R, [f]).iloc[0]
    assert row["evidence"][0]["grpc_method"] == "/etcdserverpb.KV/Range"
    assert "KHV034" in row["references"]


def test_tls_etcd_and_refused_probe_are_not_flagged() -> None:
    rows = [flow(path="etcd", plaintext=False, resp_p=2379, tls_version="TLSv1.3"),
            flow(path="etcd", resp_p=2379, conn_state="REJ", orig_bytes=0, resp_bytes=0,
                 plaintext=True)]
    assert run(R, rows).empty
