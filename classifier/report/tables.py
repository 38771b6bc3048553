"""Result → the summary tables every report shows (HTML, Markdown, terminal), and JSON values.

Pure data: rows are plain dicts of str/int/float/bool/None/list so the renderers only format.
"""

from __future__ import annotations

from typing import Any, Final

import pandas as pd

from classifier.report.style import path_rank, role_rank, severity_rank
from classifier.report.topology import active_findings, edge_table
from classifier.tablefile import jsonable

TOP_EDGES: Final = 200
"""The report lists at most this many endpoint pairs (the CSV files have all flows)."""




def findings_rows(findings: pd.DataFrame) -> list[dict[str, Any]]:
    """Findings → JSON-ready dicts, active before suppressed, worst severity first, then id
    and subject (a stable order for diffs)."""
    if findings.empty:
        return []
    f = findings.assign(
        _sup=findings["suppressed"].fillna(False).astype(bool),
        _sev=[severity_rank(s) for s in findings["severity"]],
    ).sort_values(["_sup", "_sev", "id", "subject"], kind="mergesort")
    cols = [c for c in findings.columns]
    return [{c: jsonable(getattr(r, c)) for c in cols} for r in f.itertuples(index=False)]


def paths_rows(result: Any) -> list[dict[str, Any]]:
    """Result → one row per path: flows, bytes, plaintext flows, auth kinds with counts,
    client→server endpoint pairs and the ids of active findings on the path."""
    edges = edge_table(result)
    if edges.empty:
        return []
    rows = []
    for path, g in edges.groupby("path", sort=False):
        auth: dict[str, int] = {}
        for kinds, n in zip(g["auth"], g["flows"], strict=True):
            for k in str(kinds).split(","):
                auth[k] = auth.get(k, 0) + int(n)
        rows.append({
            "path": str(path), "flows": int(g["flows"].sum()), "bytes": int(g["bytes"].sum()),
            "plaintext_flows": int(g["plaintext_flows"].sum()),
            "auth": ", ".join(f"{k} {v}" for k, v in sorted(auth.items())),
            "pairs": len(g),
            "findings": sorted({i for ids in g["findings"] for i in ids}),
        })
    return sorted(rows, key=lambda r: path_rank(r["path"]))


def edges_rows(result: Any, limit: int = TOP_EDGES) -> tuple[list[dict[str, Any]], int]:
    """Result → (endpoint pairs per path with names, flagged first then by bytes; the total
    number of pairs before ``limit``)."""
    edges = edge_table(result)
    if edges.empty:
        return [], 0
    names = _names(result)
    edges = edges.assign(_flag=[0 if f else 1 for f in edges["findings"]],
                         _rank=[path_rank(p) for p in edges["path"]])
    edges = edges.sort_values(["_flag", "_rank", "bytes", "orig_h", "resp_h"],
                              ascending=[True, True, False, True, True], kind="mergesort")
    rows = [{
        "client": e.orig_h, "client_name": names.get(e.orig_h, ""),
        "server": e.resp_h, "server_name": names.get(e.resp_h, ""),
        "path": e.path, "flows": int(e.flows), "bytes": int(e.bytes),
        "plaintext_flows": int(e.plaintext_flows), "auth": e.auth, "security": e.security,
        "findings": list(e.findings),
        "first_ts": jsonable(e.first_ts), "last_ts": jsonable(e.last_ts),
    } for e in edges.head(limit).itertuples(index=False)]
    return rows, len(edges)


def tls_rows(tls: pd.DataFrame, limit: int = TOP_EDGES) -> tuple[list[dict[str, Any]], int]:
    """TLS handshakes → (one row per server endpoint, SNI, version, ALPN and client-cert
    outcome with the number of handshakes, most frequent first; total rows before limit)."""
    if tls.empty:
        return [], 0
    keys = ["resp_h", "resp_p", "server_name", "version", "alpn_offered",
            "client_cert_requested", "client_cert_presented"]
    t = tls[keys].astype(object).where(tls[keys].notna(), None)
    t = t.assign(_k=[repr(tuple(r)) for r in t.itertuples(index=False)])
    groups = t.groupby("_k", sort=False)
    rows = [{**{k: jsonable(g.iloc[0][k]) for k in keys}, "handshakes": len(g)}
            for _, g in groups]
    rows.sort(key=lambda r: (-r["handshakes"], str(r["resp_h"]), str(r["resp_p"]),
                             str(r["server_name"])))
    return rows[:limit], len(rows)


def http_rows(http: pd.DataFrame, limit: int = TOP_EDGES) -> tuple[list[dict[str, Any]], int]:
    """HTTP requests → (the first ``limit`` in time order: time, client, server, method,
    host, path without query, status, user agent, credential kind; total requests)."""
    if http.empty:
        return [], 0
    keys = ["ts", "orig_h", "resp_h", "resp_p", "method", "host", "uri", "status_code",
            "user_agent", "auth_kind", "upgrade"]
    h = http.sort_values(["ts", "uid", "trans_depth"], kind="mergesort").head(limit)
    return [{k: jsonable(getattr(r, k)) for k in keys} for r in h.itertuples(index=False)], len(http)


def hosts_rows(hosts: pd.DataFrame) -> list[dict[str, Any]]:
    """Hosts → JSON-ready dicts ordered by role (control plane first), then address."""
    if hosts.empty:
        return []
    h = hosts.assign(_r=[role_rank(str(r)) for r in hosts["role"]])
    h = h.sort_values(["_r", "ip"], kind="mergesort").drop(columns="_r")
    return [{c: jsonable(getattr(r, c)) for c in hosts.columns} for r in h.itertuples(index=False)]


def accounting_rows(stats: pd.DataFrame) -> list[dict[str, Any]]:
    """Packet accounting → rows per capture, outcome and reason (decoded first)."""
    if stats.empty:
        return []
    order = {"decoded": 0, "skipped": 1, "out_of_scope": 2}
    s = stats.assign(_o=[order.get(str(o), 3) for o in stats["outcome"]])
    s = s.sort_values(["capture", "_o", "packets", "reason"], ascending=[True, True, False, True],
                      kind="mergesort")
    return [{"capture": jsonable(r.capture), "outcome": jsonable(r.outcome),
             "reason": jsonable(r.reason) or "", "packets": jsonable(r.packets)}
            for r in s.itertuples(index=False)]


def severity_counts(findings: pd.DataFrame) -> dict[str, int]:
    """Findings → active findings per severity, worst first, only severities present."""
    act = active_findings(findings)
    counts = act["severity"].astype(str).value_counts() if len(act) else pd.Series(dtype=int)
    return {str(k): int(counts[k]) for k in sorted(counts.index, key=severity_rank)}


def time_range(result: Any) -> tuple[str | None, str | None]:
    """Result → (first, last) record time over the inputs as ISO strings, None when unknown."""
    first = result.inputs["first_ts"].min() if len(result.inputs) else pd.NaT
    last = result.inputs["last_ts"].max() if len(result.inputs) else pd.NaT
    return jsonable(first), jsonable(last)


def _names(result: Any) -> dict[str, str]:
    h = result.hosts.dropna(subset=["name"]).drop_duplicates("ip")
    return {str(ip): str(n) for ip, n in zip(h["ip"], h["name"], strict=True)}
