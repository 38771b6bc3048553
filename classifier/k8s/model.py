"""The inventory model: who is who in the cluster, keyed by IP address."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class PodEntry:
    """One pod address."""

    namespace: str
    name: str
    node: str | None
    host_network: bool
    component: str | None
    """kube-apiserver / etcd / konnectivity-server / kube-dns / ... from well-known labels."""

    @property
    def ref(self) -> str:
        """namespace/name."""
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class ServiceEntry:
    """One Service cluster IP."""

    namespace: str
    name: str
    ports: tuple[int, ...]

    @property
    def ref(self) -> str:
        """namespace/name."""
        return f"{self.namespace}/{self.name}"


@dataclass(slots=True)
class Inventory:
    """What the inventory files say, keyed by IP address (string, canonical form)."""

    nodes: dict[str, str] = field(default_factory=dict)
    """node address → node name."""
    pods: dict[str, PodEntry] = field(default_factory=dict)
    """pod IP → pod (hostNetwork pods share their node's address)."""
    services: dict[str, ServiceEntry] = field(default_factory=dict)
    """cluster IP → service."""
    endpoints: dict[str, set[str]] = field(default_factory=dict)
    """endpoint address → services (namespace/name) it backs."""
    apiservers: set[str] = field(default_factory=set)
    etcd: set[str] = field(default_factory=set)
    konnectivity_servers: set[str] = field(default_factory=set)
    clients: set[str] = field(default_factory=set)
    dns: set[str] = field(default_factory=set)
    kubernetes_vips: set[str] = field(default_factory=set)
    """cluster IPs of default/kubernetes."""
    pod_cidrs: list[IPNetwork] = field(default_factory=list)
    service_cidrs: list[IPNetwork] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def is_empty(self) -> bool:
        """True when no file contributed any address or CIDR."""
        return not (self.nodes or self.pods or self.services or self.endpoints or self.apiservers
                    or self.etcd or self.konnectivity_servers or self.clients or self.dns
                    or self.pod_cidrs or self.service_cidrs)

    def in_pod_cidr(self, ip: str) -> bool:
        """True when ip lies in a known pod CIDR."""
        return _in_any(ip, self.pod_cidrs)

    def in_service_cidr(self, ip: str) -> bool:
        """True when ip lies in a known service CIDR."""
        return _in_any(ip, self.service_cidrs)

    def knows(self, ip: str) -> bool:
        """True when the address is part of the cluster per the inventory."""
        return (ip in self.nodes or ip in self.pods or ip in self.services or ip in self.endpoints
                or ip in self.apiservers or ip in self.etcd or ip in self.konnectivity_servers
                or ip in self.dns or self.in_pod_cidr(ip) or self.in_service_cidr(ip))


def _in_any(ip: str, nets: Sequence[IPNetwork]) -> bool:
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr.version == n.version and addr in n for n in nets)
