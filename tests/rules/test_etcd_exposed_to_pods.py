from __future__ import annotations

from classifier.rules.etcd_exposed_to_pods import EtcdExposedToPods
from tests.rules.frames import flow, run

R = EtcdExposedToPods()


def test_pod_reaching_etcd_is_flagged_even_over_tls() -> None:
    f = flow(path="etcd", client_role="pod", resp_p=2379, tls_version="TLSv1.3")
    assert run(R, [f]).iloc[0]["uids"] == [f["uid"]]


def test_apiserver_to_etcd_and_refused_pod_probe_are_not_flagged() -> None:
    rows = [flow(path="etcd", client_role="apiserver", resp_p=2379),
            flow(path="etcd", client_role="pod", resp_p=2379, conn_state="REJ", orig_bytes=0,
                 resp_bytes=0)]
    assert run(R, rows).empty
