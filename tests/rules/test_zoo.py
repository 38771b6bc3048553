"""The zoo's non-Kubernetes captures raise no Kubernetes findings — even those that carry
plaintext Basic/Bearer credentials, because CREDENTIALS_IN_PLAINTEXT is scoped to
control-plane paths. The same flows re-tagged as a control-plane path do raise it, with the
credential's kind and fingerprint only (tshark shows the value we must not leak)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from classifier import api, schema
from classifier.errors import KubewireError
from classifier.rules import evaluate
from tests.conftest import zoo_capture, zoo_files
from tests.tshark import fields

ZOO_FILES = zoo_files()
CREDENTIAL_CAPTURES = ["zeek/basic-auth-with-colon.pcap", "suricata-verify/http-auth-bearer__input.pcap"]


@pytest.mark.slow
@pytest.mark.skipif(not ZOO_FILES, reason="captures zoo not present")
@pytest.mark.parametrize("capture", ZOO_FILES, ids=[p.name for p in ZOO_FILES])
def test_no_kubernetes_findings(capture: Path) -> None:
    try:
        result = api.analyze(str(capture))
    except KubewireError:
        pytest.skip("not readable as a capture (covered by the ingest tests)")
    assert result.findings.empty, result.findings[["id", "subject"]].to_string()
    assert not result.findings.attrs.get("rule_errors")


@pytest.mark.parametrize("name", CREDENTIAL_CAPTURES)
def test_plaintext_credentials_only_count_on_control_plane_paths(name: str, tshark: str) -> None:
    capture = zoo_capture(name)
    result = api.analyze(capture)
    assert result.findings.empty
    seen = result.http[result.http["auth_kind"].notna()]
    assert not seen.empty, "the dissector should see the credential (else this test is vacuous)"
    flows = result.flows.copy()
    flows["path"] = flows["path"].astype(str).where(~flows["uid"].isin(seen["uid"]),
                                                    "pod-to-apiserver")
    out = evaluate(schema.conform(flows, schema.FLOWS), http=result.http)
    cred = out[out["id"] == "CREDENTIALS_IN_PLAINTEXT"]
    assert len(cred) == 1 and set(cred.iloc[0]["uids"]) == set(seen["uid"])
    dumped = json.dumps(cred.iloc[0]["evidence"])
    values = {v for row in fields(capture, ["http.authorization"]) for v in row if v}
    assert values, "tshark sees the Authorization header"
    for v in values:
        secret = v.split(" ", 1)[-1]
        assert secret not in dumped
    assert cred.iloc[0]["evidence"][0]["auth_fingerprint"]
