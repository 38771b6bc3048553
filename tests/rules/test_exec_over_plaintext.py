from __future__ import annotations

from classifier.rules.exec_over_plaintext import ExecOverPlaintext
from tests.rules.frames import flow, req, run

R = ExecOverPlaintext()


def test_spdy_exec_upgrade_in_plaintext() -> None:
    f = flow(path="apiserver-to-kubelet", plaintext=True, resp_p=10250, k8s_operation="exec")
    out = run(R, [f], [req(f, method="POST", uri="/exec/default/web/app",
                           query="command=sh&input=1&output=1&tty=1", status_code=101,
                           upgrade="SPDY/3.1", stream_protocol="v4.channel.k8s.io")])
    row = out.iloc[0]
    assert row["severity"] == "high"
    ev = row["evidence"][0]
    assert ev["stream_protocol"] == "v4.channel.k8s.io" and ev["status"] == 101
    assert ev["request"].startswith("POST /exec/default/web/app?command=sh")


def test_port_forward_via_apiserver_subresource() -> None:
    f = flow(path="client-to-apiserver", plaintext=True, resp_p=8080)
    out = run(R, [f], [req(f, uri="/api/v1/namespaces/default/pods/web/portforward",
                           upgrade="SPDY/3.1", stream_protocol="portforward.k8s.io")])
    assert len(out) == 1


def test_tls_exec_and_non_stream_plaintext_are_not_flagged() -> None:
    a = flow(path="apiserver-to-kubelet", plaintext=False, resp_p=10250, k8s_operation="exec",
             tls_version="TLSv1.3")
    b = flow(path="client-to-apiserver", plaintext=True, resp_p=8080)
    c = flow(path="other", plaintext=True, resp_p=2375)
    out = run(R, [a, b, c], [req(b, uri="/api/v1/pods", status_code=200),
                             req(c, method="POST", uri="/v1.41/containers/x/attach",
                                 upgrade="tcp", status_code=101)])
    assert out.empty
