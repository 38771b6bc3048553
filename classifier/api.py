"""The public API: the CLI and notebooks call only what is here.

Pipeline (data flows one way):
ingest → flows → dissect → k8s tagging → rules → report/graph.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import TYPE_CHECKING, Any

import pandas as pd

from classifier import schema
from classifier.dissect import dissect
from classifier.flows import assemble
from classifier.forensics.filters import FlowFilter, apply_filter
from classifier.k8s import load_inventory, tag_paths
from classifier.rules import evaluate, load_baseline

if TYPE_CHECKING:
    from matplotlib.axes import Axes

PathArg = str | PathLike[str]
Progress = Callable[[int, int], None]
"""Called with (bytes read so far, total bytes or 0 when unknown)."""

VERSION = "0.1.0"


@dataclass(slots=True)
class Result:
    """Everything kubewire learned from one or more captures, as DataFrames.

    Each table follows its declaration in :mod:`classifier.schema`.
    """

    flows: pd.DataFrame
    """Tagged flows (schema.FLOWS)."""
    hosts: pd.DataFrame
    """One row per endpoint with its role (schema.HOSTS)."""
    findings: pd.DataFrame
    """Analyzer findings (schema.FINDINGS)."""
    tls: pd.DataFrame
    """One row per TLS handshake (schema.TLS)."""
    certificates: pd.DataFrame
    """One row per certificate seen, deduplicated by fingerprint (schema.CERTIFICATES)."""
    http: pd.DataFrame
    """One row per HTTP request/response pair (schema.HTTP)."""
    stats: pd.DataFrame
    """Packet accounting: every record read, by outcome and reason (schema.STATS)."""
    inputs: pd.DataFrame
    """The capture files read, with size, SHA-256, link types, time range (schema.INPUTS)."""
    version: str = VERSION
    filters: dict[str, Any] = field(default_factory=dict)
    """The filters applied to this result (for the chain of custody)."""

    def packet_totals(self) -> dict[str, int]:
        """Packet accounting → {'read', 'decoded', 'skipped', 'out_of_scope'}."""
        by = self.stats.groupby("outcome", observed=True)["packets"].sum()
        out = {k: int(by.get(k, 0)) for k in ("decoded", "skipped", "out_of_scope")}
        out["read"] = sum(out.values())
        return out

    def summary(self) -> dict[str, Any]:
        """The result → a JSON-ready dict of counts per path and finding, accounting, inputs."""
        paths = self.flows["path"].value_counts(dropna=False)
        sev = self.findings[~self.findings["suppressed"].fillna(False).astype(bool)]
        return {
            "kubewire_version": self.version,
            "flows": len(self.flows),
            "paths": {str(k): int(v) for k, v in paths.items()},
            "findings": {str(k): int(v) for k, v in sev["id"].value_counts().items()},
            "findings_by_severity": {
                str(k): int(v) for k, v in sev["severity"].value_counts().items() if v
            },
            "suppressed_findings": int(self.findings["suppressed"].fillna(False).sum()),
            "packets": self.packet_totals(),
            "skipped": {
                str(r.reason): int(r.packets)
                for r in self.stats[self.stats["outcome"] != "decoded"].itertuples()
            },
            "inputs": [
                {
                    "capture": r.capture, "format": r.format, "size": int(r.size),
                    "sha256": r.sha256, "link_types": r.link_types, "packets": int(r.packets),
                    "first_ts": None if pd.isna(r.first_ts) else r.first_ts.isoformat(),
                    "last_ts": None if pd.isna(r.last_ts) else r.last_ts.isoformat(),
                }
                for r in self.inputs.itertuples()
            ],
            "filters": self.filters,
        }

    def __repr__(self) -> str:
        t = self.packet_totals()
        return (f"<kubewire.Result {len(self.flows)} flows, {len(self.hosts)} hosts, "
                f"{len(self.findings)} findings, {t['read']} packets read "
                f"({t['decoded']} decoded, {t['skipped']} skipped, "
                f"{t['out_of_scope']} out of scope)>")

    def _repr_html_(self) -> str:
        s = self.summary()
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in s["paths"].items())
        frows = "".join(
            f"<tr><td>{html.escape(k)}</td><td>{v}</td></tr>" for k, v in s["findings"].items())
        p = s["packets"]
        return (
            "<div><b>kubewire result</b>: "
            f"{s['flows']} flows, {len(self.hosts)} hosts, {len(self.findings)} findings; "
            f"packets read {p['read']} (decoded {p['decoded']}, skipped {p['skipped']}, "
            f"out of scope {p['out_of_scope']})"
            "<table><tr><th>path</th><th>flows</th></tr>" + rows + "</table>"
            "<table><tr><th>finding</th><th>count</th></tr>" + frows + "</table></div>"
        )


def _as_list(paths: PathArg | Sequence[PathArg]) -> list[str]:
    if isinstance(paths, str | PathLike):
        return [str(paths)]
    return [str(p) for p in paths]


def read_flows(
    paths: PathArg | Sequence[PathArg],
    *,
    payload_bytes: int = 16384,
    strict: bool = False,
    progress: Progress | None = None,
    dissected: bool = True,
) -> pd.DataFrame:
    """Capture paths → the flow table (schema.FLOWS columns; tagging columns left NA).

    With ``dissected`` (default) the dissection columns are filled in too.
    Raises :class:`classifier.CaptureError` when an input cannot be read at all.
    """
    flows = assemble(_as_list(paths), payload_bytes=payload_bytes, strict=strict,
                     progress=progress)
    frame = flows.flows
    if dissected:
        frame = dissect(frame, strict=strict).flows
    return schema.conform(frame, schema.FLOWS)


def analyze(
    paths: PathArg | Sequence[PathArg],
    inventory: PathArg | Sequence[PathArg] | None = None,
    *,
    baseline: PathArg | None = None,
    filters: FlowFilter | None = None,
    payload_bytes: int = 16384,
    strict: bool = False,
    progress: Progress | None = None,
) -> Result:
    """Capture paths (+ optional inventory files, baseline, filters) → a full :class:`Result`."""
    inv = load_inventory(_as_list(inventory)) if inventory is not None else None
    base = load_baseline(str(baseline)) if baseline is not None else None
    assembled = assemble(_as_list(paths), payload_bytes=payload_bytes, strict=strict,
                         progress=progress)
    dis = dissect(assembled.flows, strict=strict)
    tagged = tag_paths(dis.flows, inventory=inv, http=dis.http, tls=dis.tls,
                       certificates=dis.certificates)
    flows = tagged.flows
    applied: dict[str, Any] = {}
    if filters is not None:
        flows = apply_filter(flows, filters)
        applied = filters.describe()
    keep = set(flows["uid"])
    http_t = dis.http[dis.http["uid"].isin(keep)].reset_index(drop=True)
    tls_t = dis.tls[dis.tls["uid"].isin(keep)].reset_index(drop=True)
    findings = evaluate(flows, http=http_t, tls=tls_t, certificates=dis.certificates,
                        hosts=tagged.hosts, baseline=base)
    return Result(
        flows=schema.conform(flows, schema.FLOWS),
        hosts=schema.conform(tagged.hosts, schema.HOSTS),
        findings=schema.conform(findings, schema.FINDINGS),
        tls=schema.conform(tls_t, schema.TLS),
        certificates=schema.conform(dis.certificates, schema.CERTIFICATES),
        http=schema.conform(http_t, schema.HTTP),
        stats=schema.conform(assembled.stats, schema.STATS),
        inputs=schema.conform(assembled.inputs, schema.INPUTS),
        filters=applied,
    )


def plot_graph(result: Result, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Result → the communication graph drawn on ``ax`` (a new figure when None)."""
    from classifier.report.graph import plot_graph as _plot

    return _plot(result, ax=ax, **kwargs)


def plot_timeline(result: Result, ax: Axes | None = None, **kwargs: Any) -> Axes:
    """Result → flows over time per path with findings marked, drawn on ``ax``."""
    from classifier.report.timeline import plot_timeline as _plot

    return _plot(result, ax=ax, **kwargs)
