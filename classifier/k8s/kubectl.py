"""kubectl objects (Node, Pod, Service, Endpoints, EndpointSlice) → inventory entries.

Shapes are those of ``kubectl get nodes,pods,services,endpoints,endpointslices -A -o json``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from classifier.k8s.fields import Fields, join
from classifier.k8s.model import Inventory, PodEntry, ServiceEntry

# Static-pod / add-on labels that say which control-plane component a pod is
# (kubeadm manifests label static pods `component: <name>`; the konnectivity example uses k8s-app).
_COMPONENT_ROLES: Final = {
    "kube-apiserver": "apiserver",
    "etcd": "etcd",
    "konnectivity-server": "konnectivity-server",
}


def _meta(obj: Mapping[str, Any], ctx: Fields, where: str) -> tuple[str, str, Mapping[str, Any]]:
    w = join(where, "metadata")
    meta = ctx.get_map(obj, "metadata", where)
    name = ctx.get_str(meta, "name", w)
    if name is None:
        raise ctx.fail(join(w, "name"), "missing")
    ns = ctx.get_str(meta, "namespace", w) or ""
    labels = ctx.get_map(meta, "labels", w)
    return ns, name, labels


def _read_node(obj: Mapping[str, Any], ctx: Fields, inv: Inventory, where: str) -> None:
    _, name, _ = _meta(obj, ctx, where)
    sw = join(where, "status")
    status = ctx.get_map(obj, "status", where)
    for i, a in enumerate(ctx.get_list(status, "addresses", sw)):
        aw = f"{sw}.addresses[{i}]"
        addr = ctx.mapping(a, aw)
        typ = ctx.get_str(addr, "type", aw)
        value = ctx.get_str(addr, "address", aw)
        if value is None or typ in ("Hostname", "InternalDNS", "ExternalDNS"):
            continue
        inv.nodes[ctx.ip(value, f"{aw}.address")] = name
    spw = join(where, "spec")
    spec = ctx.get_map(obj, "spec", where)
    cidrs = list(ctx.get_list(spec, "podCIDRs", spw))
    single = ctx.get_str(spec, "podCIDR", spw)
    if single and single not in cidrs:
        cidrs.append(single)
    for i, c in enumerate(cidrs):
        net = ctx.cidr(c, f"{spw}.podCIDRs[{i}]")
        if net not in inv.pod_cidrs:
            inv.pod_cidrs.append(net)


def _read_pod(obj: Mapping[str, Any], ctx: Fields, inv: Inventory, where: str) -> None:
    ns, name, labels = _meta(obj, ctx, where)
    spw = join(where, "spec")
    spec = ctx.get_map(obj, "spec", where)
    node = ctx.get_str(spec, "nodeName", spw)
    host_net = bool(spec.get("hostNetwork", False))
    component = None
    for key in ("component", "k8s-app", "app.kubernetes.io/name", "app"):
        v = labels.get(key)
        if isinstance(v, str) and v:
            component = v
            break
    sw = join(where, "status")
    status = ctx.get_map(obj, "status", where)
    ips: list[str] = []
    for i, p in enumerate(ctx.get_list(status, "podIPs", sw)):
        pw = f"{sw}.podIPs[{i}]"
        ip = ctx.get_str(ctx.mapping(p, pw), "ip", pw)
        if ip:
            ips.append(ctx.ip(ip, f"{pw}.ip"))
    single = ctx.get_str(status, "podIP", sw)
    if single:
        ip = ctx.ip(single, f"{sw}.podIP")
        if ip not in ips:
            ips.append(ip)
    host_ip = ctx.get_str(status, "hostIP", sw)
    if host_ip and node:
        hip = ctx.ip(host_ip, f"{sw}.hostIP")
        inv.nodes.setdefault(hip, node)
    entry = PodEntry(ns, name, node, host_net, component)
    for ip in ips:
        if host_net and node:
            inv.nodes.setdefault(ip, node)
        # a hostNetwork pod never displaces a pod that owns the address itself
        if not host_net or ip not in inv.pods:
            inv.pods[ip] = entry
        role = _COMPONENT_ROLES.get(component or "")
        if ns == "kube-system" and role == "apiserver":
            inv.apiservers.add(ip)
        elif ns == "kube-system" and role == "etcd":
            inv.etcd.add(ip)
        elif role == "konnectivity-server":
            inv.konnectivity_servers.add(ip)


def _service_ports(obj: Mapping[str, Any], ctx: Fields, where: str) -> tuple[int, ...]:
    out: list[int] = []
    for i, p in enumerate(ctx.get_list(obj, "ports", where)):
        pw = f"{where}.ports[{i}]"
        port = ctx.mapping(p, pw).get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ctx.fail(f"{pw}.port", f"expected a port number, got {port!r}")
        out.append(port)
    return tuple(out)


def _read_service(obj: Mapping[str, Any], ctx: Fields, inv: Inventory, where: str) -> None:
    ns, name, labels = _meta(obj, ctx, where)
    spw = join(where, "spec")
    spec = ctx.get_map(obj, "spec", where)
    ips: list[str] = []
    for i, c in enumerate(ctx.get_list(spec, "clusterIPs", spw)):
        if c != "None":
            ips.append(ctx.ip(c, f"{spw}.clusterIPs[{i}]"))
    single = ctx.get_str(spec, "clusterIP", spw)
    if single and single != "None":
        ip = ctx.ip(single, f"{spw}.clusterIP")
        if ip not in ips:
            ips.append(ip)
    entry = ServiceEntry(ns, name, _service_ports(spec, ctx, spw))
    for ip in ips:
        inv.services[ip] = entry
        if (ns, name) == ("default", "kubernetes"):
            inv.kubernetes_vips.add(ip)
        if labels.get("k8s-app") == "kube-dns" or (ns, name) == ("kube-system", "kube-dns"):
            inv.dns.add(ip)


def _read_endpoints(obj: Mapping[str, Any], ctx: Fields, inv: Inventory, where: str) -> None:
    ns, name, _ = _meta(obj, ctx, where)
    for i, s in enumerate(ctx.get_list(obj, "subsets", where)):
        sw = join(where, f"subsets[{i}]")
        subset = ctx.mapping(s, sw)
        for key in ("addresses", "notReadyAddresses"):
            for j, a in enumerate(ctx.get_list(subset, key, sw)):
                aw = f"{sw}.{key}[{j}]"
                ip = ctx.get_str(ctx.mapping(a, aw), "ip", aw)
                if ip:
                    _add_endpoint(inv, ctx.ip(ip, f"{aw}.ip"), ns, name)


def _read_endpointslice(obj: Mapping[str, Any], ctx: Fields, inv: Inventory, where: str) -> None:
    ns, _, labels = _meta(obj, ctx, where)
    svc = labels.get("kubernetes.io/service-name")
    if not isinstance(svc, str) or not svc:
        return
    if obj.get("addressType") == "FQDN":
        return
    for i, e in enumerate(ctx.get_list(obj, "endpoints", where)):
        ew = join(where, f"endpoints[{i}]")
        for j, a in enumerate(ctx.get_list(ctx.mapping(e, ew), "addresses", ew)):
            _add_endpoint(inv, ctx.ip(a, f"{ew}.addresses[{j}]"), ns, svc)


def _add_endpoint(inv: Inventory, ip: str, ns: str, svc: str) -> None:
    inv.endpoints.setdefault(ip, set()).add(f"{ns}/{svc}")
    if (ns, svc) == ("default", "kubernetes"):
        inv.apiservers.add(ip)


READERS: Final[dict[str, Callable[[Mapping[str, Any], Fields, Inventory, str], None]]] = {
    "Node": _read_node,
    "Pod": _read_pod,
    "Service": _read_service,
    "Endpoints": _read_endpoints,
    "EndpointSlice": _read_endpointslice,
}
