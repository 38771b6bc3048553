"""Report data → a Markdown report for tickets (GitHub/GitLab flavoured, tables).

Capture strings are neutralised: invisible characters escaped, HTML escaped, Markdown
punctuation backslash-escaped, autolinks broken, so a hostile SNI or URL path shows as text
and cannot inject links, images, HTML or table cells. Figures are referenced as the PNG files
written next to the report.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any, Final

from classifier.report.html import MAX_EVIDENCE, MAX_UIDS
from classifier.report.report_data import ReportData, flat_text
from classifier.report.style import SEVERITY_ORDER, visible_text

_MD_SPECIAL: Final = re.compile(r"([\\`*_{}\[\]|~@])")
"""Inline Markdown punctuation; block syntax cannot start mid-line, where values always are."""
_AUTOLINK: Final = re.compile(r"(?i)(://|www\.)")
_SAFE_CODE: Final = re.compile(r"[A-Za-z0-9_.:/@%=,+\- ]*")


def md(value: object) -> str:
    """A value → Markdown text that renders as exactly that text (None/NA → empty)."""
    text = _MD_SPECIAL.sub(r"\\\1", html.escape(visible_text(value), quote=False))
    return _AUTOLINK.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], text)


def code(value: object) -> str:
    """A value → an inline code span when it is plain (addresses, ids), else escaped text."""
    text = visible_text(value)
    if text and _SAFE_CODE.fullmatch(text) and "`" not in text:
        return f"`{text}`"
    return md(text)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], empty: str = "none") -> str:
    rows = list(rows)
    if not rows:
        return f"_{empty}_\n"
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def render_markdown(data: ReportData, *, graph_file: str = "graph.png",
                    timeline_file: str = "timeline.png") -> str:
    """Report data → the report as Markdown (str)."""
    d = data
    p = d.packets
    out = [f"# {md(d.title)}", "",
           f"kubewire {md(d.version)} · generated {md(d.generated)} · captures from "
           f"{md(d.first_ts or '?')} to {md(d.last_ts or '?')} (UTC)", "",
           "## Summary", "",
           f"- flows: **{d.flows}**, endpoints: **{d.hosts_count}**, paths: **{len(d.paths)}**",
           "- active findings: **{}**{}".format(
               d.active_findings,
               " (" + ", ".join(f"{md(k)} {v}" for k, v in d.severity_counts.items()) + ")"
               if d.severity_counts else ""),
           f"- packets: {p.get('read', 0)} read, {p.get('decoded', 0)} decoded, "
           f"{p.get('skipped', 0)} skipped, {p.get('out_of_scope', 0)} out of scope"]
    if d.suppressed_findings:
        out.append(f"- {d.suppressed_findings} findings suppressed by the baseline")
    if d.filters:
        out.append("- filters: " + ", ".join(f"{md(k)}={md(flat_text(v))}" for k, v in d.filters.items()))
    out += ["", "## Findings", ""]
    if not d.findings:
        out.append("_No findings._")
    active = [f for f in d.findings if not f.get("suppressed")]
    for f in sorted(active, key=lambda f: _sev_rank(f.get("severity"))):
        out += _finding(f)
    suppressed = [f for f in d.findings if f.get("suppressed")]
    if suppressed:
        out += ["", f"### Suppressed by the baseline ({len(suppressed)})", ""]
        for f in suppressed:
            out.append(f"- {code(f.get('id'))} {md(f.get('subject'))}: "
                       f"{md(f.get('suppress_reason'))}")
    out += ["", "## Communication graph", "",
            f"![communication graph]({graph_file})", ""]
    if d.graph_note:
        out += [f"_{md(d.graph_note)}_", ""]
    out += [f"![timeline]({timeline_file})", "", "## Paths", "",
            _table(["path", "flows", "bytes", "plaintext flows", "auth (flows)", "pairs",
                    "findings"],
                   ([md(r["path"]), str(r["flows"]), str(r["bytes"]), str(r["plaintext_flows"]),
                     md(r["auth"]), str(r["pairs"]), ", ".join(code(i) for i in r["findings"])]
                    for r in d.paths), "no flows"),
            "## Who talks to whom", ""]
    if d.edges_total > len(d.edges):
        out += [f"_Showing {len(d.edges)} of {d.edges_total} pairs, flagged first._", ""]
    out.append(_table(
        ["client", "server", "path", "flows", "bytes", "security", "findings"],
        ([_end(r["client"], r["client_name"]), _end(r["server"], r["server_name"]),
          md(r["path"]), str(r["flows"]), str(r["bytes"]), md(r["security"]),
          ", ".join(code(i) for i in r["findings"])] for r in d.edges), "no flows"))
    out += ["## Hosts", ""]
    if d.hosts_total > len(d.hosts):
        out += [f"_Showing {len(d.hosts)} of {d.hosts_total} hosts, control plane first._", ""]
    out += [_table(
        ["ip", "role", "name", "node", "confidence", "source"],
        ([code(h.get("ip")), md(h.get("role")), md(h.get("name")), md(h.get("node")),
          "" if h.get("confidence") is None else f"{float(h['confidence']):.2f}",
          md(h.get("source"))] for h in d.hosts), "no hosts")]
    out += ["## TLS servers and names", "", _table(
        ["server", "SNI", "version", "client cert presented", "handshakes"],
        ([code(f"{t['resp_h']}:{t['resp_p']}"), md(t["server_name"]), md(t["version"]),
          md({None: "not visible", True: "yes", False: "no"}[t["client_cert_presented"]]),
          str(t["handshakes"])] for t in d.tls), "no TLS handshakes")]
    out += ["## HTTP requests seen", "", _table(
        ["time", "client", "server", "request", "status", "credentials"],
        ([md(h["ts"]), code(h["orig_h"]), code(f"{h['resp_h']}:{h['resp_p']}"),
          md(f"{h['method'] or ''} {h['uri'] or ''}".strip()), md(h["status_code"]),
          md(h["auth_kind"])] for h in d.http), "no HTTP requests visible")]
    out += ["## Capture metadata", "", _table(
        ["capture", "format", "bytes", "SHA-256", "link types", "records", "first", "last"],
        ([md(i["capture"]), md(i["format"]), str(i["size"]), code(i["sha256"]),
          md(i["link_types"]), str(i["packets"]), md(i["first_ts"]), md(i["last_ts"])]
         for i in d.inputs), "no inputs"),
        "### Packet accounting", "", _table(
            ["capture", "outcome", "reason", "packets"],
            ([md(a["capture"]), md(a["outcome"]), md(a["reason"]), str(a["packets"])]
             for a in d.accounting), "no packets")]
    if d.command:
        out += [f"Command: {md(d.command)}", ""]
    return "\n".join(out).rstrip() + "\n"


def _sev_rank(s: Any) -> int:
    return SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else len(SEVERITY_ORDER)


def _end(ip: str, name: str) -> str:
    return code(ip) + (f" ({md(name)})" if name else "")


def _finding(f: dict[str, Any]) -> list[str]:
    uids = [str(u) for u in f.get("uids") or []]
    shown = ", ".join(code(u) for u in uids[:MAX_UIDS])
    if len(uids) > MAX_UIDS:
        shown += f" and {len(uids) - MAX_UIDS} more"
    out = ["", f"### {md(str(f.get('severity') or '').upper())}: {code(f.get('id'))}: "
           f"{md(f.get('title'))}", "",
           f"- subject: {md(f.get('subject'))}",
           f"- flows: {md(f.get('count'))}, first seen {md(f.get('first_seen'))}, last seen "
           f"{md(f.get('last_seen'))}",
           f"- flow uids: {shown or 'none'}"]
    evidence = [e for e in f.get("evidence") or [] if isinstance(e, dict)]
    if evidence:
        out.append("- evidence:")
        for e in evidence[:MAX_EVIDENCE]:
            out.append("  - " + "; ".join(f"{md(k)}: {md(flat_text(v))}" for k, v in e.items()))
        if len(evidence) > MAX_EVIDENCE:
            out.append(f"  - … and {len(evidence) - MAX_EVIDENCE} more in findings.json")
    refs = f.get("references") or []
    if refs:
        out.append("- references: " + "; ".join(md(r) for r in refs))
    return out


