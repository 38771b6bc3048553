"""Inventory files → who is who in the cluster (nodes, pods, services, apiservers, CIDRs).

Accepts the real output of ``kubectl get nodes,pods,services,endpoints -A -o json|yaml`` (a
``List``, a typed ``*List`` or a single object; ``endpointslices`` too) and a short hand-written
kubewire YAML for what kubectl does not tell::

    apiservers: [192.168.56.10]
    etcd: [192.168.56.10]
    konnectivity_servers: [192.168.56.10]
    pod_cidrs: [10.244.0.0/16]
    service_cidrs: [10.96.0.0/12]
    clients: [192.168.56.1]
    dns: [10.96.0.10]
    nodes: {cp1: 192.168.56.10}

Malformed files raise :class:`classifier.errors.InventoryError` naming the file and the field.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from classifier.errors import InventoryError

log = logging.getLogger("kubewire.k8s")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

KUBEWIRE_KEYS: Final = ("apiservers", "etcd", "konnectivity_servers", "pod_cidrs", "service_cidrs",
                        "clients", "dns", "nodes")

# Static-pod / add-on labels that say which control-plane component a pod is
# (kubeadm manifests label static pods `component: <name>`; the konnectivity example uses k8s-app).
_COMPONENT_ROLES: Final = {
    "kube-apiserver": "apiserver",
    "etcd": "etcd",
    "konnectivity-server": "konnectivity-server",
}


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


class _Ctx:
    """Error context: the file being read."""

    def __init__(self, file: str) -> None:
        self.file = file

    def fail(self, where: str, what: str) -> InventoryError:
        return InventoryError(f"{self.file}: {where}: {what}")

    def mapping(self, obj: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(obj, Mapping):
            raise self.fail(where, f"expected a mapping, got {_kind(obj)}")
        return obj

    def get_map(self, obj: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
        v = obj.get(key)
        if v is None:
            return {}
        return self.mapping(v, f"{where}.{key}")

    def get_list(self, obj: Mapping[str, Any], key: str, where: str) -> list[Any]:
        v = obj.get(key)
        if v is None:
            return []
        if not isinstance(v, list):
            raise self.fail(f"{where}.{key}", f"expected a list, got {_kind(v)}")
        return v

    def get_str(self, obj: Mapping[str, Any], key: str, where: str) -> str | None:
        v = obj.get(key)
        if v is None or v == "":
            return None
        if not isinstance(v, str):
            raise self.fail(f"{where}.{key}", f"expected a string, got {_kind(v)}")
        return v

    def ip(self, v: Any, where: str) -> str:
        if not isinstance(v, str):
            raise self.fail(where, f"expected an IP address, got {_kind(v)}")
        try:
            return str(ipaddress.ip_address(v.strip()))
        except ValueError:
            raise self.fail(where, f"not an IP address: {v!r}") from None

    def cidr(self, v: Any, where: str) -> IPNetwork:
        if not isinstance(v, str):
            raise self.fail(where, f"expected a CIDR, got {_kind(v)}")
        try:
            return ipaddress.ip_network(v.strip(), strict=False)
        except ValueError:
            raise self.fail(where, f"not a CIDR: {v!r}") from None


def _kind(v: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", int: "a number",
            float: "a number", bool: "a boolean", type(None): "nothing"}.get(type(v), type(v).__name__)


def load_inventory(paths: Sequence[str]) -> Inventory:
    """Inventory files (kubectl JSON/YAML lists or objects, kubewire YAML) → one merged Inventory."""
    inv = Inventory()
    for p in paths:
        _load_file(str(p), inv)
    return inv


def _load_file(path: str, inv: Inventory) -> None:
    ctx = _Ctx(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InventoryError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"{path}: cannot read: {exc}") from None
    docs = _parse(text, ctx)
    if not docs:
        raise ctx.fail("(document)", "empty file")
    for i, doc in enumerate(docs):
        where = "" if len(docs) == 1 else f"document[{i}]"
        if doc is None:
            continue
        obj = ctx.mapping(doc, where or "(document)")
        if "kind" in obj or "apiVersion" in obj:
            _read_object(obj, ctx, inv, where)
        else:
            _read_kubewire(obj, ctx, inv, where)
    inv.files.append(path)


def _parse(text: str, ctx: _Ctx) -> list[Any]:
    stripped = text.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return [json.loads(text)]
        except json.JSONDecodeError as exc:
            raise ctx.fail(f"line {exc.lineno} column {exc.colno}", f"invalid JSON: {exc.msg}") from None
    try:
        return [d for d in yaml.safe_load_all(text)]
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}" if mark is not None else "(document)"
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ctx.fail(where, f"invalid YAML: {problem}") from None


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _read_object(obj: Mapping[str, Any], ctx: _Ctx, inv: Inventory, where: str) -> None:
    kind = ctx.get_str(obj, "kind", where or "(document)")
    if kind is None:
        raise ctx.fail(_join(where, "kind"), "missing")
    if kind == "List" or kind.endswith("List"):
        item_kind = kind[:-4] if kind != "List" else None
        for i, item in enumerate(ctx.get_list(obj, "items", where or "(document)")):
            iw = _join(where, f"items[{i}]")
            it = ctx.mapping(item, iw)
            if "kind" not in it and item_kind:
                _read_one(item_kind, it, ctx, inv, iw)
            else:
                _read_object(it, ctx, inv, iw)
        return
    _read_one(kind, obj, ctx, inv, where)


def _read_one(kind: str, obj: Mapping[str, Any], ctx: _Ctx, inv: Inventory, where: str) -> None:
    reader = _READERS.get(kind)
    if reader is None:
        log.debug("%s: %s: kind %s ignored", ctx.file, where, kind)
        return
    reader(obj, ctx, inv, where)


def _meta(obj: Mapping[str, Any], ctx: _Ctx, where: str) -> tuple[str, str, Mapping[str, Any]]:
    w = _join(where, "metadata")
    meta = ctx.get_map(obj, "metadata", where)
    name = ctx.get_str(meta, "name", w)
    if name is None:
        raise ctx.fail(_join(w, "name"), "missing")
    ns = ctx.get_str(meta, "namespace", w) or ""
    labels = ctx.get_map(meta, "labels", w)
    return ns, name, labels


def _read_node(obj: Mapping[str, Any], ctx: _Ctx, inv: Inventory, where: str) -> None:
    _, name, _ = _meta(obj, ctx, where)
    sw = _join(where, "status")
    status = ctx.get_map(obj, "status", where)
    for i, a in enumerate(ctx.get_list(status, "addresses", sw)):
        aw = f"{sw}.addresses[{i}]"
        addr = ctx.mapping(a, aw)
        typ = ctx.get_str(addr, "type", aw)
        value = ctx.get_str(addr, "address", aw)
        if value is None or typ in ("Hostname", "InternalDNS", "ExternalDNS"):
            continue
        inv.nodes[ctx.ip(value, f"{aw}.address")] = name
    spw = _join(where, "spec")
    spec = ctx.get_map(obj, "spec", where)
    cidrs = list(ctx.get_list(spec, "podCIDRs", spw))
    single = ctx.get_str(spec, "podCIDR", spw)
    if single and single not in cidrs:
        cidrs.append(single)
    for i, c in enumerate(cidrs):
        net = ctx.cidr(c, f"{spw}.podCIDRs[{i}]")
        if net not in inv.pod_cidrs:
            inv.pod_cidrs.append(net)


def _read_pod(obj: Mapping[str, Any], ctx: _Ctx, inv: Inventory, where: str) -> None:
    ns, name, labels = _meta(obj, ctx, where)
    spw = _join(where, "spec")
    spec = ctx.get_map(obj, "spec", where)
    node = ctx.get_str(spec, "nodeName", spw)
    host_net = bool(spec.get("hostNetwork", False))
    component = None
    for key in ("component", "k8s-app", "app.kubernetes.io/name", "app"):
        v = labels.get(key)
        if isinstance(v, str) and v:
            component = v
            break
    sw = _join(where, "status")
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


def _service_ports(obj: Mapping[str, Any], ctx: _Ctx, where: str) -> tuple[int, ...]:
    out: list[int] = []
    for i, p in enumerate(ctx.get_list(obj, "ports", where)):
        pw = f"{where}.ports[{i}]"
        port = ctx.mapping(p, pw).get("port")
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise ctx.fail(f"{pw}.port", f"expected a port number, got {port!r}")
        out.append(port)
    return tuple(out)


def _read_service(obj: Mapping[str, Any], ctx: _Ctx, inv: Inventory, where: str) -> None:
    ns, name, labels = _meta(obj, ctx, where)
    spw = _join(where, "spec")
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


def _read_endpoints(obj: Mapping[str, Any], ctx: _Ctx, inv: Inventory, where: str) -> None:
    ns, name, _ = _meta(obj, ctx, where)
    for i, s in enumerate(ctx.get_list(obj, "subsets", where)):
        sw = _join(where, f"subsets[{i}]")
        subset = ctx.mapping(s, sw)
        for key in ("addresses", "notReadyAddresses"):
            for j, a in enumerate(ctx.get_list(subset, key, sw)):
                aw = f"{sw}.{key}[{j}]"
                ip = ctx.get_str(ctx.mapping(a, aw), "ip", aw)
                if ip:
                    _add_endpoint(inv, ctx.ip(ip, f"{aw}.ip"), ns, name)


def _read_endpointslice(obj: Mapping[str, Any], ctx: _Ctx, inv: Inventory, where: str) -> None:
    ns, _, labels = _meta(obj, ctx, where)
    svc = labels.get("kubernetes.io/service-name")
    if not isinstance(svc, str) or not svc:
        return
    if obj.get("addressType") == "FQDN":
        return
    for i, e in enumerate(ctx.get_list(obj, "endpoints", where)):
        ew = _join(where, f"endpoints[{i}]")
        for j, a in enumerate(ctx.get_list(ctx.mapping(e, ew), "addresses", ew)):
            _add_endpoint(inv, ctx.ip(a, f"{ew}.addresses[{j}]"), ns, svc)


def _add_endpoint(inv: Inventory, ip: str, ns: str, svc: str) -> None:
    inv.endpoints.setdefault(ip, set()).add(f"{ns}/{svc}")
    if (ns, svc) == ("default", "kubernetes"):
        inv.apiservers.add(ip)


_READERS: Final = {
    "Node": _read_node,
    "Pod": _read_pod,
    "Service": _read_service,
    "Endpoints": _read_endpoints,
    "EndpointSlice": _read_endpointslice,
}


def _read_kubewire(obj: Mapping[str, Any], ctx: _Ctx, inv: Inventory, where: str) -> None:
    unknown = sorted(str(k) for k in obj if k not in KUBEWIRE_KEYS)
    if unknown:
        raise ctx.fail(_join(where, unknown[0]),
                       f"unknown key (expected kubectl output with 'kind', or kubewire keys "
                       f"{', '.join(KUBEWIRE_KEYS)})")
    targets: dict[str, set[str]] = {
        "apiservers": inv.apiservers, "etcd": inv.etcd,
        "konnectivity_servers": inv.konnectivity_servers, "clients": inv.clients, "dns": inv.dns,
    }
    for key, target in targets.items():
        for i, v in enumerate(_list_of(obj, key, ctx, where)):
            target.add(ctx.ip(v, f"{_join(where, key)}[{i}]"))
    for key, nets in (("pod_cidrs", inv.pod_cidrs), ("service_cidrs", inv.service_cidrs)):
        for i, v in enumerate(_list_of(obj, key, ctx, where)):
            net = ctx.cidr(v, f"{_join(where, key)}[{i}]")
            if net not in nets:
                nets.append(net)
    nodes = obj.get("nodes")
    if nodes is not None:
        nw = _join(where, "nodes")
        for name, addrs in ctx.mapping(nodes, nw).items():
            values = addrs if isinstance(addrs, list) else [addrs]
            for i, v in enumerate(values):
                inv.nodes[ctx.ip(v, f"{nw}.{name}" + (f"[{i}]" if isinstance(addrs, list) else ""))] = \
                    str(name)


def _list_of(obj: Mapping[str, Any], key: str, ctx: _Ctx, where: str) -> Iterable[Any]:
    v = obj.get(key)
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list):
        raise ctx.fail(_join(where, key), f"expected a list, got {_kind(v)}")
    return v
