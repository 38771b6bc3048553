"""Result → ReportData: everything the HTML and Markdown reports show, computed once."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePath
from typing import Any, Final

from classifier.report.tables import (
    accounting_rows,
    edges_rows,
    findings_rows,
    hosts_rows,
    http_rows,
    paths_rows,
    severity_counts,
    time_range,
    tls_rows,
)
from classifier.tablefile import jsonable

MAX_HOSTS: Final = 500
"""Hosts listed in a report (hosts.csv has them all), control plane first."""


@dataclass(frozen=True, slots=True)
class ReportData:
    """Plain values (str/int/lists/dicts) ready to format; capture strings still raw."""

    title: str
    version: str
    generated: str
    command: str
    first_ts: str | None
    last_ts: str | None
    flows: int
    hosts_count: int
    packets: dict[str, int]
    severity_counts: dict[str, int]
    active_findings: int
    suppressed_findings: int
    findings: list[dict[str, Any]]
    paths: list[dict[str, Any]]
    edges: list[dict[str, Any]]
    edges_total: int
    hosts: list[dict[str, Any]]
    hosts_total: int
    tls: list[dict[str, Any]]
    tls_total: int
    http: list[dict[str, Any]]
    http_total: int
    inputs: list[dict[str, Any]]
    accounting: list[dict[str, Any]]
    filters: dict[str, Any]
    outputs: list[str] = field(default_factory=list)
    graph_note: str = ""


def flat_text(v: Any) -> str:
    """An evidence or filter value → one line of text: lists joined by ", ", mappings as
    "k=v; ...", None as "" (the renderers escape it for HTML or Markdown)."""
    if isinstance(v, list | tuple):
        return ", ".join(flat_text(x) for x in v)
    if isinstance(v, dict):
        return "; ".join(f"{k}={flat_text(x)}" for k, x in v.items())
    return "" if v is None else str(v)


def generated_at() -> str:
    """Now in UTC as ISO 8601 — or SOURCE_DATE_EPOCH when set, for reproducible reports."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    when = (datetime.fromtimestamp(int(epoch), tz=UTC) if epoch.isdigit()
            else datetime.now(tz=UTC))
    return when.replace(microsecond=0).isoformat()


def build_report_data(result: Any, *, outputs: list[str] | None = None,
                      generated: str | None = None, command: str = "",
                      graph_note: str = "") -> ReportData:
    """Result (+ the files written, generation time, command line) → ReportData."""
    summary = result.summary()
    first, last = time_range(result)
    findings = findings_rows(result.findings)
    names = [PurePath(str(i["capture"])).name for i in summary["inputs"]]
    title = "kubewire report: " + (", ".join(names[:3]) + (f" and {len(names) - 3} more"
                                                            if len(names) > 3 else "")
                                   if names else "no capture")
    edges, total = edges_rows(result)
    tls, tls_total = tls_rows(result.tls)
    http, http_total = http_rows(result.http)
    return ReportData(
        title=title, version=str(result.version), generated=generated or generated_at(),
        command=command, first_ts=first, last_ts=last, flows=len(result.flows),
        hosts_count=len(result.hosts), packets=dict(summary["packets"]),
        severity_counts=severity_counts(result.findings),
        active_findings=sum(1 for f in findings if not f.get("suppressed")),
        suppressed_findings=sum(1 for f in findings if f.get("suppressed")),
        findings=findings, paths=paths_rows(result), edges=edges, edges_total=total,
        hosts=hosts_rows(result.hosts)[:MAX_HOSTS], hosts_total=len(result.hosts), tls=tls,
        tls_total=tls_total, http=http,
        http_total=http_total, inputs=jsonable(summary["inputs"]),
        accounting=accounting_rows(result.stats), filters=jsonable(dict(result.filters)),
        outputs=list(outputs or []), graph_note=graph_note,
    )
