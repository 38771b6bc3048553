"""Findings on the lab's labelled captures equal their labels (issue 3 ground truth).

For every captures/*.labels.json: every expected finding is raised and covers the flows of
every connection it lists (recall), no other rule id is raised (precision), and per
connection the set of finding ids covering its flows equals the connection's ``findings``.
Connections are matched to flows by (proto, orig_h, orig_p, resp_h, resp_p).

The lab labels the rules of issue 6's list (captures.lab.labels.FINDINGS). For the analyzer's
additional rules the expectation is derived from each connection's labelled facts instead
(:func:`_derived_findings`), and held to the same per-connection equality.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from classifier import api
from classifier.rules.registry import RULES
from tests.conftest import CAPTURES, lab_files

try:
    from captures.lab.labels import FINDINGS as LABELLED_RULES
except ImportError:  # the lab package is absent: every rule is labelled
    LABELLED_RULES = tuple(r.id for r in RULES)


def _derived_findings(conn: dict[str, Any]) -> set[str]:
    """A labelled connection → the additional rules it must raise, from its labelled facts.

    ETCD_EXPOSED_TO_PODS: a pod's connection to etcd that got an answer (TLS negotiated, or a
    plaintext request). TOKEN_REUSE: no lab scenario replays a credential on a plaintext
    leg from a second address (the stolen token travels in TLS), so never.
    """
    out = set()
    answered = conn.get("tls_version") is not None or (
        conn.get("plaintext") and conn.get("k8s_operation") not in (None, "scan"))
    if conn.get("path") == "etcd" and conn.get("client_role") == "pod" and answered:
        out.add("ETCD_EXPOSED_TO_PODS")
    return out - set(LABELLED_RULES)  # once the lab labels a rule, its labels decide


def _labels_of(capture: Path) -> dict[str, Any]:
    stem = capture.name.split(".pcap")[0]
    data: dict[str, Any] = json.loads((capture.parent / f"{stem}.labels.json").read_text())
    return data


def _inventory(labels: dict[str, Any]) -> list[str]:
    return [str(CAPTURES / labels[k]) for k in ("inventory", "kubewire_inventory")
            if labels.get(k) and (CAPTURES / labels[k]).exists()]


_cache: dict[Path, tuple[dict[str, Any], api.Result]] = {}


def _analyzed(capture: Path) -> tuple[dict[str, Any], api.Result]:
    if capture not in _cache:
        labels = _labels_of(capture)
        _cache[capture] = (labels, api.analyze(str(capture), _inventory(labels) or None))
    return _cache[capture]


def _flow_index(flows: pd.DataFrame) -> dict[tuple[str, str, int, str, int], list[str]]:
    idx: dict[tuple[str, str, int, str, int], list[str]] = {}
    for r in flows[["proto", "orig_h", "orig_p", "resp_h", "resp_p", "uid"]].to_dict("records"):
        key = (str(r["proto"]), str(r["orig_h"]), int(r["orig_p"]), str(r["resp_h"]),
               int(r["resp_p"]))
        idx.setdefault(key, []).append(str(r["uid"]))
    return idx


def _conn_uids(conn: dict[str, Any], idx: dict[tuple[str, str, int, str, int], list[str]]
               ) -> list[str]:
    key = (conn["transport"], conn["client"], int(conn["client_port"]), conn["server"],
           int(conn["server_port"]))
    return idx.get(key, [])


CAPS = lab_files()


@pytest.mark.skipif(not CAPS, reason="no labelled captures in captures/ yet")
@pytest.mark.parametrize("capture", CAPS, ids=[p.name for p in CAPS])
def test_findings_equal_labels(capture: Path) -> None:
    labels, result = _analyzed(capture)
    assert not result.findings.attrs.get("rule_errors"), result.findings.attrs["rule_errors"]
    idx = _flow_index(result.flows)
    conns = {c["id"]: c for c in labels["connections"]}
    covering: dict[str, set[str]] = {}
    for r in result.findings.to_dict("records"):
        for u in r["uids"]:
            covering.setdefault(str(u), set()).add(str(r["id"]))
    raised = set(result.findings["id"].astype(str))
    expected = {e["id"] for e in labels.get("expected_findings", [])}
    expected |= set().union(*(_derived_findings(c) for c in conns.values()))
    problems: list[str] = []
    if raised - expected:
        problems.append(f"unexpected finding ids: {sorted(raised - expected)}")
    if expected - raised:
        problems.append(f"missing finding ids: {sorted(expected - raised)}")
    for e in labels.get("expected_findings", []):
        ids = result.findings[result.findings["id"] == e["id"]]
        covered = {str(u) for uids in ids["uids"] for u in uids}
        for cid in e["connections"]:
            uids = _conn_uids(conns[cid], idx)
            if not uids:
                problems.append(f"{e['id']}: connection {cid} has no flow")
            elif not set(uids) <= covered:
                problems.append(f"{e['id']}: connection {cid} not covered")
    for cid, c in conns.items():
        got = set().union(*(covering.get(u, set()) for u in _conn_uids(c, idx)))
        want = set(c.get("findings") or []) | _derived_findings(c)
        if got != want:
            problems.append(f"connection {cid}: findings {sorted(got)} != labels {sorted(want)}")
    assert not problems, "\n".join(problems)


@pytest.mark.skipif(not CAPS, reason="no labelled captures in captures/ yet")
@pytest.mark.parametrize("capture", CAPS, ids=[p.name for p in CAPS])
def test_evidence_points_at_real_frames(capture: Path) -> None:
    """Every evidence entry names the capture and the first frame of a covered flow."""
    _, result = _analyzed(capture)
    first = dict(zip(result.flows["uid"].astype(str), result.flows["first_frame"], strict=True))
    for r in result.findings.to_dict("records"):
        assert r["references"], r["id"]
        for ev in r["evidence"]:
            if "uid" in ev:
                assert ev["uid"] in r["uids"]
                assert ev["frame"] == int(first[ev["uid"]])
                assert ev["capture"] and Path(ev["capture"]).name == capture.name
