"""Result → the communication graph as data: endpoints grouped by role, edges per path.

Pure data (networkx + pandas), no drawing: graph.py draws it, the HTML/Markdown reports and the
terminal summary reuse the edge table.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

import networkx as nx
import pandas as pd

from classifier.report.style import UNTAGGED, path_rank, role_rank, severity_rank

log = logging.getLogger("kubewire.report")

MAX_ENDPOINTS: Final = 60
"""Above this many endpoints pods are drawn as groups per node/namespace (issue 7)."""

SECURITY_ORDER: Final = ("unauthenticated", "plaintext", "tls", "mtls")
"""Edge security, worst first: any flow without credentials, any plaintext flow, TLS whose
client authentication is not mutual or not visible, mutual TLS on every flow."""


@dataclass(frozen=True, slots=True)
class Topology:
    """The graph to draw and what was simplified to draw it."""

    graph: Any
    """nx.MultiDiGraph; node attrs: role, label, ip, host_node, namespace, members;
    edge key = path; edge attrs: path, flows, bytes, security, findings (ids), plaintext_flows."""
    endpoints: int
    """Distinct endpoints before aggregation."""
    note: str
    """Human sentence describing the aggregation ('' when none)."""
    hidden_flows: int
    """Flows inside one aggregated group (not drawn as self-loops)."""


def active_findings(findings: pd.DataFrame) -> pd.DataFrame:
    """Findings → only those not suppressed by a baseline."""
    if findings.empty:
        return findings
    return findings[~findings["suppressed"].fillna(False).astype(bool)]


def finding_ids_by_uid(findings: pd.DataFrame) -> dict[str, list[str]]:
    """Findings → flow uid → ids of the active findings covering it, worst severity first."""
    out: dict[str, set[tuple[int, str]]] = {}
    for row in active_findings(findings).itertuples(index=False):
        uids = row.uids if isinstance(row.uids, list | tuple) else []
        for uid in uids:
            out.setdefault(str(uid), set()).add((severity_rank(row.severity), str(row.id)))
    return {uid: [i for _, i in sorted(v)] for uid, v in out.items()}


def endpoint_table(result: Any) -> pd.DataFrame:
    """Result → one row per endpoint address seen in the flows: ip, role, name, node.

    The hosts table is authoritative; the flows' client/server columns fill its gaps.
    """
    flows = result.flows
    sides = [
        pd.DataFrame({"ip": flows["orig_h"], "role": flows["client_role"].astype("string"),
                      "name": flows["client_name"]}),
        pd.DataFrame({"ip": flows["resp_h"], "role": flows["server_role"].astype("string"),
                      "name": flows["server_name"]}),
    ]
    seen = pd.concat(sides, ignore_index=True).dropna(subset=["ip"])
    ips = sorted(str(ip) for ip in pd.unique(seen["ip"]))
    fallback_role = _most_common(seen, "role")
    fallback_name = _most_common(seen, "name")
    # the first hosts row of each ip (a dict: row lookups in a frame cost ~0.2 ms each)
    known: dict[str, tuple[str, str, str]] = {}
    hosts = result.hosts
    if len(hosts):
        for ip, *rest in zip(*(hosts[c].tolist() for c in ("ip", "role", "name", "node")),
                             strict=True):
            known.setdefault(ip, (_text(rest[0]), _text(rest[1]), _text(rest[2])))
    rows = []
    for ip in ips:
        role, name, node = known.get(ip, ("", "", ""))
        role = role or fallback_role.get(ip, "") or "unknown"
        name = name or fallback_name.get(ip, "")
        if role == "node" and not node:
            node = name
        rows.append({"ip": ip, "role": role, "name": name, "node": node})
    return pd.DataFrame(rows, columns=["ip", "role", "name", "node"])


def edge_table(result: Any) -> pd.DataFrame:
    """Result → one row per (client, server, path): flows, bytes, plaintext flows, auth kinds,
    security class and active finding ids, sorted by path then bytes descending."""
    flows = result.flows
    cols = ["orig_h", "resp_h", "path", "flows", "bytes", "plaintext_flows", "auth",
            "security", "findings", "first_ts", "last_ts"]
    if flows.empty:
        return pd.DataFrame(columns=cols)
    by_uid = finding_ids_by_uid(result.findings)
    f = pd.DataFrame({
        "orig_h": flows["orig_h"].astype(str),
        "resp_h": flows["resp_h"].astype(str),
        "path": flows["path"].astype("string").fillna(UNTAGGED).astype(str),
        "bytes": (flows["orig_bytes"].fillna(0).astype("int64")
                  + flows["resp_bytes"].fillna(0).astype("int64")),
        "plaintext": flows["plaintext"].fillna(False).astype(bool),
        "auth": flows["auth"].astype("string").fillna("unknown"),
        "uid": flows["uid"].astype(str),
        "ts": flows["ts"],
    })
    keys = ["orig_h", "resp_h", "path"]
    grouped = f.groupby(keys, sort=False)
    out = grouped.agg(flows=("uid", "size"), bytes=("bytes", "sum"),
                      plaintext_flows=("plaintext", "sum"), first_ts=("ts", "min"),
                      last_ts=("ts", "max")).reset_index()
    # per edge: its auth kinds (sorted, distinct) and finding ids, grouped in plain dicts
    # (a per-group Python aggregation in pandas costs ~70 us a group)
    edge_keys = list(zip(*(f[k].tolist() for k in keys), strict=True))
    auths: dict[tuple[str, str, str], set[str]] = {}
    found: dict[tuple[str, str, str], set[str]] = {}
    for key, auth, uid in zip(edge_keys, f["auth"].tolist(), f["uid"].tolist(), strict=True):
        auths.setdefault(key, set()).add(auth)
        ids = by_uid.get(uid)
        if ids:
            found.setdefault(key, set()).update(ids)
    out_keys = list(zip(*(out[k].tolist() for k in keys), strict=True))
    out["auth"] = pd.array([",".join(sorted(auths[k])) for k in out_keys], dtype="string")
    out["findings"] = [sorted(found.get(k, ())) for k in out_keys]
    tokens = "," + out["auth"].astype(str) + ","
    out["security"] = "tls"
    out.loc[out["auth"] == "mtls", "security"] = "mtls"
    out.loc[out["plaintext_flows"] > 0, "security"] = "plaintext"
    out.loc[tokens.str.contains(",none,", regex=False), "security"] = "unauthenticated"
    out["flows"] = out["flows"].astype("int64")
    out["bytes"] = out["bytes"].astype("int64")
    out["plaintext_flows"] = out["plaintext_flows"].astype("int64")
    out = out[cols]
    out["_rank"] = [path_rank(p) for p in out["path"]]
    out = out.sort_values(["_rank", "bytes", "orig_h", "resp_h"],
                          ascending=[True, False, True, True], kind="mergesort")
    return out.drop(columns="_rank").reset_index(drop=True)


def build_topology(result: Any, *, max_endpoints: int = MAX_ENDPOINTS,
                   aggregate: bool | None = None) -> Topology:
    """Result → Topology; pods are grouped per node/namespace when there are more than
    ``max_endpoints`` endpoints (or always/never with ``aggregate`` True/False)."""
    ends = endpoint_table(result)
    edges = edge_table(result)
    n = len(ends)
    do_agg = n > max_endpoints if aggregate is None else aggregate
    key = {ip: ip for ip in ends["ip"]}
    graph = nx.MultiDiGraph()
    notes: list[str] = []
    if do_agg:
        key, groups, notes = _aggregate(ends, max_endpoints)
        for gkey, attrs in sorted(groups.items()):
            graph.add_node(gkey, **attrs)
    for e in ends.itertuples(index=False):
        if key[e.ip] == e.ip:
            graph.add_node(e.ip, role=e.role, label=_label(e.role, e.name, e.ip), ip=e.ip,
                           host_node=e.node, namespace=_namespace(e.name), members=1)
    hidden = 0
    for e in edges.itertuples(index=False):
        u, v = key[e.orig_h], key[e.resp_h]
        if u == v and u != e.orig_h:
            hidden += e.flows
            continue
        if graph.has_edge(u, v, key=e.path):
            d = graph.edges[u, v, e.path]
            d["flows"] += e.flows
            d["bytes"] += e.bytes
            d["plaintext_flows"] += e.plaintext_flows
            d["findings"] = sorted(set(d["findings"]) | set(e.findings))
            d["security"] = min(d["security"], e.security, key=SECURITY_ORDER.index)
        else:
            graph.add_edge(u, v, key=e.path, path=e.path, flows=e.flows, bytes=e.bytes,
                           plaintext_flows=e.plaintext_flows, findings=list(e.findings),
                           security=e.security)
    if hidden:
        notes.append(f"{hidden} flows inside a group not drawn")
    return Topology(graph=graph, endpoints=n, note="; ".join(notes), hidden_flows=hidden)


def _aggregate(ends: pd.DataFrame, limit: int) -> tuple[dict[str, str], dict[str, dict[str, Any]],
                                                       list[str]]:
    """Endpoints → (ip → drawn key, group key → attrs, notes): pods per node/namespace first,
    then, if still too many, the remaining non-control-plane endpoints per role."""
    key = {ip: ip for ip in ends["ip"]}
    groups: dict[str, dict[str, Any]] = {}
    members: dict[str, list[str]] = {}
    pods = ends[ends["role"] == "pod"]
    for p in pods.itertuples(index=False):
        ns = _namespace(p.name) or "?"
        g = f"pods:{p.node or '?'}:{ns}"
        key[p.ip] = g
        members.setdefault(g, []).append(p.ip)
    notes = []
    if len(pods):
        notes.append(f"aggregated {len(pods)} pod endpoints into {len(members)} groups "
                     "per node/namespace")
    for g, ips in members.items():
        _, node, ns = g.split(":", 2)
        groups[g] = {"role": "pod-group", "ip": "", "host_node": "" if node == "?" else node,
                     "namespace": ns, "members": len(ips),
                     "label": f"{ns}/* ({len(ips)} pods)" if ns != "?" else f"{len(ips)} pods"}
    drawn = len(set(key.values()))
    if drawn > limit:
        rest = ends[~ends["role"].isin(["pod", "node", "apiserver", "etcd",
                                         "konnectivity-server", "service-vip"])]
        for role, g in sorted(rest.groupby("role"), key=lambda kv: role_rank(str(kv[0]))):
            gk = f"group:{role}"
            for ip in g["ip"]:
                key[ip] = gk
            groups[gk] = {"role": "group", "ip": "", "host_node": "", "namespace": "",
                          "members": len(g), "label": f"{len(g)} {role} endpoints"}
            notes.append(f"aggregated {len(g)} {role} endpoints into one group")
    return key, groups, notes


def _label(role: str, name: str, ip: str) -> str:
    if name and role == "pod" and "/" in name:
        ns, pod = name.split("/", 1)
        return f"{pod}\n{ns}"
    if name:
        return name
    if role in ("apiserver", "etcd", "konnectivity-server", "service-vip"):
        return f"{role}\n{ip}"
    return ip


def _namespace(name: str) -> str:
    return name.split("/", 1)[0] if "/" in name else ""


def _text(v: object) -> str:
    return "" if v is None or v is pd.NA or (not isinstance(v, str) and pd.isna(v)) else str(v)


def _most_common(frame: pd.DataFrame, col: str) -> dict[str, str]:
    """(ip, col) pairs → ip → the most frequent non-NA value (ties: smallest value)."""
    sub = frame.dropna(subset=[col])
    sub = sub[sub[col].astype(str) != ""]
    if sub.empty:
        return {}
    counts = sub.groupby(["ip", col], observed=True).size().reset_index(name="n")
    counts = counts.sort_values(["ip", "n", col], ascending=[True, False, True], kind="mergesort")
    return {str(r.ip): str(getattr(r, col)) for r in counts.drop_duplicates("ip").itertuples()}
