from __future__ import annotations

from classifier.rules import evaluate
from classifier.rules.diff import diff
from tests.rules.frames import flow, flows


def test_appeared_and_disappeared_findings_and_paths() -> None:
    common = flow(path="node-to-apiserver", tls_version="TLSv1.2", auth="mtls",
                  orig_h="10.0.0.21")
    old_only = flow(path="ssh-tunnel", client_role="apiserver", resp_p=22)
    new_only = flow(path="client-to-apiserver", plaintext=True, resp_p=8080, orig_h="10.0.0.50")
    noise = flow(path="other", resp_p=53, proto="udp", orig_h="10.244.1.9")
    a, b = flows(common, old_only), flows(common, new_only, noise)
    d = diff(evaluate(a), a, evaluate(b), b)
    f = {(r["change"], r["id"]) for r in d.findings.to_dict("records")}
    assert f == {("disappeared", "SSH_TUNNEL_DEPRECATED"), ("appeared", "PLAINTEXT_APISERVER")}
    p = {(r["change"], r["path"], r["server"]) for r in d.paths.to_dict("records")}
    assert p == {("disappeared", "ssh-tunnel", "10.0.0.11:22"),
                 ("appeared", "client-to-apiserver", "10.0.0.11:8080")}
    doc = d.to_dict()
    assert doc["findings"][0]["change"] == "appeared"  # sorted: appeared before disappeared
    assert not d.empty


def test_same_input_is_no_change() -> None:
    a = flows(flow(path="node-to-apiserver", plaintext=True))
    d = diff(evaluate(a), a, evaluate(a), a)
    assert d.empty and d.to_dict() == {"findings": [], "paths": []}
