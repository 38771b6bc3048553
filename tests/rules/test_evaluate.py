"""evaluate(): schema, ordering, merging, rule failures, baseline suppression."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

import pandas as pd
import pytest

from classifier import schema
from classifier.rules import evaluate
from classifier.rules.base import Context, Finding, Rule, Severity
from classifier.rules.baseline import parse_baseline
from classifier.rules.registry import RULES, RULES_BY_ID
from tests.rules.frames import flow, flows


class _Boom:
    """Always fails."""

    id: ClassVar[str] = "BOOM"
    severity: ClassVar[Severity] = Severity.LOW
    title: ClassVar[str] = "boom"
    references: ClassVar[tuple[str, ...]] = ()

    def check(self, ctx: Context) -> Iterable[Finding]:
        raise RuntimeError("broken rule")


def _sample() -> pd.DataFrame:
    return flows(
        flow(path="client-to-apiserver", plaintext=True, resp_p=8080),
        flow(path="apiserver-to-kubelet", resp_p=10250, tls_version="TLSv1.3", auth="unknown"),
        flow(path="ssh-tunnel", resp_p=22, client_role="apiserver"),
        flow(path="etcd", plaintext=True, resp_p=2379, auth="none"),
    )


def test_empty_input_gives_empty_table_with_schema() -> None:
    out = evaluate(schema.empty(schema.FLOWS))
    assert list(out.columns) == schema.FINDINGS.names and out.empty


def test_rows_sorted_by_severity_then_id_and_conform_to_schema() -> None:
    out = evaluate(_sample())
    assert list(out.columns) == schema.FINDINGS.names
    ranks = [Severity(s).rank for s in out["severity"]]
    assert ranks == sorted(ranks)
    keys = list(zip(ranks, out["id"], out["subject"], strict=True))
    assert keys == sorted(keys)
    assert set(out["id"]) == {"PLAINTEXT_APISERVER", "UNVERIFIED_TLS_PEER",
                              "SSH_TUNNEL_DEPRECATED", "PLAINTEXT_ETCD", "UNAUTH_ETCD"}
    pd.testing.assert_frame_equal(out, schema.conform(out, schema.FINDINGS), check_dtype=False)
    assert (out["first_seen"] <= out["last_seen"]).all()
    assert not out["suppressed"].any()


def test_deterministic() -> None:
    sample = _sample()
    a, b = evaluate(sample), evaluate(sample.iloc[::-1].reset_index(drop=True))
    pd.testing.assert_frame_equal(a, b)


def test_broken_rule_is_counted_not_fatal(caplog: pytest.LogCaptureFixture) -> None:
    rules: list[Rule] = [_Boom(), RULES_BY_ID["SSH_TUNNEL_DEPRECATED"]]
    out = evaluate(_sample(), rules=rules)
    assert list(out["id"]) == ["SSH_TUNNEL_DEPRECATED"]
    assert out.attrs["rule_errors"] == {"BOOM": "RuntimeError: broken rule"}
    assert "BOOM" in caplog.text


def test_baseline_keeps_accepted_findings_suppressed_with_reason() -> None:
    base = parse_baseline([
        {"id": "SSH_TUNNEL_DEPRECATED", "subject": "*", "reason": "GKE legacy, ticket 42"},
        {"id": "PLAINTEXT_ETCD", "subject": "10.244.1.5 -> 10.0.0.11:2379", "reason": "lab"},
    ])
    out = evaluate(_sample(), baseline=base).set_index("id")
    assert out.loc["SSH_TUNNEL_DEPRECATED", "suppressed"]
    assert out.loc["SSH_TUNNEL_DEPRECATED", "suppress_reason"] == "GKE legacy, ticket 42"
    assert out.loc["PLAINTEXT_ETCD", "suppressed"]
    assert not out.loc["UNAUTH_ETCD", "suppressed"]
    assert pd.isna(out.loc["UNAUTH_ETCD", "suppress_reason"])


def test_every_registered_rule_is_documented() -> None:
    ids = [r.id for r in RULES]
    assert len(ids) == len(set(ids))
    for r in RULES:
        assert r.id.isupper() and r.title and r.references and (type(r).__doc__ or "").strip()
        assert isinstance(r.severity, Severity)
