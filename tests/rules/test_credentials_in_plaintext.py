from __future__ import annotations

import json

from classifier.rules.credentials_in_plaintext import CredentialsInPlaintext
from tests.rules.frames import flow, req, run

R = CredentialsInPlaintext()


def test_bearer_token_on_control_plane_shows_kind_and_fingerprint_only() -> None:
    f = flow(path="pod-to-apiserver", plaintext=True, resp_p=8080, auth="bearer")
    out = run(R, [f], [req(f, uri="/api/v1/secrets", query="access_token=sekrit&limit=5",
                           auth_kind="bearer", auth_fingerprint="9f86d081884c", status_code=200)])
    row = out.iloc[0]
    ev = row["evidence"][0]
    assert ev["auth_kind"] == "bearer" and ev["auth_fingerprint"] == "9f86d081884c"
    assert "sekrit" not in json.dumps(row["evidence"])
    assert ev["request"] == "GET /api/v1/secrets?access_token=<redacted>&limit=5"


def test_credentials_off_the_control_plane_or_in_tls_are_not_flagged() -> None:
    a = flow(path="other", plaintext=True, resp_p=8000, auth="basic", auth_kind="basic")
    b = flow(path="pod-to-apiserver", plaintext=False, tls_version="TLSv1.3", auth="unknown")
    c = flow(path="pod-to-apiserver", plaintext=True, resp_p=8080, auth="none")
    out = run(R, [a, b, c], [req(c, uri="/version", status_code=200)])
    assert out.empty
