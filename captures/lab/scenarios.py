"""Scenarios: which components run, which traffic is made, which captures are taken.

Every scenario is the same small cluster (cluster.py) with different settings and actions.
Actions append `Expect`s with the label they deserve; findings per connection follow the
reasoning written down in captures/README.md ("Findings: how each label was decided").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from captures.lab import cluster as c
from captures.lab.labels import CONTROL_PLANE_PATHS, Expect


@dataclass(frozen=True, slots=True)
class Point:
    """A capture point: output file stem suffix, variant, where tcpdump runs."""

    suffix: str
    variant: str
    where: str  # "bridge", "eth0:<host>", "any:<host>", "pod:<ns/name>"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    tls: dict[str, str]
    features: tuple[str, ...]
    points: tuple[Point, ...]
    kubelet: dict[str, Any] = field(default_factory=lambda: {"anonymous": False, "authz": "Webhook",
                                                             "readonly": False})
    etcd: str = "external-tls"  # external-tls | external-plain | stacked-tls | stacked-exposed-plain
    kubelet_self_signed: bool = True
    verify_kubelet: bool = False
    insecure_port: int | None = None
    overlay: str = "host-gw"
    duration: float = 32.0
    apiserver_tls: dict[str, str] | None = None
    egress: bool = False  # apiserver reaches nodes through Konnectivity's HTTP-CONNECT frontend
    notes: str = ""


class Ctx:
    """Helpers that turn endpoint names into labelled expects for one scenario."""

    def __init__(self, run: c.Run, sc: Scenario) -> None:
        self.run = run
        self.sc = sc
        self.tls_version = "TLSv1.3" if sc.tls.get("max") == "1.3" else "TLSv1.2"

    def ip(self, who: str) -> str:
        for p in c.PODS:
            if p.ref == who:
                return p.ip
        return c.IP[who]

    @staticmethod
    def name(who: str) -> str | None:
        if who in (c.WS, c.E1, c.E2):
            return None
        return who

    def expect(self, id: str, client: str, cport: int | None, server: str, sport: int, path: str,
               crole: str, srole: str, *, plaintext: bool = False, auth: str | None = None,
               cert: bool = False, op: str | None = None, findings: tuple[str, ...] = (),
               tls: str | None = "default", vip: tuple[str, int] | None = None, vip_name: str | None = None,
               vip_role: str | None = None,
               count: int | None = 1, transport: str = "tcp", loopback: bool = False,
               client_ip: str | None = None, server_ip: str | None = None,
               payload: bool = True) -> Expect:
        """An expect; TLS version, auth visibility and UNVERIFIED_TLS_PEER follow the scenario."""
        version = None if plaintext else (self.tls_version if tls == "default" else tls)
        if auth is None:  # only a visible non-empty client Certificate (TLS <= 1.2) tells
            auth = "mtls" if cert and version not in (None, "TLSv1.3") else "unknown"
        f = list(findings)
        if version == "TLSv1.3" and path in CONTROL_PLANE_PATHS and payload:
            f.append("UNVERIFIED_TLS_PEER")
        return Expect(id=id, transport=transport, client=client_ip or self.ip(client), client_port=cport,
                      server=server_ip or self.ip(server), server_port=sport, path=path,
                      client_role=crole, server_role=srole, client_name=self.name(client),
                      server_name=self.name(server), plaintext=plaintext, auth=auth,
                      tls_version=version, k8s_operation=op, findings=sorted(set(f)),
                      client_host=client, server_host=server, vip=vip, count=count,
                      loopback=loopback, payload=payload,
                      extra={"vip_name": vip_name, "vip_role": vip_role})


    def kubelet_leg(self, id: str, node: str, op: str, *, port: int = 10250) -> Expect:
        """The apiserver's dial to a node: direct, or (egress) a CONNECT to Konnectivity."""
        if not self.sc.egress:
            selfsigned = self.sc.kubelet_self_signed and self.tls_version == "TLSv1.2"
            return self.expect(id, c.CP, None, node, port, "apiserver-to-kubelet", "apiserver", "node",
                               cert=True, op=op, findings=("KUBELET_SELF_SIGNED_CERT",) if selfsigned else ())
        tls = port == 10250
        return self.expect(f"{id}-via-konnectivity", c.CP, None, c.CP, 8131 if tls else 8090, "konnectivity",
                           "apiserver", "konnectivity-server", plaintext=not tls, cert=True,
                           auth=None if tls else "none", op="connect", loopback=True,
                           client_ip="127.0.0.1", server_ip="127.0.0.1",
                           findings=() if tls else ("KONNECTIVITY_PLAINTEXT",))


SCENARIOS: dict[str, Scenario] = {}


def _add(s: Scenario) -> None:
    SCENARIOS[s.name] = s


_add(Scenario(
    "cluster-tls12", "kubeadm-like cluster, every TLS connection capped at TLS 1.2 so certificates "
    "are visible: nodes, pods (direct and via the kubernetes VIP), kubectl, apiserver→kubelet "
    "logs/exec/attach/port-forward/node-proxy, apiserver proxy → pod and → service in plain HTTP, "
    "external 2-member etcd (client mTLS in TLS 1.2, peer traffic), DNS/NTP/pod-to-pod noise.",
    {"min": "1.2", "max": "1.2"}, ("core", "kubectl", "streams", "proxy", "noise"),
    (Point("", "ethernet-us", "bridge"), Point("-node1", "point-a", "eth0:node-1"),
     Point("-cp", "point-b", "eth0:cp-1"))))
