"""Dissected flows (+ inventory) → every flow tagged with its path, roles, auth; the hosts table.

Order: inventory claims → phase-1 traffic signals → phase-2 signals → per-flow role choice →
path rule table → operation, plaintext, auth, confidence, evidence, note.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from classifier import schema
from classifier.k8s import ports as P
from classifier.k8s.facts import FlowFacts, facts_from
from classifier.k8s.model import Inventory
from classifier.k8s.operations import operation_of
from classifier.k8s.paths import choose_path
from classifier.k8s.roles import Claim, RoleBook, claims_from_inventory
from classifier.k8s.signals import Context, apply_signals, kubernetes_vips

log = logging.getLogger("kubewire.k8s")

ENCRYPTED_PROTOS: Final = frozenset({"tls", "ssh"})
CLEARTEXT_PROTOS: Final = frozenset({"http", "http2", "grpc", "connect", "dns"})
KONNECTIVITY_NOTE: Final = ("apiserver→kubelet traffic rides the konnectivity agent tunnels "
                            "(egress selector): the apiserver's own leg is inside this tunnel")
AGENT_DIAL_NOTE: Final = ("dialed by the konnectivity agent on behalf of the apiserver "
                          "(apiserver→kubelet traffic rides the agent tunnels)")

# Which role an address should play as the *server* of a port (multi-role hosts).
_SERVER_PREFERENCE: Final[Mapping[int, tuple[str, ...]]] = {
    port: (info.role,) for port, info in P.PORTS.items()}
# Which role an address most likely plays as the *client* towards a given server role.
_CLIENT_PREFERENCE: Final[Mapping[str, tuple[str, ...]]] = {
    "node": ("apiserver", "node", "pod", "client"),          # → kubelet: the apiserver calls
    "etcd": ("apiserver", "etcd", "pod", "node", "client"),
    "apiserver": ("node", "pod", "client", "apiserver"),
    "service-vip": ("pod", "node", "client"),
    "konnectivity-server": ("node", "pod", "apiserver"),
    "pod": ("apiserver", "pod", "node", "client"),
}


@dataclass(frozen=True, slots=True)
class Tagged:
    """Per-flow tagging result (the FLOW_K8S columns)."""

    path: str
    client_role: str
    server_role: str
    client_name: str | None
    server_name: str | None
    k8s_operation: str | None
    plaintext: bool | None
    auth: str
    path_confidence: float
    path_evidence: str
    path_note: str | None


FLOW_FACT_COLUMNS: Final = (
    "uid", "orig_h", "resp_h", "resp_p", "proto", "app_proto", "conn_state", "orig_bytes", "resp_bytes",
    "duration", "orig_burst_interval", "tls_version", "tls_alpn", "server_cert_subject",
    "server_cert_sans", "server_cert_self_signed", "client_cert_requested",
    "client_cert_presented", "client_cert_subject", "tunnel_proto", "payload_hint", "tunnel",
    "http_method", "http_path", "http_query", "http_host", "http_user_agent", "http_status",
    "http_upgrade", "http_stream_protocol", "http_forwarded_uri", "auth_kind", "tunnel_orig_h",
    "tunnel_resp_h",
    "k8s_status_reason", "grpc_method", "connect_target")
"""The flow columns tagging reads (FlowFacts); the rest are never converted."""
HTTP_FACT_COLUMNS: Final = (
    "uid", "trans_depth", "method", "uri", "query", "host", "user_agent", "status_code", "upgrade",
    "stream_protocol", "x_forwarded_uri", "auth_kind", "k8s_status_reason", "grpc_method",
    "connect_target")


def _records(df: pd.DataFrame | None, columns: Sequence[str]) -> list[dict[str, Any]]:
    if df is None or len(df) == 0:
        return []
    cols = [c for c in columns if c in df.columns]
    lists = []
    for c in cols:
        col = df[c]
        lists.append(col.astype(object).where(col.notna(), None).tolist())
    return [dict(zip(cols, vals, strict=True)) for vals in zip(*lists, strict=True)]


def build_facts(flows: pd.DataFrame, http: pd.DataFrame | None) -> list[FlowFacts]:
    """Flows + http table → FlowFacts per flow, in flow order."""
    by_uid: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in _records(http, HTTP_FACT_COLUMNS):
        by_uid[str(r.get("uid"))].append(r)
    for reqs in by_uid.values():
        reqs.sort(key=lambda r: int(r["trans_depth"]) if r.get("trans_depth") is not None else 0)
    have_http = http is not None
    return [facts_from(row, by_uid.get(str(row.get("uid"))) if have_http else None)
            for row in _records(flows, FLOW_FACT_COLUMNS)]


def infer_roles(facts: Sequence[FlowFacts], inventory: Inventory | None) -> tuple[RoleBook, Context]:
    """Facts (+ inventory) → role claims for every address, and the context used."""
    book = RoleBook()
    if inventory is not None:
        claims_from_inventory(inventory, book)
    ctx = Context(book=book, inventory=inventory, vips=kubernetes_vips(facts, inventory))
    for ip in ctx.vips:
        if not book.has(ip, "service-vip"):
            book.add(ip, "service-vip", 0.9, "`kubernetes` service VIP", name="default/kubernetes")
    apply_signals(facts, ctx, phase=1)
    for f in facts:  # VXLAN/Geneve/IP-in-IP between nodes: the outer ends are the nodes
        for ip in f.tunnel_ends:
            book.add(ip, "node", 0.55, "overlay tunnel endpoint")
    apply_signals(facts, ctx, phase=2)
    apply_signals(facts, ctx, phase=3)
    return book, ctx


def _flow_signals(f: FlowFacts, ctx: Context, side: str) -> list[tuple[str, str]]:
    """(role, evidence) of every phase-1 signal this flow itself gives about one side."""
    if f.local_signals is None:
        apply_signals([f], ctx, phase=1)
    return [(r, e) for sd, r, e in f.local_signals or () if sd == side]


def _server_preference(f: FlowFacts, local: list[tuple[str, str]], book: RoleBook) -> list[str]:
    """Roles the flow suggests for its server, strongest first, then the port's role.

    A service cluster IP from the inventory keeps its inventory role (service-vip, or dns for the
    cluster DNS Service): nothing listens on a VIP, the capture was taken before kube-proxy's DNAT.
    """
    out = [r for r in ("service-vip", "dns")
           if (c := book.get(f.resp_h, r)) is not None and c.inventory
           and any(e.startswith("inventory: service ") for e in c.evidence)]
    out += [r for r, _ in local]
    if f.proto == "tcp":
        out.extend(_SERVER_PREFERENCE.get(f.resp_p, ()))
    if f.resp_p in P.DNS_PORTS:
        out.append("dns")
    return out


def _client_preference(f: FlowFacts, local: list[tuple[str, str]], server_role: str) -> list[str]:
    out = [r for r, _ in local]
    if f.proto == "tcp" and f.resp_p == P.ETCD_PEER_PORT:
        out.append("etcd")
    out.extend(_CLIENT_PREFERENCE.get(server_role, ()))
    return out


def _claim_or_unknown(c: Claim | None, local: list[tuple[str, str]]
                      ) -> tuple[str, str | None, float, str]:
    """Chosen claim → (role, name, confidence, evidence), preferring this flow's own evidence."""
    if c is None:
        return "unknown", None, 0.3, "no role evidence"
    ev = next((e for r, e in local if r == c.role), None) or (c.evidence[0] if c.evidence else c.role)
    return c.role, c.name, c.confidence, ev


