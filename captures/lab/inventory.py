"""Per-scenario inventories: what `kubectl get nodes,pods,services,endpoints -A -o json` prints
for the lab cluster (a v1 List of real-schema objects), and the small kubewire YAML for what
kubectl does not tell (apiserver/etcd/konnectivity addresses, pod and service CIDRs, clients).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from captures.lab import cluster as c

if TYPE_CHECKING:
    from captures.lab.scenarios import Scenario

TS = "2026-11-27T21:04:11Z"


def _meta(name: str, ns: str | None = None, **extra: Any) -> dict[str, Any]:
    m: dict[str, Any] = {"name": name, "uid": c.wire_uid(name), "resourceVersion": "48213",
                         "creationTimestamp": TS}
    if ns:
        m["namespace"] = ns
    m.update(extra)
    return m


def node(name: str, ip: str, cidr: str, control_plane: bool) -> dict[str, Any]:
    labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
    if control_plane:
        labels["node-role.kubernetes.io/control-plane"] = ""
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": _meta(name, labels=labels, annotations={
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///var/run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0"}),
            "spec": {"podCIDR": cidr, "podCIDRs": [cidr],
                     **({"taints": [{"key": "node-role.kubernetes.io/control-plane",
                                     "effect": "NoSchedule"}]} if control_plane else {})},
            "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                     {"type": "Hostname", "address": name}],
                       "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
                       "nodeInfo": {"kubeletVersion": "v1.30.2", "kubeProxyVersion": "v1.30.2",
                                    "containerRuntimeVersion": "containerd://1.7.13",
                                    "operatingSystem": "linux", "architecture": "amd64",
                                    "osImage": "Debian GNU/Linux 12 (bookworm)",
                                    "kernelVersion": "6.1.0-18-amd64"},
                       "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                       "lastHeartbeatTime": TS, "lastTransitionTime": TS,
                                       "message": "kubelet is posting ready status"}]}}


def pod(ns: str, name: str, node_name: str, ip: str, container: str, image: str, port: int,
        host_network: bool = False, labels: dict[str, str] | None = None) -> dict[str, Any]:
    host_ip = c.IP[node_name]
    spec: dict[str, Any] = {"nodeName": node_name, "containers": [
        {"name": container, "image": image, "ports": [{"containerPort": port, "protocol": "TCP"}]}],
        "serviceAccountName": "default", "restartPolicy": "Always", "dnsPolicy": "ClusterFirst"}
    if host_network:
        spec["hostNetwork"] = True
        spec["priorityClassName"] = "system-node-critical"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": _meta(name, ns, labels=labels or {}),
            "spec": spec,
            "status": {"phase": "Running", "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                       "podIP": ip, "podIPs": [{"ip": ip}], "startTime": TS,
                       "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": TS}],
                       "containerStatuses": [{"name": container, "image": image, "ready": True,
                                              "restartCount": 0, "started": True,
                                              "state": {"running": {"startedAt": TS}}}]}}


def service(ns: str, name: str, ip: str, ports: list[tuple[str, int, int, str]],
            selector: dict[str, str] | None) -> dict[str, Any]:
    spec: dict[str, Any] = {"type": "ClusterIP", "clusterIP": ip, "clusterIPs": [ip],
                            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
                            "sessionAffinity": "None", "internalTrafficPolicy": "Cluster",
                            "ports": [{"name": n, "port": p, "targetPort": t, "protocol": proto}
                                      for n, p, t, proto in ports]}
    if selector:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": _meta(name, ns), "spec": spec,
            "status": {"loadBalancer": {}}}


def endpoints(ns: str, name: str, addrs: list[tuple[str, str | None, dict[str, str] | None]],
              ports: list[tuple[str, int, str]]) -> dict[str, Any]:
    addresses = []
    for ip, node_name, target in addrs:
        a: dict[str, Any] = {"ip": ip}
        if node_name:
            a["nodeName"] = node_name
        if target:
            a["targetRef"] = target
        addresses.append(a)
    return {"apiVersion": "v1", "kind": "Endpoints", "metadata": _meta(name, ns),
            "subsets": [{"addresses": addresses,
                         "ports": [{"name": n, "port": p, "protocol": proto} for n, p, proto in ports]}]}


def build(sc: Scenario) -> dict[str, Any]:
    """The kubectl List for a scenario's cluster."""
    items: list[dict[str, Any]] = [node(c.CP, c.IP[c.CP], "10.244.0.0/24", True),
                                   node(c.N1, c.IP[c.N1], "10.244.1.0/24", False),
                                   node(c.N2, c.IP[c.N2], "10.244.2.0/24", False)]
    cp_pods = [("kube-apiserver", "registry.k8s.io/kube-apiserver:v1.30.2", 6443),
               ("kube-controller-manager", "registry.k8s.io/kube-controller-manager:v1.30.2", 10257),
               ("kube-scheduler", "registry.k8s.io/kube-scheduler:v1.30.2", 10259)]
    if not sc.etcd.startswith("external"):
        cp_pods.append(("etcd", "registry.k8s.io/etcd:3.5.12-0", 2379))
    for comp, image, port in cp_pods:
        items.append(pod("kube-system", f"{comp}-{c.CP}", c.CP, c.IP[c.CP], comp, image, port, True,
                         {"component": comp, "tier": "control-plane"}))
    for n in (c.CP, c.N1, c.N2):
        items.append(pod("kube-system", f"kube-proxy-{c.wire_uid(n)[:5]}", n, c.IP[n], "kube-proxy",
                         "registry.k8s.io/kube-proxy:v1.30.2", 10256, True, {"k8s-app": "kube-proxy"}))
    if "konnectivity" in sc.features:
        for n in (c.N1, c.N2):
            items.append(pod("kube-system", f"konnectivity-agent-{c.wire_uid(n)[:5]}", n, c.IP[n],
                             "konnectivity-agent", "registry.k8s.io/kas-network-proxy/proxy-agent:v0.30.3",
                             8093, True, {"k8s-app": "konnectivity-agent"}))
    for p in c.PODS:
        cont, image, port = c.CONTAINERS[p.name]
        app = p.name.rsplit("-", 2)[0]
        labels = {"k8s-app": "kube-dns"} if p is c.DNS_POD else {"app": app}
        items.append(pod(p.namespace, p.name, p.node, p.ip, cont, image, port, labels=labels))
    items.append(service("default", "kubernetes", c.VIP, [("https", 443, 6443, "TCP")], None))
    items.append(service("kube-system", "kube-dns", c.DNS_VIP, [("dns", 53, 53, "UDP"),
                                                                ("dns-tcp", 53, 53, "TCP")],
                         {"k8s-app": "kube-dns"}))
    items.append(service("default", "web", c.WEB_VIP, [("http", 80, 8080, "TCP")], {"app": "web"}))
    items.append(endpoints("default", "kubernetes", [(c.IP[c.CP], None, None)], [("https", 6443, "TCP")]))
    items.append(endpoints("kube-system", "kube-dns", [(c.DNS_POD.ip, c.DNS_POD.node, {
        "kind": "Pod", "namespace": "kube-system", "name": c.DNS_POD.name})],
        [("dns", 53, "UDP"), ("dns-tcp", 53, "TCP")]))
    items.append(endpoints("default", "web", [(c.WEB2.ip, c.WEB2.node, {
        "kind": "Pod", "namespace": "default", "name": c.WEB2.name})], [("http", 8080, "TCP")]))
    return {"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}}


def kubewire_yaml(sc: Scenario) -> str:
    """The hand-written companion: `{apiservers, etcd, konnectivity_servers, pod_cidrs,
    service_cidrs, clients}`."""
    etcd = [c.IP[c.E1], c.IP[c.E2]] if sc.etcd.startswith("external") else [c.IP[c.CP]]
    konn = [c.IP[c.CP]] if "konnectivity" in sc.features else []
    lines = ["# kubewire inventory companion: what kubectl does not tell",
             f"apiservers: [{c.IP[c.CP]}]", f"etcd: [{', '.join(etcd)}]",
             f"konnectivity_servers: [{', '.join(konn)}]", f"pod_cidrs: [{c.POD_CIDR}]",
             f"service_cidrs: [{c.SVC_CIDR}]", f"clients: [{c.IP[c.WS]}]"]
    return "\n".join(lines) + "\n"


def write(sc: Scenario, out: Path) -> list[Path]:
    inv = out / f"{sc.name}.inventory.json"
    inv.write_text(json.dumps(build(sc), indent=1) + "\n")
    kw = out / f"{sc.name}.kubewire.yaml"
    kw.write_text(kubewire_yaml(sc))
    return [inv, kw]
