"""Analyzer rules: one module per rule, listed explicitly in registry.RULES."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import pandas as pd

from classifier import schema
from classifier.rules.base import Context, Finding, Rule, Severity
from classifier.rules.baseline import Baseline, load_baseline

__all__ = ["Baseline", "Context", "Finding", "Rule", "Severity", "evaluate", "load_baseline"]

log = logging.getLogger("kubewire.rules")

MAX_EVIDENCE: Final = 50
"""Evidence entries kept per finding (uids are always complete); the rest are counted."""


def evaluate(flows: pd.DataFrame, *, http: pd.DataFrame | None = None,
             tls: pd.DataFrame | None = None, certificates: pd.DataFrame | None = None,
             hosts: pd.DataFrame | None = None, baseline: Baseline | None = None,
             rules: Sequence[Rule] | None = None) -> pd.DataFrame:
    """Tagged flows (+ detail tables, baseline) → findings (schema.FINDINGS).

    One row per (rule, subject), sorted by severity, id, subject. A rule that raises is
    logged and skipped; failures are listed in ``frame.attrs["rule_errors"]`` (id → error).
    """
    from classifier.rules.registry import RULES

    ctx = Context.build(flows, http=http, tls=tls, certificates=certificates, hosts=hosts)
    merged: dict[tuple[str, str], tuple[Rule, list[Finding]]] = {}
    errors: dict[str, str] = {}
    for rule in rules if rules is not None else RULES:
        try:
            found = list(rule.check(ctx))
        except Exception as exc:  # rule boundary: one broken rule never stops the run
            log.exception("rule %s failed", rule.id)
            errors[rule.id] = f"{type(exc).__name__}: {exc}"
            continue
        for f in found:
            merged.setdefault((rule.id, f.subject), (rule, []))[1].append(f)
    times = _flow_times(ctx.flows)
    out = [_row(rule, subject, fs, times, baseline) for (_, subject), (rule, fs) in merged.items()]
    out.sort(key=lambda r: (Severity(r["severity"]).rank, r["id"], r["subject"]))
    frame = schema.conform(out, schema.FINDINGS) if out else schema.empty(schema.FINDINGS)
    frame["severity"] = frame["severity"].astype(
        pd.CategoricalDtype([s.value for s in Severity], ordered=True))
    frame.attrs["rule_errors"] = errors
    return frame


def _flow_times(flows: pd.DataFrame) -> dict[str, tuple[pd.Timestamp, pd.Timestamp]]:
    """uid → (first packet time, last packet time)."""
    if flows.empty:
        return {}
    start = pd.to_datetime(flows["ts"], utc=True)
    dur = pd.to_timedelta(flows["duration"].astype("float64").fillna(0.0), unit="s")
    end = start + dur
    return dict(zip(flows["uid"].astype(str), zip(start, end, strict=True), strict=True))


def _row(rule: Rule, subject: str, found: list[Finding],
         times: Mapping[str, tuple[pd.Timestamp, pd.Timestamp]],
         baseline: Baseline | None) -> dict[str, Any]:
    uids: list[str] = []
    seen: set[str] = set()
    evidence: list[Mapping[str, Any]] = []
    for f in found:
        for u in f.uids:
            if u not in seen:
                seen.add(u)
                uids.append(u)
        evidence.extend(f.evidence)
    # the worst variant among the merged findings gives the row its severity and title
    severity, title = min(((f.severity or rule.severity, f.title or rule.title) for f in found),
                          key=lambda st: st[0].rank)
    spans = [times[u] for u in uids if u in times]
    ev = [_plain_dict(e) for e in evidence[:MAX_EVIDENCE]]
    more = max(0, len(evidence) - MAX_EVIDENCE) + sum(f.more for f in found)
    if more:
        ev.append({"more": more})
    reason = baseline.reason_for(rule.id, subject) if baseline is not None else None
    return {
        "id": rule.id, "severity": severity.value, "title": title, "subject": subject,
        "count": len(uids),
        "first_seen": min((s for s, _ in spans), default=pd.NaT),
        "last_seen": max((e for _, e in spans), default=pd.NaT),
        "uids": uids, "evidence": ev, "references": list(rule.references),
        "suppressed": reason is not None, "suppress_reason": reason,
    }


def _plain_dict(e: Mapping[str, Any]) -> dict[str, Any]:
    """Evidence dict → JSON-ready: NA dropped, numpy scalars as Python values."""
    out: dict[str, Any] = {}
    for k, v in e.items():
        p = _plain(v)
        if p is not None:
            out[k] = p
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return _plain_dict(v)
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if hasattr(v, "item") and not isinstance(v, str | bytes):
        return v.item()
    return v


def rule_ids(rules: Iterable[Rule] | None = None) -> list[str]:
    """The registered rule ids, in registry order."""
    from classifier.rules.registry import RULES

    return [r.id for r in (rules if rules is not None else RULES)]