def plaintext_of(f: FlowFacts) -> bool | None:
    """Flow facts → True when application bytes travel unencrypted, None when unknown.

    A flow that carried no application bytes at all (refused, scan probe) is False: nothing
    travelled in clear.
    """
    if "tls" in f.flags or f.app_proto in ENCRYPTED_PROTOS or not f.has_payload:
        return False
    if f.app_proto in CLEARTEXT_PROTOS or f.requests or _cleartext_udp(f):
        return True
    return None


def _cleartext_udp(f: FlowFacts) -> bool:
    return f.proto == "udp" and (f.resp_p in P.CLEARTEXT_UDP_PORTS) and "established" in f.flags


def auth_of(f: FlowFacts, plaintext: bool | None) -> str:
    """Flow facts → mtls, bearer, basic, none or unknown (what a passive observer can tell)."""
    if f.client_cert_presented is True:
        return "mtls"
    kinds = f.auth_kinds
    if plaintext:
        if "bearer" in kinds:
            return "bearer"
        if "basic" in kinds:
            return "basic"
        if kinds:
            return "unknown"
        if f.requests or f.app_proto == "dns" or _cleartext_udp(f):
            return "none"
        return "unknown"
    # Inside TLS a bearer token may ride the encrypted HTTP: an empty client Certificate
    # (TLS <= 1.2) proves no certificate, not the absence of credentials.
    return "unknown"


