from __future__ import annotations

from classifier.rules.pod_to_kubelet import PodToKubelet
from tests.rules.frames import flow, run

R = PodToKubelet()


def test_pod_calling_kubelet_is_flagged() -> None:
    a = flow(path="kubelet-direct", client_role="pod", resp_p=10250, tls_version="TLSv1.2")
    b = flow(path="kubelet-readonly", client_role="pod", resp_p=10255, plaintext=True)
    out = run(R, [a, b])
    assert sorted(out["subject"]) == ["10.244.1.5 -> 10.0.0.11:10250",
                                      "10.244.1.5 -> 10.0.0.11:10255"]


def test_apiserver_and_connect_only_probes_are_not_flagged() -> None:
    rows = [flow(path="apiserver-to-kubelet", client_role="apiserver", resp_p=10250),
            flow(path="kubelet-direct", client_role="pod", resp_p=10250, conn_state="REJ",
                 orig_bytes=0, resp_bytes=0),
            flow(path="kubelet-direct", client_role="pod", resp_p=10250, conn_state="SF",
                 orig_bytes=0, resp_bytes=0)]
    assert run(R, rows).empty
