"""Result (+ rendered figures) → one self-contained HTML report.

Everything that came from a capture or an inventory is attacker-controlled: every value goes
through :func:`_e` (invisible characters shown as escapes, then ``html.escape``). The page has
no script, loads nothing (figures are ``data:`` URIs) and says so in a Content-Security-Policy:
nothing but inline images and the one stylesheet (by hash) may load.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable, Sequence
from typing import Any, Final

from classifier.report.report_data import ReportData, flat_text
from classifier.report.style import SEVERITY_COLOURS, SEVERITY_ORDER, visible_text

MAX_EVIDENCE: Final = 50
"""Evidence rows shown per finding (findings.json has them all)."""
MAX_UIDS: Final = 30

_CSS: Final = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;
margin:0 auto;max-width:1400px;padding:1em 2em;color:#1b1b1b}
h1{font-size:1.6em;margin:.2em 0}h2{border-bottom:2px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:.92em;
word-break:break-all}
.sev{display:inline-block;padding:0 .5em;border-radius:3px;color:#fff;font-weight:600;
text-transform:uppercase;font-size:.8em}
.sev-critical{background:#7f0000}.sev-high{background:#d62728}.sev-medium{background:#e67300}
.sev-low{background:#8a8a00}.sev-info{background:#1f77b4}
article.finding{border:1px solid #ddd;border-left:6px solid #999;padding:.5em 1em;margin:.8em 0}
article.critical{border-left-color:#7f0000}article.high{border-left-color:#d62728}
article.medium{border-left-color:#e67300}article.low{border-left-color:#8a8a00}
article.info{border-left-color:#1f77b4}article.suppressed{opacity:.65}
dl.kv{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:.4em 0}
dl.kv dt{font-weight:600}dl.kv dd{margin:0}
figure{margin:.5em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
.muted{color:#666}.flag{color:#d62728;font-weight:600}
.cards{display:flex;flex-wrap:wrap;gap:.8em}.card{border:1px solid #ddd;border-radius:4px;
padding:.4em .9em;min-width:9em}.card b{display:block;font-size:1.4em}
""".strip()

_CSP: Final = ("default-src 'none'; img-src data:; style-src 'sha256-{h}'; base-uri 'none'; "
               "form-action 'none'")


def _e(value: object) -> str:
    """A value → escaped HTML text (None/NA → empty)."""
    return html.escape(visible_text(value), quote=True)


def render_html(data: ReportData, *, graph_svg: bytes, timeline_png: bytes) -> str:
    """Report data + figures → the report as one HTML document (str)."""
    css_hash = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
    parts = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP.format(h=css_hash)}">',
        '<meta name="referrer" content="no-referrer">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(data.title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(data.title)}</h1><p class=\"muted\">kubewire {_e(data.version)} · "
        f"generated {_e(data.generated)} · captures from {_e(data.first_ts or '?')} to "
        f"{_e(data.last_ts or '?')} (UTC)</p></header>",
        _summary(data),
        _findings(data),
        _figure("graph", "Communication graph",
                "data:image/svg+xml;base64," + base64.b64encode(graph_svg).decode(),
                "communication graph: endpoints by role, edges by control-plane path", data),
        _figure("timeline", "Timeline",
                "data:image/png;base64," + base64.b64encode(timeline_png).decode(),
                "flows over time per path, flows covered by findings marked", data),
        _paths(data),
        _edges(data),
        _hosts(data),
        _tls(data),
        _http(data),
        _custody(data),
        "</body></html>\n",
    ]
    return "\n".join(parts)


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], numeric: set[int] | None = None,
           empty: str = "none") -> str:
    """Headers (trusted) + rows of already-escaped cells → an HTML table."""
    numeric = numeric or set()
    body = "".join(
        "<tr>" + "".join(f"<td class=\"n\">{c}</td>" if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(r)) + "</tr>" for r in rows)
    if not body:
        return f"<p class=\"muted\">{_e(empty)}</p>"
    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary(d: ReportData) -> str:
    p = d.packets
    cards = [("flows", d.flows), ("endpoints", d.hosts_count), ("paths", len(d.paths)),
             ("active findings", d.active_findings), ("packets read", p.get("read", 0))]
    sev = " ".join(f'<span class="sev sev-{_e(s)}">{_e(s)} {n}</span>'
                   for s, n in d.severity_counts.items()) or "none"
    out = ['<section id="summary"><h2>Summary</h2><div class="cards">']
    out += [f'<div class="card"><b>{_e(v)}</b>{_e(k)}</div>' for k, v in cards]
    out.append("</div>")
    out.append(f"<p>Findings by severity: {sev}"
               + (f" · {_e(d.suppressed_findings)} suppressed by the baseline"
                  if d.suppressed_findings else "") + "</p>")
    out.append(f"<p>Packets: {_e(p.get('read', 0))} read, {_e(p.get('decoded', 0))} decoded, "
               f"{_e(p.get('skipped', 0))} skipped, {_e(p.get('out_of_scope', 0))} out of scope "
               "(see <a href=\"#captures\">capture metadata</a>).</p>")
    if d.filters:
        out.append("<p>Filters applied: " + ", ".join(
            f"<code>{_e(k)}={_e(flat_text(v))}</code>" for k, v in d.filters.items()) + "</p>")
    if d.graph_note:
        out.append(f"<p class=\"muted\">Graph: {_e(d.graph_note)}.</p>")
    out.append("</section>")
    return "\n".join(out)