def tag_flow(f: FlowFacts, ctx: Context, agents: frozenset[str], konnectivity: bool) -> Tagged:
    """One flow + resolved roles → its FLOW_K8S values."""
    book = ctx.book
    s_local = _flow_signals(f, ctx, "server")
    srv_claim = book.role_for(f.resp_h, _server_preference(f, s_local, book))
    server_role, server_name, s_conf, s_ev = _claim_or_unknown(srv_claim, s_local)
    c_local = _flow_signals(f, ctx, "client")
    cli_claim = book.role_for(f.orig_h, _client_preference(f, c_local, server_role))
    client_role, client_name, c_conf, c_ev = _claim_or_unknown(cli_claim, c_local)
    if client_role == "unknown" and server_role in ("apiserver", "service-vip"):
        client_role, c_conf, c_ev = "client", 0.5, "calls the apiserver, no other role evidence"
    flags = set(f.flags)
    if f.resp_h in ctx.vips:
        flags.add("server_kubernetes_vip")
    if f.orig_h in agents:
        flags.add("client_konnectivity_agent")
    if f.proto == "tcp" and (f.resp_p in P.APISERVER_PORTS | P.APISERVER_INSECURE_PORTS
                             or {"apiserver_cert", "kube_api_path"} & flags):
        flags.add("apiserver_service")
    rule = choose_path(f.resp_p, f.proto, client_role, server_role, flags)
    uses_roles = rule.client_roles is not None or rule.server_roles is not None
    conf = min(rule.confidence, c_conf, s_conf) if uses_roles and rule.path != "other" else rule.confidence
    evidence = [rule.evidence]
    if rule.path != "other":
        evidence += [f"client {client_role}: {c_ev}", f"server {server_role}: {s_ev}"]
    note = None
    if konnectivity and rule.path == "konnectivity" and f.orig_h in agents:
        note = KONNECTIVITY_NOTE
    elif konnectivity and f.orig_h in agents and f.resp_p == P.KUBELET_PORT:
        note = AGENT_DIAL_NOTE
    plaintext = plaintext_of(f)
    if client_name is None and client_role not in ("client", "unknown"):
        client_name = book.name_of(f.orig_h)
    if server_name is None and server_role not in ("client", "unknown"):
        server_name = book.name_of(f.resp_h)
    return Tagged(path=rule.path, client_role=client_role, server_role=server_role,
                  client_name=client_name, server_name=server_name,
                  k8s_operation=operation_of(f) if rule.path != "other" else None,
                  plaintext=plaintext, auth=auth_of(f, plaintext), path_confidence=round(conf, 3),
                  path_evidence="; ".join(evidence), path_note=note)


def konnectivity_agents(facts: Sequence[FlowFacts], book: RoleBook) -> frozenset[str]:
    """Addresses that hold an agent connection to a konnectivity server."""
    return frozenset(f.orig_h for f in facts
                     if book.has(f.resp_h, "konnectivity-server") and "connect" not in f.flags
                     and (f.resp_p in P.KONNECTIVITY_AGENT_PORTS or "konnectivity_grpc" in f.flags))


def hosts_table(flows: pd.DataFrame, tags: Sequence[Tagged], facts: Sequence[FlowFacts],
                book: RoleBook) -> pd.DataFrame:
    """Tagged flows + role book → schema.HOSTS, one row per address seen in a flow."""
    count: dict[str, int] = defaultdict(int)
    nbytes: dict[str, int] = defaultdict(int)
    seen_roles: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    ob = flows["orig_bytes"].fillna(0).astype("int64").tolist() if len(flows) else []
    rb = flows["resp_bytes"].fillna(0).astype("int64").tolist() if len(flows) else []
    for i, (f, t) in enumerate(zip(facts, tags, strict=True)):
        b = int(ob[i]) + int(rb[i])
        for ip, role in ((f.orig_h, t.client_role), (f.resp_h, t.server_role)):
            count[ip] += 1
            nbytes[ip] += b
            seen_roles[ip][role] += 1
        if f.orig_h == f.resp_h:
            count[f.orig_h] -= 1
            nbytes[f.orig_h] -= b
    rows = []
    for ip in sorted(count, key=_ip_key):
        c = book.primary(ip)
        if c is None:
            role = max(seen_roles[ip].items(), key=lambda kv: kv[1])[0]
            rows.append({"ip": ip, "role": role, "name": None, "node": None,
                         "confidence": 0.5 if role == "client" else 0.0,
                         "evidence": "calls the apiserver, no other role evidence"
                         if role == "client" else "no role evidence",
                         "source": "inferred", "flows": count[ip], "bytes": nbytes[ip]})
            continue
        others = [r for r in book.claims[ip] if r != c.role]
        ev = list(c.evidence[:4]) + ([f"also {', '.join(sorted(others))}"] if others else [])
        rows.append({"ip": ip, "role": c.role, "name": c.name or book.name_of(ip),
                     "node": c.node or book.node_of(ip), "confidence": round(c.confidence, 3),
                     "evidence": "; ".join(ev), "source": c.source, "flows": count[ip],
                     "bytes": nbytes[ip]})
    return schema.conform(rows, schema.HOSTS)


def _ip_key(ip: str) -> tuple[int, str]:
    import ipaddress

    try:
        a = ipaddress.ip_address(ip)
        return (a.version, f"{int(a):040d}")
    except ValueError:
        return (9, ip)


def tag(flows: pd.DataFrame, *, inventory: Inventory | None, http: pd.DataFrame | None
        ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Flows (+ inventory, http table) → (flows with FLOW_K8S columns, hosts table)."""
    facts = build_facts(flows, http)
    book, ctx = infer_roles(facts, inventory)
    agents = konnectivity_agents(facts, book)
    konnectivity = bool(agents)
    tags = [tag_flow(f, ctx, agents, konnectivity) for f in facts]
    out = flows.reset_index(drop=True).copy()
    for col in schema.FLOW_K8S.names:
        out[col] = [getattr(t, col) for t in tags]
    return out, hosts_table(out, tags, facts, book)
