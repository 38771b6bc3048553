"""Dissection on the lab's reference captures: labels and tshark agree with us per flow."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import lab_files
from tests.dissect.oracle import by_key, dissected, endpoints_key, tshark_rows


def _labels(cap: Path) -> dict[str, object]:
    path = Path(str(cap).rsplit(".pcap", 1)[0] + ".labels.json")
    data: dict[str, object] = json.loads(path.read_text())
    return data


LABS = lab_files()


@pytest.mark.skipif(not LABS, reason="lab captures not committed yet")
@pytest.mark.parametrize("cap", LABS, ids=[p.name for p in LABS])
def test_labels_tls_version_plaintext_and_mtls(cap: Path) -> None:
    flows = by_key(dissected(str(cap)))
    checked = 0
    for c in _labels(cap)["connections"]:  # type: ignore[attr-defined]
        if c["transport"] != "tcp":
            continue
        rows = flows.get(endpoints_key(c["client"], c["client_port"], c["server"],
                                       c["server_port"]))
        if not rows:
            continue
        row = rows[0]
        if c["tls_version"]:
            assert row["app_proto"] in ("tls", "connect"), c["id"]
            assert row["tls_version"] == c["tls_version"], c["id"]
        if c["plaintext"] and (row["orig_payload"] or b""):
            assert row["app_proto"] not in ("tls", "unknown"), c["id"]
        if c["auth"] == "mtls" and c["tls_version"] in ("TLSv1.2", "TLSv1.1"):
            assert row["client_cert_presented"] is True, c["id"]
            assert row["client_cert_subject"], c["id"]
        if c["auth"] in ("bearer", "basic"):
            assert c["auth"] in (row["auth_kind"] or ""), c["id"]
        checked += 1
    assert checked


@pytest.mark.skipif(not LABS, reason="lab captures not committed yet")
@pytest.mark.parametrize("cap", LABS, ids=[p.name for p in LABS])
def test_sni_and_http_requests_match_tshark(tshark: str, cap: Path) -> None:
    d = dissected(str(cap))
    flows, http = by_key(d), by_key(d, "http")
    for key, (sni,) in tshark_rows(cap, ["tls.handshake.extensions_server_name"],
                                   "tls.handshake.type == 1"):
        if key in flows:
            assert {r["tls_sni"] for r in flows[key]} & {sni or None}, key
    req: dict[frozenset[str], list[tuple[str, str]]] = {}
    for key, (method, uri) in tshark_rows(cap, ["http.request.method", "http.request.uri"],
                                          "http.request"):
        req.setdefault(key, []).append((method, uri))
    for key, theirs in req.items():
        ours = [(r["method"], r["connect_target"] if r["method"] == "CONNECT" else
                 r["uri"] + ("?" + r["query"] if r["query"] else ""))
                for r in http.get(key, []) if r["version"] != "HTTP/2"]
        theirs_clean = [(m, u) for m, u in theirs if "token=" not in u]
        ours_clean = [(m, u) for m, u in ours if "<redacted:" not in u]
        assert ours, key
        assert ours_clean == theirs_clean[:len(ours_clean)], key