def _findings(d: ReportData) -> str:
    out = ['<section id="findings"><h2>Findings</h2>']
    if not d.findings:
        out.append('<p class="muted">No findings.</p>')
    for sev in (*SEVERITY_ORDER, None):
        group = [f for f in d.findings if not f.get("suppressed")
                 and (f.get("severity") == sev if sev else f.get("severity") not in SEVERITY_ORDER)]
        if group:
            out.append(f"<h3>{_e((sev or 'other').capitalize())} ({len(group)})</h3>")
            out += [_finding(f) for f in group]
    suppressed = [f for f in d.findings if f.get("suppressed")]
    if suppressed:
        out.append(f"<h3>Suppressed by the baseline ({len(suppressed)})</h3>")
        out += [_finding(f) for f in suppressed]
    out.append("</section>")
    return "\n".join(out)


def _finding(f: dict[str, Any]) -> str:
    sev = str(f.get("severity") or "info")
    cls = sev if sev in SEVERITY_COLOURS else "info"
    uids = [str(u) for u in f.get("uids") or []]
    shown = ", ".join(f"<code>{_e(u)}</code>" for u in uids[:MAX_UIDS])
    if len(uids) > MAX_UIDS:
        shown += f" … and {len(uids) - MAX_UIDS} more (findings.json)"
    kv = [("subject", f"<code>{_e(f.get('subject'))}</code>"), ("flows", _e(f.get("count"))),
          ("first seen", _e(f.get("first_seen"))), ("last seen", _e(f.get("last_seen"))),
          ("flow uids", shown or "none")]
    if f.get("suppressed"):
        kv.append(("suppressed", "accepted in the baseline: " + _e(f.get("suppress_reason"))))
    evidence = [e for e in f.get("evidence") or [] if isinstance(e, dict)]
    keys: list[str] = []
    for e in evidence:
        keys += [k for k in e if k not in keys]
    first = [k for k in ("capture", "frame", "uid") if k in keys]
    keys = first + [k for k in keys if k not in first]
    rows = [[_e(flat_text(e.get(k))) for k in keys] for e in evidence[:MAX_EVIDENCE]]
    more = (f"<p class=\"muted\">… and {len(evidence) - MAX_EVIDENCE} more evidence rows in "
            "findings.json</p>" if len(evidence) > MAX_EVIDENCE else "")
    refs = "".join(f"<li>{_e(r)}</li>" for r in f.get("references") or [])
    return (
        f'<article class="finding {_e(cls)}{" suppressed" if f.get("suppressed") else ""}">'
        f'<h4><span class="sev sev-{_e(cls)}">{_e(sev)}</span> <code>{_e(f.get("id"))}</code> '
        f'— {_e(f.get("title"))}</h4>'
        '<dl class="kv">' + "".join(f"<dt>{_e(k)}</dt><dd>{v}</dd>" for k, v in kv) + "</dl>"
        f"<details open><summary>Evidence ({len(evidence)})</summary>"
        f"{_table(keys, rows, empty='no evidence recorded')}{more}</details>"
        + (f"<p><b>References</b></p><ul>{refs}</ul>" if refs else "") + "</article>")


def _figure(anchor: str, title: str, src: str, caption: str, d: ReportData) -> str:
    note = f" {_e(d.graph_note)}." if anchor == "graph" and d.graph_note else ""
    return (f'<section id="{anchor}"><h2>{_e(title)}</h2><figure>'
            f'<img id="{anchor}-img" src="{src}" alt="{_e(caption)}">'
            f"<figcaption class=\"muted\">{_e(caption)}.{note}</figcaption></figure></section>")


def _paths(d: ReportData) -> str:
    rows = [[_e(r["path"]), _e(r["flows"]), _e(r["bytes"]), _e(r["plaintext_flows"]),
             _e(r["auth"]), _e(r["pairs"]),
             " ".join(f'<span class="flag">{_e(i)}</span>' for i in r["findings"])]
            for r in d.paths]
    return ('<section id="paths"><h2>Paths</h2>'
            + _table(["path", "flows", "bytes", "plaintext flows", "auth (flows)",
                      "endpoint pairs", "findings"], rows, {1, 2, 3, 5}, "no flows") + "</section>")


def _edges(d: ReportData) -> str:
    rows = [[_endpoint(r["client"], r["client_name"]), _endpoint(r["server"], r["server_name"]),
             _e(r["path"]), _e(r["flows"]), _e(r["bytes"]), _e(r["security"]), _e(r["auth"]),
             " ".join(f'<span class="flag">{_e(i)}</span>' for i in r["findings"]),
             _e(r["first_ts"])] for r in d.edges]
    more = (f'<p class="muted">Showing {len(d.edges)} of {d.edges_total} pairs (flagged first, '
            "then by bytes); flows.csv has every flow.</p>" if d.edges_total > len(d.edges) else "")
    return ('<section id="pairs"><h2>Who talks to whom</h2>' + more
            + _table(["client", "server", "path", "flows", "bytes", "security", "auth",
                      "findings", "first seen"], rows, {3, 4}, "no flows") + "</section>")


