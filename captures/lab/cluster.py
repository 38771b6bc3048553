"""The lab cluster: addresses, pods, services, the world file, and running things in it.

Addressing is kubeadm-like: nodes on 192.168.10.0/24, pod CIDR 10.244.0.0/16 (one /24 per
node), service CIDR 10.96.0.0/12 with the `kubernetes` VIP 10.96.0.1 and kube-dns 10.96.0.10.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from captures.lab import pki as pkimod
from captures.lab.labels import Expect
from captures.lab.netns import Dnat, Host, Lab, Pod

CP, N1, N2, E1, E2, WS = "cp-1", "node-1", "node-2", "etcd-1", "etcd-2", "workstation"
IP = {CP: "192.168.10.10", N1: "192.168.10.11", N2: "192.168.10.12", E1: "192.168.10.21",
      E2: "192.168.10.22", WS: "192.168.10.50"}
VIP, DNS_VIP, WEB_VIP = "10.96.0.1", "10.96.0.10", "10.96.120.15"
POD_CIDR, SVC_CIDR = "10.244.0.0/16", "10.96.0.0/12"

CLIENT_POD = Pod("default", "api-client-6b7d9c5f4-x2kqp", N1, "10.244.1.2")
WEB1 = Pod("default", "web-7c9d8b6f5-fghij", N1, "10.244.1.3")
WEB2 = Pod("default", "web-7c9d8b6f5-abcde", N2, "10.244.2.3")
DNS_POD = Pod("kube-system", "coredns-7db6d8ff4d-4xk2p", N2, "10.244.2.2")
EVIL = Pod("default", "frontend-5f4d8c7b9-q8wzt", N1, "10.244.1.4")
PODS = [CLIENT_POD, WEB1, WEB2, DNS_POD, EVIL]
CONTAINERS = {CLIENT_POD.name: ("app", "registry.k8s.io/e2e-test-images/agnhost:2.47", 8080),
              WEB1.name: ("nginx", "nginx:1.25.3", 8080), WEB2.name: ("nginx", "nginx:1.25.3", 8080),
              DNS_POD.name: ("coredns", "registry.k8s.io/coredns/coredns:v1.11.1", 53),
              EVIL.name: ("frontend", "ghcr.io/example/frontend:2.3.1", 8080)}
SA_TOKEN = ("eyJhbGciOiJSUzI1NiIsImtpZCI6IlRfd2ZnS2V4In0.eyJhdWQiOlsiaHR0cHM6Ly9rdWJlcm5ldGVzLmRlZmF1"
            "bHQuc3ZjLmNsdXN0ZXIubG9jYWwiXSwic3ViIjoic3lzdGVtOnNlcnZpY2VhY2NvdW50OmRlZmF1bHQ6YXBpLWNs"
            "aWVudCJ9.c2lnbmF0dXJlLW9mLXRoZS1sYWItc2VydmljZS1hY2NvdW50LWtleQ")
STOLEN_TOKEN = ("eyJhbGciOiJSUzI1NiIsImtpZCI6IlRfd2ZnS2V4In0.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a3"
                "ViZS1zeXN0ZW06Y2x1c3Rlci1hZG1pbi1ib3QifQ.c3RvbGVuLXNpZ25hdHVyZQ")
KONN_TOKEN = ("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6a3ViZS1zeXN0ZW06a29ubmVjdGl2"
              "aXR5LWFnZW50In0.a29ubg")

LAB = Path(__file__).resolve().parent
ROOT = LAB.parent.parent


def host_of(name: str) -> str:
    """Host a client/server endpoint runs on (pods → their node)."""
    for p in PODS:
        if p.ref == name:
            return p.node
    return name


@dataclass
class Run:
    """One scenario run: the lab, its world file, the expects gathered while acting."""

    name: str
    work: Path
    lab: Lab
    world: dict[str, Any]
    expects: list[Expect] = field(default_factory=list)
    bg: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def world_file(self) -> Path:
        return self.work / "world.json"

    def py(self, where: str, module: str, *args: str, timeout: float = 60) -> str:
        """Run a lab module in the namespace of `where` (host or pod ref) and wait."""
        res = self.lab.sh(self.lab.ns(where), sys.executable, "-m", module, *args, timeout=timeout,
                          env=_env())
        return res.stdout

    def spawn_py(self, where: str, module: str, *args: str, log: str) -> subprocess.Popen[bytes]:
        return self.lab.spawn(self.lab.ns(where), [sys.executable, "-m", module, *args],
                              self.work / f"{log}.log", env=_env())

    def act(self, where: str, kind: str, args: dict[str, Any], expects: list[Expect],
            *, background: bool = False, timeout: float = 60) -> None:
        """Run an actor; stamp the time window on the expects (for discovered ports)."""
        t0 = time.time()
        if background:
            self.bg.append(self.spawn_py(where, "captures.lab.actors", kind, json.dumps(args),
                                         log=f"bg-{kind}-{len(self.bg)}"))
            for e in expects:
                e.t0, e.t1 = t0, t0 + 3600
        else:
            out = self.py(where, "captures.lab.actors", kind, json.dumps(args), timeout=timeout)
            (self.work / "actors.log").open("a").write(f"## {kind} {where}\n{out}")
            for e in expects:
                e.t0, e.t1 = t0, time.time()
        self.expects.extend(expects)

    def cmd(self, where: str, argv: list[str], expects: list[Expect], *, timeout: float = 60,
            env: dict[str, str] | None = None, check: bool = True) -> str:
        """Run a real tool (kubectl, curl, etcdctl, ssh, dig) and stamp its window."""
        t0 = time.time()
        res = self.lab.sh(self.lab.ns(where), *argv, timeout=timeout, env=env, check=check)
        for e in expects:
            e.t0, e.t1 = t0, time.time()
        self.expects.extend(expects)
        (self.work / "actors.log").open("a").write(f"## {argv}\n{res.stdout}{res.stderr}")
        return res.stdout

    def wait_bg(self, timeout: float = 60) -> None:
        end = time.time() + timeout
        for p in self.bg:
            try:
                p.wait(max(0.1, end - time.time()))
            except subprocess.TimeoutExpired:
                self.lab.stop(p, signal.SIGTERM)


def _env() -> dict[str, str]:
    return {"PYTHONPATH": str(ROOT), "PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root",
            "PYTHONDONTWRITEBYTECODE": "1"}


def make_lab(prefix: str, *, etcd_hosts: bool, overlay: str = "host-gw") -> Lab:
    hosts = [Host(CP, IP[CP], "10.244.0"), Host(N1, IP[N1], "10.244.1"), Host(N2, IP[N2], "10.244.2"),
             Host(WS, IP[WS])]
    if etcd_hosts:
        hosts += [Host(E1, IP[E1]), Host(E2, IP[E2])]
    dnat = [Dnat(VIP, 443, "tcp", IP[CP], 6443), Dnat(DNS_VIP, 53, "udp", DNS_POD.ip, 53),
            Dnat(WEB_VIP, 80, "tcp", WEB2.ip, 8080)]
    return Lab(prefix, hosts, list(PODS), dnat, overlay)


def world(work: Path, *, tls: dict[str, str], apiserver_tls: dict[str, str] | None = None,
          kubelet: dict[str, Any], etcd: dict[str, Any] | None, insecure_port: int | None = None,
          kubelet_self_signed: bool = True, verify_kubelet: bool = False,
          etcd_members: dict[str, str] | None = None, egress: bool = False) -> dict[str, Any]:
    """Write PKI and the world JSON every stub and actor reads."""
    p = pkimod.build(work / "pki", apiserver_ips=(IP[CP],), nodes={N1: IP[N1], N2: IP[N2]},
                     etcd_members=etcd_members or {E1: IP[E1], E2: IP[E2]},
                     kubelet_self_signed=kubelet_self_signed)
    pair = lambda x: [str(x.cert), str(x.key)]  # noqa: E731
    kubelet_ca = None
    if verify_kubelet:
        kubelet_ca = str(p.ca)
    w: dict[str, Any] = {
        "hosts": dict(IP), "nodes": [N1, N2], "tls": tls, "apiserver_tls": apiserver_tls or tls,
        "pods": [{"ns": x.namespace, "name": x.name, "node": x.node, "ip": x.ip,
                  "container": CONTAINERS[x.name][0], "image": CONTAINERS[x.name][1],
                  "port": CONTAINERS[x.name][2]} for x in PODS],
        "services": {"web": {"endpoint": WEB2.ip, "target_port": 8080}},
        "apiserver": {"ip": IP[CP], "insecure_port": insecure_port, "kubelet_ca": kubelet_ca,
                      "etcd": etcd, "egress": egress,
                      "basic": [base64.b64encode(b"admin:Adm1nPassw0rd").decode()] if insecure_port else []},
        "tokens": {SA_TOKEN: {"user": "system:serviceaccount:default:api-client", "admin": False},
                   STOLEN_TOKEN: {"user": "system:serviceaccount:kube-system:cluster-admin-bot",
                                  "admin": True},
                   KONN_TOKEN: {"user": "system:serviceaccount:kube-system:konnectivity-agent",
                                "admin": False}},
        "kubelet": kubelet, "konnectivity_token": KONN_TOKEN,
        "pki": {"ca": str(p.ca), "etcd_ca": str(p.etcd_ca), "apiserver": pair(p.apiserver),
                "apiserver_kubelet_client": pair(p.apiserver_kubelet_client),
                "apiserver_etcd_client": pair(p.apiserver_etcd_client), "admin": pair(p.admin),
                "node_client": {k: pair(v) for k, v in p.node_client.items()},
                "kubelet_serving": {k: pair(v) for k, v in p.kubelet_serving.items()},
                "etcd_server": {k: pair(v) for k, v in p.etcd_server.items()},
                "etcd_peer": {k: pair(v) for k, v in p.etcd_peer.items()}},
    }
    (work / "world.json").write_text(json.dumps(w, indent=1))
    return w


def kubeconfig(work: Path, w: dict[str, Any], server: str, *, token: str | None = None) -> Path:
    """A kubeconfig like kubeadm's admin.conf (client cert) or a token user."""
    user: dict[str, Any] = ({"token": token} if token else
                            {"client-certificate": w["pki"]["admin"][0], "client-key": w["pki"]["admin"][1]})
    cluster: dict[str, Any] = {"server": server}
    if server.startswith("https"):
        cluster["certificate-authority"] = w["pki"]["ca"]
    cfg = {"apiVersion": "v1", "kind": "Config", "current-context": "kubernetes-admin@kubernetes",
           "clusters": [{"name": "kubernetes", "cluster": cluster}],
           "users": [{"name": "kubernetes-admin", "user": user}],
           "contexts": [{"name": "kubernetes-admin@kubernetes",
                         "context": {"cluster": "kubernetes", "user": "kubernetes-admin"}}]}
    path = work / f"kubeconfig-{'token' if token else 'admin'}-{abs(hash(server)) % 1000}.json"
    path.write_text(json.dumps(cfg))
    return path


PROTOBUF = "application/vnd.kubernetes.protobuf"


def wire_ua(component: str) -> str:
    """client-go User-Agent: `<component>/<version> (linux/amd64) kubernetes/<commit>`."""
    from captures.lab import wire
    return f"{component}/{wire.K8S_VERSION} (linux/amd64) kubernetes/{wire.K8S_COMMIT}"


def etcd_endpoint(mode: str) -> dict[str, Any]:
    """Where the apiserver's storage connection goes for an etcd mode."""
    if mode.startswith("external"):
        return {"scheme": "https" if mode == "external-tls" else "http", "ip": IP[E1], "port": 2379,
                "src_ip": IP[CP], "src_port": 44001, "server_host": E1}
    return {"scheme": "https" if mode == "stacked-tls" else "http", "ip": "127.0.0.1", "port": 2379,
            "src_ip": "127.0.0.1", "src_port": 44001, "server_host": CP}


def wire_uid(seed: str) -> str:
    """Deterministic UID-shaped string for inventory objects."""
    from captures.lab import wire
    return wire._uid(seed)
