"""Endpoint roles: what each address is (apiserver, node, pod, ...), how sure, and why.

Claims come from the inventory first (confidence 1.0), then from traffic signals
(:mod:`classifier.k8s.signals`). One address may hold several roles (a control-plane host runs
the apiserver, etcd and a kubelet); each flow picks the role that fits what the address does in
that flow (:meth:`RoleBook.role_for`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

from classifier.k8s.model import Inventory

Role = Literal["apiserver", "node", "pod", "etcd", "konnectivity-server", "service-vip", "client",
               "dns", "unknown"]
ROLES: Final[tuple[Role, ...]] = ("apiserver", "node", "pod", "etcd", "konnectivity-server",
                                  "service-vip", "client", "dns", "unknown")
PRIORITY: Final[dict[str, int]] = {r: i for i, r in enumerate(
    ("apiserver", "etcd", "konnectivity-server", "service-vip", "dns", "node", "pod", "client",
     "unknown"))}
"""Which role names a multi-role address in the hosts table (lower wins at equal confidence)."""
INVENTORY_CONFIDENCE: Final = 1.0
MAX_EVIDENCE: Final = 4


@dataclass(slots=True)
class Claim:
    """One role claimed for one address."""

    role: str
    confidence: float
    evidence: list[str] = field(default_factory=list)
    name: str | None = None
    node: str | None = None
    inventory: bool = False
    inferred: bool = False

    @property
    def source(self) -> str:
        """inventory, inferred or both."""
        if self.inventory and self.inferred:
            return "both"
        return "inventory" if self.inventory else "inferred"


class RoleBook:
    """Address → role claims; merges evidence, keeps the best confidence per role."""

    def __init__(self) -> None:
        self.claims: dict[str, dict[str, Claim]] = {}

    def add(self, ip: str, role: str, confidence: float, evidence: str, *, name: str | None = None,
            node: str | None = None, inventory: bool = False) -> None:
        """Record that ``ip`` plays ``role`` (``evidence`` says why)."""
        if not ip:
            return
        by_role = self.claims.setdefault(ip, {})
        c = by_role.get(role)
        if c is None:
            c = by_role[role] = Claim(role, 0.0)
        if inventory:
            c.inventory = True
        else:
            c.inferred = True
        c.confidence = max(c.confidence, confidence)
        if evidence not in c.evidence:
            c.evidence.append(evidence)
        if name and (c.name is None or inventory):
            c.name = name
        if node and (c.node is None or inventory):
            c.node = node

    def has(self, ip: str, role: str) -> bool:
        """True when any claim says ``ip`` plays ``role``."""
        return role in self.claims.get(ip, {})

    def get(self, ip: str, role: str) -> Claim | None:
        """The claim for (ip, role), or None."""
        return self.claims.get(ip, {}).get(role)

    def primary(self, ip: str) -> Claim | None:
        """The address's main role: inventory first, then confidence, then PRIORITY."""
        cands = list(self.claims.get(ip, {}).values())
        if not cands:
            return None
        return min(cands, key=lambda c: (not c.inventory, -round(c.confidence, 3),
                                         PRIORITY.get(c.role, 99)))

    def role_for(self, ip: str, preferred: Iterable[str]) -> Claim | None:
        """The claim that fits a flow: the first ``preferred`` role ``ip`` holds, else primary."""
        by_role = self.claims.get(ip, {})
        for r in preferred:
            if r in by_role:
                return by_role[r]
        return self.primary(ip)

    def name_of(self, ip: str) -> str | None:
        """A name for the address from any of its claims (node name preferred)."""
        by_role = self.claims.get(ip, {})
        for r in ("node", "apiserver", "etcd", "konnectivity-server", "pod", "service-vip", "dns"):
            c = by_role.get(r)
            if c is not None and c.name:
                return c.name
        return None

    def node_of(self, ip: str) -> str | None:
        """The node hosting the address, from any claim."""
        for c in self.claims.get(ip, {}).values():
            if c.node:
                return c.node
        return None


def claims_from_inventory(inv: Inventory, book: RoleBook) -> None:
    """Inventory → role claims at confidence 1.0."""
    def add(ip: str, role: str, why: str, name: str | None = None, node: str | None = None) -> None:
        book.add(ip, role, INVENTORY_CONFIDENCE, why, name=name, node=node, inventory=True)

    for ip, node_name in inv.nodes.items():
        add(ip, "node", f"inventory: node {node_name}", name=node_name, node=node_name)
    for ip, pod in inv.pods.items():
        if pod.host_network and ip in inv.nodes:
            continue  # hostNetwork pods take their node's role and name
        add(ip, "pod", f"inventory: pod {pod.ref}", name=pod.ref, node=pod.node)
    for ip in inv.apiservers:
        node = inv.nodes.get(ip)
        why = ("inventory: default/kubernetes endpoint" if ip in inv.endpoints
               and "default/kubernetes" in inv.endpoints[ip] else "inventory: apiserver")
        add(ip, "apiserver", why, name=node, node=node)
    for ip in inv.etcd:
        add(ip, "etcd", "inventory: etcd", name=inv.nodes.get(ip), node=inv.nodes.get(ip))
    for ip in inv.konnectivity_servers:
        add(ip, "konnectivity-server", "inventory: konnectivity server", name=inv.nodes.get(ip),
            node=inv.nodes.get(ip))
    for ip, svc in inv.services.items():
        # the cluster DNS Service keeps the dns role: what answers there is the cluster's DNS
        role = "dns" if ip in inv.dns else "service-vip"
        add(ip, role, f"inventory: service {svc.ref} cluster IP", name=svc.ref)
    for ip, pod in inv.pods.items():
        if pod.component == "kube-dns" and not pod.host_network:
            add(ip, "dns", f"inventory: cluster DNS pod {pod.ref}", name=pod.ref, node=pod.node)
    for ip in inv.dns:
        if ip not in inv.services:
            add(ip, "dns", "inventory: cluster DNS")
    for ip in inv.clients:
        add(ip, "client", "inventory: client outside the cluster")
