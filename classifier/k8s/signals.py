"""Role signals read off traffic: a data table, one row per signal.

Each signal names the side of the flow it speaks about (client or server), the role it suggests,
its confidence, the evidence string it leaves, and a predicate over :class:`FlowFacts`.
Phase 1 signals look at one flow alone; phase 2 signals also ask what phase 1 concluded about
the other end (e.g. SSH to :22 *from the apiserver*). Sources: k8s-signatures.md §§1-12.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Literal

from classifier.k8s import ports as P
from classifier.k8s.facts import PROXY_URI, FlowFacts
from classifier.k8s.model import Inventory
from classifier.k8s.roles import RoleBook

Side = Literal["client", "server"]


@dataclass(frozen=True, slots=True)
class Context:
    """What a phase-2 predicate may consult."""

    book: RoleBook
    inventory: Inventory | None
    vips: frozenset[str]
    """Addresses taken for the `kubernetes` service VIP."""


Pred = Callable[[FlowFacts, Context], bool]
Namer = Callable[[FlowFacts], str | None]


@dataclass(frozen=True, slots=True)
class Signal:
    """One row of the signal table."""

    side: Side
    role: str
    confidence: float
    evidence: str
    """Evidence text; '{port}', '{name}', '{ua}', '{cn}' are filled in from the flow."""
    needs: frozenset[str] = frozenset()
    """Flow flags that must all be set (checked first: cheap)."""
    ports: frozenset[int] | None = None
    """Server TCP port must be one of these."""
    when: Pred | None = None
    """Any further condition."""
    name: Namer | None = None
    phase: int = 1

    def matches(self, f: FlowFacts, ctx: Context) -> bool:
        """Does the signal hold for this flow?"""
        if self.ports is not None and (f.resp_p not in self.ports or f.proto != "tcp"):
            return False
        if not self.needs <= f.flags:
            return False
        return self.when is None or self.when(f, ctx)


def _ports(ps: frozenset[int] | set[int]) -> Pred:
    return lambda f, c: f.resp_p in ps and f.proto == "tcp"


def _has(*flags: str) -> Pred:
    return lambda f, c: all(x in f.flags for x in flags)


def _all(*preds: Pred) -> Pred:
    return lambda f, c: all(p(f, c) for p in preds)


def _any(*preds: Pred) -> Pred:
    return lambda f, c: any(p(f, c) for p in preds)


def _not(pred: Pred) -> Pred:
    return lambda f, c: not pred(f, c)


def _server_is(*roles: str) -> Pred:
    return lambda f, c: any(c.book.has(f.resp_h, r) for r in roles)


def _client_is(*roles: str) -> Pred:
    return lambda f, c: any(c.book.has(f.orig_h, r) for r in roles)


def _vip(f: FlowFacts, c: Context) -> bool:
    return f.resp_h in c.vips


def _outside_inventory(f: FlowFacts, c: Context) -> bool:
    return c.inventory is not None and not c.inventory.is_empty() and not c.inventory.knows(f.orig_h)


def _proxy_id_name(pod_id: str) -> str:
    """Proxy id 'name', 'name:port' or 'scheme:name:port' → name (utilnet.SplitSchemeNamePort)."""
    parts = pod_id.split(":")
    return parts[1] if len(parts) == 3 else parts[0]


def _proxy_target(kind: str) -> Namer:
    def name(f: FlowFacts) -> str | None:
        for r in f.requests:
            m = PROXY_URI.match(r.forwarded_uri or "")
            if m and kind == "pods" and m.group("kind") == "pods":
                return f"{m.group('ns')}/{_proxy_id_name(m.group('id'))}"
            if m and kind == "nodes" and m.group("nodes"):
                return _proxy_id_name(m.group("id"))
        return None
    return name


def _proxy_kind(kind: str) -> Pred:
    def pred(f: FlowFacts, c: Context) -> bool:
        for r in f.requests:
            m = PROXY_URI.match(r.forwarded_uri or "")
            if m and ((kind == "nodes" and m.group("nodes")) or m.group("kind") == kind):
                return True
        return False
    return pred


_DEFAULT_POD_NETS: Final = tuple(ipaddress.ip_network(n) for n in P.DEFAULT_POD_CIDRS)


def _in_default_pod_cidr(side: Side) -> Pred:
    def pred(f: FlowFacts, c: Context) -> bool:
        ip = f.orig_h if side == "client" else f.resp_h
        if ip in c.book.claims or (c.inventory is not None and c.inventory.pod_cidrs):
            return False
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return False
        return any(addr.version == n.version and addr in n for n in _DEFAULT_POD_NETS)
    return pred


def _ua(prefix: str) -> Pred:
    return lambda f, c: any(u.lower().startswith(prefix) for u in f.user_agents)


_KUBE_API_CALL: Final = _any(
    _has("k8s_status"), _ports(P.APISERVER_PORTS | P.APISERVER_INSECURE_PORTS),
    _ua("kubectl/"), _ua("kubelet/"), _ua("kube-proxy/"))
_NOT_VIP: Final = _not(_vip)
_NOT_CONNECT: Final = _not(_has("connect"))
"""Inside an HTTP CONNECT tunnel the proxied request's headers describe the far end, not the
CONNECT server."""
F = frozenset
KUBELET_PORTS: Final = F({P.KUBELET_PORT, P.KUBELET_READONLY_PORT})

SIGNALS: Final[Sequence[Signal]] = (
    # --- servers ------------------------------------------------------------------------------
    Signal("server", "konnectivity-server", 0.95, "serves /AgentService gRPC (konnectivity)",
           needs=F({"konnectivity_grpc"})),
    Signal("server", "konnectivity-server", 0.9,
           "serves apiserver certificate on konnectivity agent port {port}",
           needs=F({"apiserver_cert"}), ports=P.KONNECTIVITY_AGENT_PORTS),
    Signal("server", "konnectivity-server", 0.8, "long-lived TLS h2 on konnectivity agent port {port}",
           needs=F({"tls", "alpn_h2", "established"}), ports=P.KONNECTIVITY_AGENT_PORTS),
    Signal("server", "konnectivity-server", 0.85, "answers HTTP CONNECT to a kubelet on :{port}",
           needs=F({"connect_to_kubelet"})),
    Signal("server", "konnectivity-server", 0.8, "answers HTTP CONNECT on konnectivity port {port}",
           needs=F({"connect"}), ports=P.KONNECTIVITY_FRONTEND_PORTS),
    Signal("server", "konnectivity-server", 0.7, "TLS on the konnectivity frontend port {port}",
           needs=F({"tls", "established"}), ports=P.KONNECTIVITY_FRONTEND_PORTS),
    Signal("server", "service-vip", 0.9, "`kubernetes` service VIP on :{port}", ports=F({443}),
           when=_vip),
    Signal("server", "apiserver", 0.95, "apiserver certificate (kube-apiserver / kubernetes.default.svc)",
           needs=F({"apiserver_cert"}), when=_all(_not(_ports(P.KONNECTIVITY_AGENT_PORTS)), _NOT_VIP)),
    Signal("server", "apiserver", 0.9, "answers Kubernetes API requests on :{port}",
           needs=F({"kube_api_path"}), when=_all(_KUBE_API_CALL, _NOT_VIP)),
    Signal("server", "apiserver", 0.6, "serves TLS on apiserver port {port}",
           needs=F({"tls", "established"}), ports=F({6443})),
    Signal("server", "node", 0.95, "kubelet self-signed serving certificate {name}",
           needs=F({"kubelet_cert"}), name=lambda f: f.kubelet_host()),
    Signal("server", "node", 0.85, "answers kubelet API paths on :{port}",
           needs=F({"kubelet_path", "established"}), ports=KUBELET_PORTS),
    Signal("server", "node", 0.7, "serves kubelet port {port}", needs=F({"established"}),
           ports=KUBELET_PORTS),
    Signal("server", "etcd", 0.95, "serves etcd gRPC (/etcdserverpb.*)", needs=F({"etcd_grpc"})),
    Signal("server", "etcd", 0.75, "serves etcd port {port}", needs=F({"established"}),
           ports=F({P.ETCD_CLIENT_PORT, P.ETCD_PEER_PORT})),
    Signal("server", "pod", 0.9, "apiserver proxy target pod {name} (X-Forwarded-Uri)",
           needs=F({"proxy_forwarded"}), when=_all(_NOT_CONNECT, _proxy_kind("pods")),
           name=_proxy_target("pods")),
    Signal("server", "pod", 0.8, "apiserver service-proxy endpoint (X-Forwarded-Uri)",
           needs=F({"proxy_forwarded"}), when=_all(_NOT_CONNECT, _proxy_kind("services"))),
    Signal("server", "node", 0.85, "apiserver node-proxy target {name} (X-Forwarded-Uri)",
           needs=F({"proxy_forwarded"}), when=_all(_NOT_CONNECT, _proxy_kind("nodes")),
           name=_proxy_target("nodes")),
    Signal("server", "dns", 0.8, "serves DNS on :53", needs=F({"app_dns"}),
           when=lambda f, c: f.resp_p in P.DNS_PORTS),
    # --- clients ------------------------------------------------------------------------------
    Signal("client", "node", 0.95, "client certificate CN=system:node:{name}",
           needs=F({"node_client_cert"}), name=lambda f: f.node_from_client_cert()),
    Signal("client", "apiserver", 0.95, "client certificate CN={cn}", needs=F({"apiserver_client_cert"})),
    Signal("client", "node", 0.85, "User-Agent {ua}", needs=F({"ua_kubelet"})),
    Signal("client", "node", 0.8, "User-Agent {ua}", needs=F({"ua_kube_proxy"})),
    # the apiserver forwards kubectl's headers on proxy legs and streaming upgrades to the kubelet
    Signal("client", "client", 0.7, "User-Agent {ua}", needs=F({"ua_kubectl"}),
           when=_all(_not(_has("proxy_forwarded")), _not(_ports(KUBELET_PORTS)))),
    Signal("client", "apiserver", 0.9, "forwards a proxied request (X-Forwarded-Uri …/proxy)",
           needs=F({"proxy_forwarded"}), when=_NOT_CONNECT),
    Signal("client", "pod", 0.75, "calls the `kubernetes` service VIP", ports=F({443}), when=_vip),
    # on a control-plane host's loopback, etcd's and konnectivity's local client is the apiserver
    Signal("client", "apiserver", 0.6, "loopback client of etcd / konnectivity on a control-plane host",
           needs=F({"loopback"}), ports=F({P.ETCD_CLIENT_PORT}) | P.KONNECTIVITY_FRONTEND_PORTS),
    # --- phase 2: relative to what phase 1 found ----------------------------------------------
    Signal("client", "node", 0.65, "~10 s lease cadence on a long TLS 1.3 flow to the apiserver",
           needs=F({"tls13", "lease_cadence", "long_lived"}),
           when=_all(_server_is("apiserver"), _not(_client_is("pod", "client"))), phase=2),
    Signal("client", "node", 0.6, "long-lived konnectivity agent connection", needs=F({"long_lived"}),
           when=_all(_server_is("konnectivity-server"), _not(_client_is("apiserver")),
                     _not(_has("connect"))), phase=2),
    Signal("client", "apiserver", 0.8, "HTTP CONNECT through the konnectivity server",
           needs=F({"connect"}), when=_server_is("konnectivity-server"), phase=2),
    Signal("server", "node", 0.7, "SSH server reached from the apiserver", needs=F({"established"}),
           ports=F({P.SSH_PORT}), when=_client_is("apiserver"), phase=2),
    Signal("client", "pod", 0.7, "inside a VXLAN/Geneve/IP-in-IP overlay", needs=F({"overlay"}),
           when=lambda f, c: not c.book.has(f.orig_h, "node"), phase=2),
    Signal("server", "pod", 0.7, "inside a VXLAN/Geneve/IP-in-IP overlay", needs=F({"overlay"}),
           when=lambda f, c: not c.book.has(f.resp_h, "node") and not c.book.has(f.resp_h, "dns"),
           phase=2),
    # --- phase 3: only for addresses nothing else explains ------------------------------------
    Signal("client", "pod", 0.45, "address in a default pod CIDR (10.244.0.0/16, 10.42.0.0/16)",
           when=_in_default_pod_cidr("client"), phase=3),
    Signal("server", "pod", 0.45, "address in a default pod CIDR (10.244.0.0/16, 10.42.0.0/16)",
           when=_in_default_pod_cidr("server"), phase=3),
    Signal("client", "client", 0.8, "calls the apiserver from outside the inventory",
           when=_all(_server_is("apiserver", "service-vip"), _outside_inventory,
                     lambda f, c: f.orig_h not in c.book.claims), phase=3),
)
"""Evaluated in order for every flow; every matching signal adds a claim."""


def evidence_text(sig: Signal, f: FlowFacts, name: str | None) -> str:
    """Signal + flow → its evidence string."""
    ua = next(iter(f.user_agents), "")
    return (sig.evidence.replace("{port}", str(f.resp_p)).replace("{name}", name or "?")
            .replace("{ua}", ua.split(" ")[0]).replace("{cn}", f.client_cn or "?"))


def apply_signals(facts: Sequence[FlowFacts], ctx: Context, phase: int) -> None:
    """Flows → claims in ctx.book from every signal of ``phase`` that matches.

    Phase-1 matches are also kept on each flow (``local_signals``) for its own evidence.
    """
    table = [s for s in SIGNALS if s.phase == phase]
    for f in facts:
        local: list[tuple[str, str, str]] = []
        for sig in table:
            if not sig.matches(f, ctx):
                continue
            name = sig.name(f) if sig.name is not None else None
            ip = f.resp_h if sig.side == "server" else f.orig_h
            node = name if sig.role == "node" else None
            text = evidence_text(sig, f, name)
            ctx.book.add(ip, sig.role, sig.confidence, text, name=name, node=node)
            local.append((sig.side, sig.role, text))
        if phase == 1:
            f.local_signals = local


def kubernetes_vips(facts: Sequence[FlowFacts], inv: Inventory | None) -> frozenset[str]:
    """The `kubernetes` service VIP(s): from the inventory, else a default VIP seen serving the
    apiserver certificate or Kubernetes API calls on :443."""
    vips: set[str] = set()
    if inv is not None:
        vips |= inv.kubernetes_vips
        for ip in inv.services:
            if inv.services[ip].ref == "default/kubernetes":
                vips.add(ip)
    for f in facts:
        if f.resp_h not in P.DEFAULT_KUBERNETES_VIPS or f.resp_p != 443:
            continue
        # 10.96.0.1 is specific enough with TLS alone; 10.0.0.1 (a common router address)
        # needs the apiserver certificate or API calls, or the inventory's service CIDR.
        if ({"apiserver_cert", "kube_api_path"} & f.flags
                or (inv is not None and inv.in_service_cidr(f.resp_h))
                or (f.resp_h == P.DEFAULT_KUBERNETES_VIPS[0] and "tls" in f.flags)):
            vips.add(f.resp_h)
    return frozenset(vips)
