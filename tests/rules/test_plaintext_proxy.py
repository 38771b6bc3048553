from __future__ import annotations

from classifier.rules.plaintext_proxy import PlaintextProxy
from tests.rules.frames import flow, req, run

R = PlaintextProxy()


def test_plaintext_proxy_leg_shows_forwarded_uri() -> None:
    f = flow(path="apiserver-proxy", plaintext=True, orig_h="10.0.0.11", resp_h="10.244.1.7",
             resp_p=8080, server_name="default/web")
    uri = "/api/v1/namespaces/default/pods/web:8080/proxy/"
    out = run(R, [f], [req(f, uri="/", x_forwarded_uri=uri, status_code=200)])
    row = out.iloc[0]
    assert row["subject"] == "10.0.0.11 -> 10.244.1.7:8080"
    assert row["evidence"][0]["forwarded_uri"] == uri
    assert row["evidence"][0]["server_name"] == "default/web"


def test_https_proxy_leg_and_plain_pod_traffic_are_not_flagged() -> None:
    rows = [flow(path="apiserver-proxy", plaintext=False, tls_version="TLSv1.2"),
            flow(path="other", plaintext=True, resp_p=8080)]
    assert run(R, rows).empty