def _endpoint(ip: str, name: str) -> str:
    return f"<code>{_e(ip)}</code>" + (f"<br>{_e(name)}" if name else "")


def _hosts(d: ReportData) -> str:
    rows = [[f"<code>{_e(h.get('ip'))}</code>", _e(h.get("role")), _e(h.get("name")),
             _e(h.get("node")), _e(_fmt_conf(h.get("confidence"))), _e(h.get("source")),
             _e(h.get("flows")), _e(h.get("bytes")), _e(h.get("evidence"))] for h in d.hosts]
    more = (f'<p class="muted">Showing {len(d.hosts)} of {d.hosts_total} hosts, control plane '
            "first (hosts.csv has all).</p>" if d.hosts_total > len(d.hosts) else "")
    return ('<section id="hosts"><h2>Hosts</h2>' + more
            + _table(["ip", "role", "name", "node", "confidence", "source", "flows", "bytes",
                      "evidence"], rows, {4, 6, 7}, "no hosts") + "</section>")


def _tls(d: ReportData) -> str:
    rows = [[f"<code>{_e(t['resp_h'])}</code>", _e(t["resp_p"]), _e(t["server_name"]),
             _e(t["version"]), _e(t["alpn_offered"]), _e(_yes_no(t["client_cert_requested"])),
             _e(_yes_no(t["client_cert_presented"])), _e(t["handshakes"])] for t in d.tls]
    more = (f'<p class="muted">Showing {len(d.tls)} of {d.tls_total} (tls.csv has all).</p>'
            if d.tls_total > len(d.tls) else "")
    return ('<section id="tls"><h2>TLS servers and names</h2>' + more
            + _table(["server", "port", "SNI", "version", "ALPN offered",
                      "client cert requested", "client cert presented", "handshakes"],
                     rows, {1, 7}, "no TLS handshakes") + "</section>")


def _yes_no(v: Any) -> str:
    return "not visible" if v is None else ("yes" if v else "no")


def _http(d: ReportData) -> str:
    rows = [[_e(h["ts"]), f"<code>{_e(h['orig_h'])}</code>",
             f"<code>{_e(h['resp_h'])}</code>:{_e(h['resp_p'])}", _e(h["method"]),
             _e(h["host"]), f"<code>{_e(h['uri'])}</code>", _e(h["status_code"]),
             _e(h["user_agent"]), _e(h["auth_kind"]), _e(h["upgrade"])] for h in d.http]
    more = (f'<p class="muted">Showing the first {len(d.http)} of {d.http_total} requests '
            "(http.csv has all; query strings only there).</p>"
            if d.http_total > len(d.http) else "")
    return ('<section id="http"><h2>HTTP requests seen</h2>' + more
            + _table(["time", "client", "server", "method", "host", "path", "status",
                      "user agent", "credentials", "upgrade"], rows, {6},
                     "no HTTP requests visible") + "</section>")


def _fmt_conf(v: Any) -> str:
    return "" if v is None else f"{float(v):.2f}"


def _custody(d: ReportData) -> str:
    inputs = [[f"<code>{_e(i['capture'])}</code>", _e(i["format"]), _e(i["size"]),
               f"<code>{_e(i['sha256'])}</code>", _e(i["link_types"]), _e(i["packets"]),
               _e(i["first_ts"]), _e(i["last_ts"])] for i in d.inputs]
    acct = [[f"<code>{_e(a['capture'])}</code>", _e(a["outcome"]), _e(a["reason"]),
             _e(a["packets"])] for a in d.accounting]
    filters = ("".join(f"<li><code>{_e(k)}</code>: {_e(flat_text(v))}</li>"
                       for k, v in d.filters.items())
               or "<li>none</li>")
    outputs = "".join(f"<li><code>{_e(o)}</code></li>" for o in d.outputs)
    return (
        '<section id="captures"><h2>Capture metadata and chain of custody</h2>'
        "<h3>Inputs</h3>"
        + _table(["capture", "format", "bytes", "SHA-256", "link types", "records", "first",
                  "last"], inputs, {2, 5}, "no inputs")
        + "<h3>Packet accounting</h3>"
        + _table(["capture", "outcome", "reason", "packets"], acct, {3}, "no packets")
        + f"<h3>Filters applied</h3><ul>{filters}</ul>"
        + f"<h3>This analysis</h3><dl class=\"kv\"><dt>kubewire</dt><dd>{_e(d.version)}</dd>"
        f"<dt>generated</dt><dd>{_e(d.generated)}</dd>"
        f"<dt>command</dt><dd><code>{_e(d.command)}</code></dd></dl>"
        + (f"<h3>Files written</h3><ul>{outputs}</ul>" if outputs else "") + "</section>")
