"""Well-known Kubernetes control-plane ports: a data table, one row per port.

Every row cites where the default comes from (see ../shared/reference/k8s-signatures.md §1).
The path rules (:mod:`classifier.k8s.paths`) and the findings rules read this table; nothing
here decides a path on its own: a port is a prior, upgraded or overridden by evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Transport = Literal["tls", "http", "grpc-tls", "ssh", "tls-or-http"]
AuthExpectation = Literal["mtls", "mtls-or-bearer", "bearer", "none", "ssh"]


@dataclass(frozen=True, slots=True)
class PortInfo:
    """What a default port is for: component, expected transport and auth, and the source."""

    port: int
    component: str
    """Short component name (kube-apiserver, kubelet, etcd, konnectivity-server, ...)."""
    role: str
    """Endpoint role of whoever serves this port (a classifier.k8s.roles.ROLES value)."""
    transport: Transport
    auth: AuthExpectation
    """What authentication a well-configured cluster uses on this port."""
    reference: str
    """Where the default is defined (Kubernetes source file or doc)."""
    plaintext_by_design: bool = False
    """True when the port never speaks TLS (read-only and legacy insecure ports)."""
    loopback_default: bool = False
    """True when the default bind address is 127.0.0.1 (seen only in loopback captures)."""


def _p(port: int, component: str, role: str, transport: Transport, auth: AuthExpectation,
       reference: str, plaintext: bool = False, loopback: bool = False) -> PortInfo:
    return PortInfo(port, component, role, transport, auth, reference, plaintext, loopback)


_KUBEADM = "cmd/kubeadm/app/constants/constants.go"
_PORTS_GO = "pkg/cluster/ports/ports.go"
_KONN_EXAMPLE = "kubernetes/website content/en/examples/admin/konnectivity/konnectivity-server.yaml"
_KONN_SERVER = "apiserver-network-proxy cmd/server/app/options/options.go"
_KONN_AGENT = "apiserver-network-proxy cmd/agent/app/options/options.go"

PORTS: Final[dict[int, PortInfo]] = {p.port: p for p in (
    _p(6443, "kube-apiserver", "apiserver", "tls", "mtls-or-bearer",
       f"{_KUBEADM} KubeAPIServerPort"),
    _p(443, "kube-apiserver (kubernetes Service / LB)", "apiserver", "tls", "mtls-or-bearer",
       "docs: control-plane-node-communication ('typically 443')"),
    _p(8080, "kube-apiserver insecure port (removed in 1.20)", "apiserver", "http", "none",
       "kubernetes PR #95856", plaintext=True),
    _p(10250, "kubelet API", "node", "tls", "mtls-or-bearer", f"{_PORTS_GO} KubeletPort"),
    _p(10255, "kubelet read-only API", "node", "http", "none",
       f"{_PORTS_GO} KubeletReadOnlyPort (older releases)", plaintext=True),
    _p(10248, "kubelet healthz", "node", "http", "none",
       "pkg/kubelet/apis/config/v1beta1/defaults.go HealthzPort", plaintext=True, loopback=True),
    _p(10249, "kube-proxy metrics", "node", "http", "none",
       "pkg/proxy/apis/config/v1alpha1/defaults.go", plaintext=True, loopback=True),
    _p(10256, "kube-proxy healthz", "node", "http", "none",
       "pkg/proxy/apis/config/v1alpha1/defaults.go", plaintext=True),
    _p(10257, "kube-controller-manager", "apiserver", "tls", "bearer",
       f"{_PORTS_GO} KubeControllerManagerPort"),
    _p(10258, "cloud-controller-manager", "apiserver", "tls", "bearer",
       f"{_PORTS_GO} CloudControllerManagerPort"),
    _p(10259, "kube-scheduler", "apiserver", "tls", "bearer", f"{_KUBEADM} KubeSchedulerPort"),
    _p(10251, "kube-scheduler insecure port (legacy)", "apiserver", "http", "none",
       "kubernetes PR #85043", plaintext=True),
    _p(10252, "kube-controller-manager insecure port (legacy)", "apiserver", "http", "none",
       "kubernetes PR #85043, #96216", plaintext=True),
    _p(2379, "etcd client", "etcd", "grpc-tls", "mtls", f"{_KUBEADM} EtcdListenClientPort"),
    _p(2380, "etcd peer", "etcd", "tls", "mtls", f"{_KUBEADM} EtcdListenPeerPort"),
    _p(2381, "etcd metrics", "etcd", "http", "none", f"{_KUBEADM} EtcdMetricsPort",
       plaintext=True, loopback=True),
    _p(8132, "konnectivity-server agent port", "konnectivity-server", "grpc-tls", "bearer",
       f"{_KONN_EXAMPLE} --agent-port=8132"),
    _p(8133, "konnectivity-server admin port", "konnectivity-server", "http", "none",
       f"{_KONN_EXAMPLE} --admin-port=8133", plaintext=True),
    _p(8134, "konnectivity-server health port", "konnectivity-server", "http", "none",
       f"{_KONN_EXAMPLE} --health-port=8134", plaintext=True),
    _p(8090, "konnectivity-server frontend (HTTP-CONNECT/gRPC)", "konnectivity-server",
       "tls-or-http", "mtls", f"{_KONN_SERVER} server port default"),
    _p(8091, "konnectivity-server agent port (binary default)", "konnectivity-server", "grpc-tls",
       "bearer", f"{_KONN_SERVER} agent port default; {_KONN_AGENT} proxy-server-port"),
    _p(8092, "konnectivity-server health port (binary default)", "konnectivity-server", "http",
       "none", f"{_KONN_SERVER} health port default", plaintext=True),
    _p(8093, "konnectivity-agent health port", "node", "http", "none",
       f"{_KONN_AGENT} health-server-port", plaintext=True),
    _p(22, "sshd (apiserver SSH tunnels, deprecated 1.9, removed 1.22)", "node", "ssh", "ssh",
       "docs: control-plane-node-communication 'SSH tunnels'; kubernetes PR #102297"),
)}
"""Port → what it is. Keys are TCP ports; UDP is not used on the control plane."""

APISERVER_PORTS: Final = frozenset({6443, 443, 8443})
"""Ports an apiserver (or its load balancer) serves TLS on; 8443 is common for managed LBs."""
APISERVER_INSECURE_PORTS: Final = frozenset({8080})
KUBELET_PORT: Final = 10250
KUBELET_READONLY_PORT: Final = 10255
ETCD_CLIENT_PORT: Final = 2379
ETCD_PEER_PORT: Final = 2380
KONNECTIVITY_AGENT_PORTS: Final = frozenset({8132, 8091})
"""Agent-facing gRPC port: 8132 in the Kubernetes docs example, 8091 in the binary defaults."""
KONNECTIVITY_FRONTEND_PORTS: Final = frozenset({8090, 8131})
"""apiserver → konnectivity-server over TCP (HTTP-CONNECT mode): binary default 8090; 8131 is the
port used by the upstream e2e/kind examples."""
SSH_PORT: Final = 22
DNS_PORTS: Final = frozenset({53})
CLEARTEXT_UDP_PORTS: Final = frozenset({53, 67, 68, 123, 161, 162, 514})
"""UDP services that have no encryption or authentication of their own: DNS (RFC 1035), DHCP
(RFC 2131), NTP (RFC 5905, symmetric keys aside), SNMPv1/v2c, syslog (RFC 5426)."""
COMPONENT_PORTS: Final = frozenset({10248, 10249, 10256, 10257, 10258, 10259, 10251, 10252, 2381,
                                    8133, 8134, 8092, 8093})
"""Scheduler / controller-manager / kube-proxy / health and admin ports: control-plane-other."""

DEFAULT_KUBERNETES_VIPS: Final = ("10.96.0.1", "10.0.0.1")
"""The `kubernetes` Service ClusterIP under kubeadm's 10.96.0.0/12 and the apiserver's built-in
10.0.0.0/24 default (first address of the range; pkg/kubeapiserver/options DefaultServiceIPCIDR,
kubeadm DefaultServicesSubnet)."""
DEFAULT_DNS_VIP: Final = "10.96.0.10"
DEFAULT_POD_CIDRS: Final = ("10.244.0.0/16", "10.42.0.0/16")
"""Common default pod networks: kubeadm docs / flannel `--pod-network-cidr=10.244.0.0/16`,
k3s `--cluster-cidr` 10.42.0.0/16. Only a weak hint, used for addresses nothing else explains."""
"""kubeadm DefaultClusterDNSIP."""
LEASE_INTERVAL_S: Final = 10.0
"""Kubelet node-lease renewal: 0.25 × nodeLeaseDurationSeconds (40 s) (pkg/kubelet/kubelet.go
nodeLeaseRenewIntervalFraction); nodeStatusUpdateFrequency is 10 s as well."""
LEASE_TOLERANCE_S: Final = 2.5