_add(Scenario(
    "cluster-tls13", "The same cluster traffic in TLS 1.3 (certificates and client-cert presence "
    "hidden), nanosecond pcap; a pod-side capture in the api-client pod shows the kubernetes VIP.",
    {"min": "1.2", "max": "1.3"}, ("core", "kubectl", "streams", "proxy", "noise"),
    (Point("", "ethernet-ns", "bridge"),
     Point("-pod", "pod-side", "pod:default/api-client-6b7d9c5f4-x2kqp"))))
_add(Scenario(
    "secure", "kubeadm-like secure defaults: TLS 1.3 everywhere, stacked etcd on loopback with "
    "client-cert auth, kubelet serving certs signed by the cluster CA (serverTLSBootstrap) and "
    "verified by the apiserver, anonymous kubelet auth off, no read-only port, no proxy legs. "
    "pcapng on the bridge, plus `tcpdump -i any` (SLL2) on the control plane.",
    {"min": "1.3", "max": "1.3"}, ("core", "kubectl", "streams", "noise"),
    (Point("", "pcapng", "bridge"), Point("-cp-any", "sll2", "any:cp-1")),
    etcd="stacked-tls", kubelet_self_signed=False, verify_kubelet=True))
_add(Scenario(
    "legacy-insecure", "An old-style cluster: insecure apiserver port 8080 (kubectl, exec, bearer "
    "token and Basic credentials in clear), kubelet read-only 10255 scraped, legacy scheduler "
    "10251 metrics, etcd in plain HTTP without client certs (client and peer), a TLS 1.1 client.",
    {"min": "1.2", "max": "1.2"}, ("core", "legacy", "noise"),
    (Point("", "ethernet-us", "bridge"),),
    kubelet={"anonymous": True, "authz": "AlwaysAllow", "readonly": True,
             "tls": {"min": "1.2", "max": "1.2"}},
    etcd="external-plain", insecure_port=8080, apiserver_tls={"min": "1.0", "max": "1.2"}))
_add(Scenario(
    "attack", "A compromised pod (default/frontend) sweeps control-plane ports across hosts, reads "
    "kubelet /pods anonymously and runs a command through /run on node-2 (anonymous auth + "
    "AlwaysAllow there), is refused on node-1, reads the read-only port, uses a stolen service-"
    "account token against the apiserver and dumps etcd (exposed without client-cert auth) with "
    "etcdctl. TLS 1.2 so the empty client certificates are visible.",
    {"min": "1.2", "max": "1.2"}, ("core", "attack"),
    (Point("", "ethernet-us", "bridge"), Point("-pod", "pod-side", "pod:default/frontend-5f4d8c7b9-q8wzt")),
    kubelet={"anonymous": True, "authz": "AlwaysAllow", "readonly": True, "per_node": {
        "node-1": {"anonymous": False, "authz": "Webhook", "readonly": True}}},
    etcd="stacked-exposed-plain"))
_add(Scenario(
    "overlay-vxlan", "Pod traffic inside a real kernel VXLAN overlay (flannel-style flannel.1, UDP "
    "4789): pod→apiserver via the VIP, pod-to-pod, DNS, apiserver proxy → pod, TLS 1.3.",
    {"min": "1.2", "max": "1.3"}, ("core", "pods", "noise"),
    (Point("", "vxlan", "bridge"),), overlay="vxlan", etcd="stacked-tls", duration=25))
_add(Scenario(
    "ssh-tunnel", "Deprecated SSH tunnels: the apiserver opens `ssh -L` to node-1:22 and `ssh -W` to "
    "node-2:22 (real OpenSSH, key auth) and reaches the kubelets through them.",
    {"min": "1.2", "max": "1.2"}, ("core", "ssh"),
    (Point("", "ethernet-us", "bridge"),), etcd="stacked-tls", duration=25))
_add(Scenario(
    "konnectivity", "Konnectivity: agents on both nodes hold long-lived gRPC (ALPN h2, TLS 1.2, "
    "/AgentService/Connect) streams to the server on cp-1:8132 carrying apiserver→kubelet dials; "
    "plus the HTTP-CONNECT frontend over mTLS (8131) and in plain TCP (8090).",
    {"min": "1.2", "max": "1.2"}, ("core", "konnectivity", "kubectl", "streams"),
    (Point("", "ethernet-us", "bridge"), Point("-cp-any", "sll2", "any:cp-1")), etcd="stacked-tls",
    duration=30, egress=True,
    kubelet={"anonymous": False, "authz": "Webhook", "readonly": True}))


_add(Scenario(
    "attack-tls13", "The attack scenario's traffic with TLS 1.3 allowed: the kubelet and apiserver "
    "handshakes hide certificates and the empty client Certificate, so only the plaintext legs, "
    "the roles and the sweep tell the story.",
    {"min": "1.2", "max": "1.3"}, ("core", "attack"), (Point("", "ethernet-us", "bridge"),),
    kubelet=SCENARIOS["attack"].kubelet, etcd="stacked-exposed-plain"))
_add(Scenario(
    "konnectivity-tls13", "Konnectivity agents' long-lived gRPC streams in TLS 1.3 (ALPN h2 offered, "
    "nothing else visible) with the apiserver's egress through the server, nanosecond pcap.",
    {"min": "1.2", "max": "1.3"}, ("core", "konnectivity", "kubectl", "streams"),
    (Point("", "ethernet-ns", "bridge"),), etcd="stacked-tls", duration=30, egress=True,
    kubelet={"anonymous": False, "authz": "Webhook", "readonly": True}))
