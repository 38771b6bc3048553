"""Control-plane paths: the data table of rules that names the path of every flow.

Paths are the ones the "Communication between Nodes and the Control Plane" page describes
(https://kubernetes.io/docs/concepts/architecture/control-plane-node-communication/), plus
``kubelet-readonly``, ``kubelet-direct``, ``etcd``/``etcd-peer``, ``control-plane-other`` and
``other``. Rules are evaluated in order; the first whose every condition holds wins. A rule's
conditions are the server port, the roles of both ends (as resolved for this flow) and flow
flags from :mod:`classifier.k8s.facts`. The names are an output contract (docs/paths.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from classifier.k8s import ports as P

PathName = Literal["node-to-apiserver", "pod-to-apiserver", "client-to-apiserver",
                   "apiserver-to-kubelet", "apiserver-proxy", "kubelet-readonly", "kubelet-direct",
                   "etcd", "etcd-peer", "konnectivity", "ssh-tunnel", "control-plane-other", "other"]
PATHS: Final[tuple[PathName, ...]] = (
    "node-to-apiserver", "pod-to-apiserver", "client-to-apiserver", "apiserver-to-kubelet",
    "apiserver-proxy", "kubelet-readonly", "kubelet-direct", "etcd", "etcd-peer", "konnectivity",
    "ssh-tunnel", "control-plane-other", "other")
CONTROL_PLANE_PATHS: Final = frozenset(PATHS) - {"other"}
APISERVER_FAMILY: Final = frozenset({"node-to-apiserver", "pod-to-apiserver", "client-to-apiserver"})

R = frozenset


@dataclass(frozen=True, slots=True)
class PathRule:
    """One row of the path table; None / empty means 'no condition'."""

    path: PathName
    confidence: float
    evidence: str
    ports: frozenset[int] | None = None
    """Server port is one of these (TCP)."""
    not_ports: frozenset[int] = R()
    client_roles: frozenset[str] | None = None
    server_roles: frozenset[str] | None = None
    not_client_roles: frozenset[str] = R()
    flags: frozenset[str] = R()
    """All of these flow flags must be set."""
    any_flags: frozenset[str] = R()
    """At least one of these must be set (when non-empty)."""
    not_flags: frozenset[str] = R()

    def matches(self, port: int, proto: str, client_role: str, server_role: str,
                flags: set[str] | frozenset[str]) -> bool:
        """Does the rule hold for a flow with these facts?"""
        if self.ports is not None and (proto != "tcp" or port not in self.ports):
            return False
        if port in self.not_ports:
            return False
        if self.client_roles is not None and client_role not in self.client_roles:
            return False
        if self.server_roles is not None and server_role not in self.server_roles:
            return False
        if client_role in self.not_client_roles:
            return False
        if not self.flags <= flags or self.not_flags & flags:
            return False
        return not self.any_flags or bool(self.any_flags & flags)


KUBELET_PORTS: Final = R({P.KUBELET_PORT, P.KUBELET_READONLY_PORT})
_CLUSTER_BACKENDS: Final = R({"pod", "node", "service-vip", "dns", "unknown"})
_NOT_APISERVER_CLIENTS: Final = R({"client", "unknown"})

RULES: Final[Sequence[PathRule]] = (
    # --- Konnectivity: agent ↔ server, apiserver → server (HTTP CONNECT) ---------------------
    PathRule("konnectivity", 0.95, "konnectivity gRPC (/AgentService, /ProxyService)",
             flags=R({"konnectivity_grpc"})),
    PathRule("konnectivity", 0.9, "HTTP CONNECT to a kubelet through the konnectivity server",
             flags=R({"connect"}), server_roles=R({"konnectivity-server"})),
    PathRule("konnectivity", 0.85, "HTTP CONNECT to a kubelet address",
             flags=R({"connect_to_kubelet"})),
    PathRule("konnectivity", 0.9, "agent connection to the konnectivity server",
             server_roles=R({"konnectivity-server"}),
             ports=P.KONNECTIVITY_AGENT_PORTS | P.KONNECTIVITY_FRONTEND_PORTS),
    PathRule("konnectivity", 0.7, "TLS h2 on konnectivity agent port",
             ports=P.KONNECTIVITY_AGENT_PORTS, flags=R({"tls", "alpn_h2"})),
    # --- SSH tunnels (deprecated) ------------------------------------------------------------
    PathRule("ssh-tunnel", 0.85, "SSH from the apiserver to a node",
             ports=R({P.SSH_PORT}), client_roles=R({"apiserver"})),
    # --- etcd ----------------------------------------------------------------------------------
    PathRule("etcd-peer", 0.9, "etcd peer port", ports=R({P.ETCD_PEER_PORT})),
    PathRule("etcd", 0.95, "etcd gRPC (/etcdserverpb.*)", flags=R({"etcd_grpc"})),
    PathRule("etcd", 0.85, "etcd client port", ports=R({P.ETCD_CLIENT_PORT})),
    PathRule("etcd", 0.8, "etcd keys (/registry/...) on an etcd server", server_roles=R({"etcd"}),
             flags=R({"etcd_payload"})),
    # --- kubelet -------------------------------------------------------------------------------
    PathRule("kubelet-readonly", 0.9, "kubelet read-only port", ports=R({P.KUBELET_READONLY_PORT})),
    PathRule("apiserver-to-kubelet", 0.9, "apiserver calls the kubelet API",
             ports=R({P.KUBELET_PORT}), client_roles=R({"apiserver"})),
    PathRule("apiserver-to-kubelet", 0.75, "konnectivity agent dials the kubelet for the apiserver",
             ports=R({P.KUBELET_PORT}), flags=R({"client_konnectivity_agent"})),
    PathRule("kubelet-direct", 0.85, "kubelet API called by a client other than the apiserver",
             ports=R({P.KUBELET_PORT})),
    # --- apiserver proxy (apiserver → pod / service endpoint / node, non-kubelet port) --------
    PathRule("apiserver-proxy", 0.95, "apiserver proxy request (X-Forwarded-Uri …/proxy)",
             flags=R({"proxy_forwarded"}), not_ports=KUBELET_PORTS),
    # --- scheduler / controller-manager / kube-proxy / health and admin ports ----------------
    PathRule("control-plane-other", 0.8, "control-plane component port",
             ports=P.COMPONENT_PORTS),
    PathRule("apiserver-proxy", 0.75, "apiserver calls a cluster backend over plain HTTP",
             client_roles=R({"apiserver"}), server_roles=_CLUSTER_BACKENDS - {"dns"},
             flags=R({"plaintext"}), not_flags=R({"app_dns", "connect"}), not_ports=KUBELET_PORTS),
    PathRule("apiserver-proxy", 0.6, "apiserver calls a pod",
             client_roles=R({"apiserver"}), server_roles=R({"pod"}), not_flags=R({"app_dns"}),
             not_ports=KUBELET_PORTS | {P.SSH_PORT}),
    # --- to the apiserver ----------------------------------------------------------------------
    PathRule("pod-to-apiserver", 0.9, "call to the `kubernetes` service VIP",
             server_roles=R({"service-vip"}), flags=R({"server_kubernetes_vip"})),
    PathRule("pod-to-apiserver", 0.9, "pod calls the apiserver",
             server_roles=R({"apiserver"}), client_roles=R({"pod"}), flags=R({"apiserver_service"})),
    PathRule("node-to-apiserver", 0.9, "node (kubelet / kube-proxy) calls the apiserver",
             server_roles=R({"apiserver"}), client_roles=R({"node"}), flags=R({"apiserver_service"})),
    PathRule("client-to-apiserver", 0.85, "client outside the cluster calls the apiserver",
             server_roles=R({"apiserver"}), client_roles=_NOT_APISERVER_CLIENTS | {"apiserver"},
             flags=R({"apiserver_service"})),
    # --- everything else: pod-to-pod, DNS, NTP, ... ----------------------------------------------
    PathRule("other", 1.0, "no control-plane rule matched"),
)
"""Evaluated top to bottom; the last row always matches."""


def choose_path(port: int, proto: str, client_role: str, server_role: str,
                flags: set[str] | frozenset[str]) -> PathRule:
    """Flow facts → the first matching rule of :data:`RULES`."""
    for rule in RULES:
        if rule.matches(port, proto, client_role, server_role, flags):
            return rule
    return RULES[-1]
