"""proxy_chains: the client leg and the apiserver's proxy leg of one request, linked."""

from __future__ import annotations

import pandas as pd

from classifier import schema
from classifier.forensics.proxy import PROXY_CHAINS, proxy_chains
from tests.conftest import CAPTURES

T0 = pd.Timestamp("2024-05-01T12:00:00Z")
API = "192.168.10.10"
URI = "/api/v1/namespaces/default/pods/web-1:8080/proxy/index.html"


def _flow(uid: str, t: float, orig: str, resp: str, port: int, dur: float,
          tls: str | None = None) -> dict[str, object]:
    return dict(uid=uid, ts=T0 + pd.Timedelta(seconds=t), duration=dur, orig_h=orig,
                orig_p=40000, resp_h=resp, resp_p=port, proto="tcp", tls_version=tls,
                orig_burst_interval=float("nan"), path_confidence=float("nan"),
                server_name="default/web-1" if resp == "10.244.1.3" else None)


def _http(uid: str, t: float, orig: str, resp: str, uri: str, xfu: str | None = None,
          xff: str | None = None) -> dict[str, object]:
    return dict(uid=uid, ts=T0 + pd.Timedelta(seconds=t), orig_h=orig, resp_h=resp,
                resp_p=8080, method="GET", uri=uri, status_code=200, x_forwarded_uri=xfu,
                x_forwarded_for=xff)


def test_links_both_legs() -> None:
    flows = schema.conform([
        _flow("Cclear", 0.0, "10.0.0.50", API, 8080, 2.0),                # plaintext client leg
        _flow("Cproxy1", 0.5, API, "10.244.1.3", 8080, 0.1),
        _flow("Ctls", 10.0, "10.0.0.60", API, 6443, 5.0, tls="TLSv1.3"),   # encrypted client leg
        _flow("Cproxy2", 11.0, API, "10.244.1.3", 8080, 0.1),
        _flow("Ctls2", 20.0, "10.0.0.70", API, 6443, 9.0, tls="TLSv1.3"),
        _flow("Ctls3", 21.0, "10.0.0.70", API, 6443, 9.0, tls="TLSv1.3"),
        _flow("Cproxy3", 22.0, API, "10.244.1.3", 8080, 0.1),
        _flow("Cproxy4", 40.0, API, "10.244.1.3", 8080, 0.1),
    ], schema.FLOWS)
    http = schema.conform([
        _http("Cclear", 0.1, "10.0.0.50", API, URI),
        _http("Cproxy1", 0.5, API, "10.244.1.3", "/index.html", URI, "10.0.0.50"),
        _http("Cproxy2", 11.0, API, "10.244.1.3", "/index.html", URI, "10.0.0.60, 10.1.1.1"),
        _http("Cproxy3", 22.0, API, "10.244.1.3", "/index.html", URI, "10.0.0.70"),
        _http("Cproxy4", 40.0, API, "10.244.1.3", "/index.html", URI, "10.0.0.80"),
        _http("Cother", 41.0, "10.0.0.5", "10.0.0.6", "/"),
    ], schema.HTTP)
    out = proxy_chains(flows, http)
    assert list(out.columns) == PROXY_CHAINS.names
    got = {r.proxy_uid: (r.match, None if pd.isna(r.client_uid) else r.client_uid, r.client_h,
                         r.candidates)
           for r in out.itertuples()}
    assert got == {
        "Cproxy1": ("uri", "Cclear", "10.0.0.50", 1),
        "Cproxy2": ("xff-time", "Ctls", "10.0.0.60", 1),
        "Cproxy3": ("ambiguous", "Ctls3", "10.0.0.70", 2),
        "Cproxy4": ("none", None, "10.0.0.80", 0),
    }
    assert out["target_name"].iloc[0] == "default/web-1"


def test_no_proxy_legs() -> None:
    out = proxy_chains(schema.empty(schema.FLOWS), schema.empty(schema.HTTP))
    assert len(out) == 0 and list(out.columns) == PROXY_CHAINS.names


def test_lab_capture() -> None:
    import json

    import pytest

    import classifier

    capture = CAPTURES / "cluster-tls12.pcap"
    if not capture.exists():
        pytest.skip("lab capture not generated")
    labels = json.loads((CAPTURES / "cluster-tls12.labels.json").read_text())
    proxied = [c for c in labels["connections"] if str(c.get("path")) == "apiserver-proxy"]
    r = classifier.analyze(str(capture))
    out = proxy_chains(r.flows, r.http)
    assert len(out) == len(proxied) > 0
    assert set(out["target_h"]) == {c["server"] for c in proxied}
    assert out["forwarded_uri"].str.startswith("/api/v1/namespaces/").all()
    # kubectl (outside the cluster) is the client of every proxied request in this run.
    assert out["client_uid"].notna().all()
