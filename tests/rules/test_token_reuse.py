from __future__ import annotations

from classifier.rules.token_reuse import TokenReuse
from tests.rules.frames import flow, req, run

R = TokenReuse()


def test_same_token_from_two_sources() -> None:
    a = flow(path="pod-to-apiserver", plaintext=True, orig_h="10.244.1.5", resp_p=8080)
    b = flow(path="pod-to-apiserver", plaintext=True, orig_h="10.244.2.6", resp_p=8080)
    out = run(R, [a, b], [req(a, auth_kind="bearer", auth_fingerprint="aaaabbbbcccc"),
                          req(b, auth_kind="bearer", auth_fingerprint="aaaabbbbcccc")])
    row = out.iloc[0]
    assert row["subject"] == "bearer aaaabbbbcccc"
    assert row["evidence"][0]["sources"] == ["10.244.1.5", "10.244.2.6"]
    assert sorted(row["uids"]) == sorted([a["uid"], b["uid"]])


def test_one_source_or_different_tokens_are_not_reuse() -> None:
    a = flow(path="pod-to-apiserver", plaintext=True, orig_h="10.244.1.5", resp_p=8080)
    b = flow(path="pod-to-apiserver", plaintext=True, orig_h="10.244.1.5", resp_p=8080)
    c = flow(path="pod-to-apiserver", plaintext=True, orig_h="10.244.2.6", resp_p=8080)
    d = flow(path="other", plaintext=True, orig_h="10.244.9.9", resp_p=80)
    out = run(R, [a, b, c, d], [req(a, auth_kind="bearer", auth_fingerprint="111111111111"),
                                req(b, auth_kind="bearer", auth_fingerprint="111111111111"),
                                req(c, auth_kind="bearer", auth_fingerprint="222222222222"),
                                req(d, auth_kind="bearer", auth_fingerprint="222222222222")])
    assert out.empty
