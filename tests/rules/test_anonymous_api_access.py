from __future__ import annotations

from classifier.rules.anonymous_api_access import AnonymousApiAccess
from tests.rules.frames import flow, req, run

R = AnonymousApiAccess()


def _f(**kw: object) -> dict[str, object]:
    base: dict[str, object] = {"path": "client-to-apiserver", "plaintext": True, "resp_p": 8080,
                               "auth": "none"}
    return flow(**(base | kw))


def test_served_anonymous_request_is_high() -> None:
    f = _f()
    out = run(R, [f], [req(f, uri="/api/v1/namespaces/kube-system/secrets", status_code=200)])
    assert len(out) == 1
    row = out.iloc[0]
    assert row["severity"] == "high" and row["uids"] == [f["uid"]]
    assert row["evidence"][0]["request"] == "GET /api/v1/namespaces/kube-system/secrets"
    assert row["evidence"][0]["status"] == 200


def test_public_discovery_paths_are_low() -> None:
    f = _f()
    out = run(R, [f], [req(f, uri="/version", status_code=200),
                       req(f, uri="/healthz", status_code=200, trans_depth=2)])
    assert out.iloc[0]["severity"] == "low"


def test_refused_403_is_info_and_401_is_not_reported() -> None:
    f403, f401 = _f(), _f(resp_h="10.0.0.12")
    out = run(R, [f403, f401], [req(f403, uri="/api/v1/pods", status_code=403),
                                req(f401, uri="/api/v1/pods", status_code=401)])
    assert list(out["subject"]) == ["10.244.1.5 -> 10.0.0.11:8080"]
    assert out.iloc[0]["severity"] == "info"


def test_request_with_credentials_is_not_anonymous() -> None:
    f = _f(auth="bearer")
    out = run(R, [f], [req(f, uri="/api/v1/pods", status_code=200, auth_kind="bearer",
                           auth_fingerprint="0123456789ab")])
    assert out.empty


def test_first_request_columns_used_without_http_table() -> None:
    f = _f(http_method="GET", http_path="/api/v1/pods", http_status=200)
    assert run(R, [f]).iloc[0]["severity"] == "high"


def test_tls_flows_are_not_judged() -> None:
    f = flow(path="client-to-apiserver", plaintext=False, tls_version="TLSv1.2", auth="none")
    assert run(R, [f]).empty


def test_kubelet_readonly_served_is_high_and_public_paths_only_count_for_apiserver() -> None:
    f = flow(path="kubelet-readonly", plaintext=True, resp_p=10255, auth="none")
    g = flow(path="kubelet-readonly", plaintext=True, resp_p=10255, resp_h="10.0.0.12",
             auth="none")
    out = run(R, [f, g], [req(f, uri="/pods", status_code=200),
                          req(g, uri="/healthz", status_code=200)]).set_index("subject")
    assert out.loc["10.244.1.5 -> 10.0.0.11:10255", "severity"] == "high"
    assert out.loc["10.244.1.5 -> 10.0.0.12:10255", "severity"] == "high"


def test_component_ports_are_not_judged() -> None:
    f = flow(path="control-plane-other", plaintext=True, resp_p=10251, auth="none")
    assert run(R, [f], [req(f, uri="/metrics", status_code=200)]).empty
