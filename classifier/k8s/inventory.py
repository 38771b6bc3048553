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

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Final

import yaml

from classifier.errors import InventoryError
from classifier.k8s.fields import Fields, join, kind_of
from classifier.k8s.kubectl import READERS
from classifier.k8s.model import Inventory, IPNetwork, PodEntry, ServiceEntry

__all__ = ["KUBEWIRE_KEYS", "IPNetwork", "Inventory", "PodEntry", "ServiceEntry", "load_inventory"]

log = logging.getLogger("kubewire.k8s")

KUBEWIRE_KEYS: Final = ("apiservers", "etcd", "konnectivity_servers", "pod_cidrs", "service_cidrs",
                        "clients", "dns", "nodes")


def load_inventory(paths: Sequence[str]) -> Inventory:
    """Inventory files (kubectl JSON/YAML lists or objects, kubewire YAML) → one merged Inventory."""
    inv = Inventory()
    for p in paths:
        _load_file(str(p), inv)
    return inv


def _load_file(path: str, inv: Inventory) -> None:
    ctx = Fields(path)
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


def _parse(text: str, ctx: Fields) -> list[Any]:
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


def _read_object(obj: Mapping[str, Any], ctx: Fields, inv: Inventory, where: str) -> None:
    kind = ctx.get_str(obj, "kind", where or "(document)")
    if kind is None:
        raise ctx.fail(join(where, "kind"), "missing")
    if kind == "List" or kind.endswith("List"):
        item_kind = kind[:-4] if kind != "List" else None
        for i, item in enumerate(ctx.get_list(obj, "items", where or "(document)")):
            iw = join(where, f"items[{i}]")
            it = ctx.mapping(item, iw)
            if "kind" not in it and item_kind:
                _read_one(item_kind, it, ctx, inv, iw)
            else:
                _read_object(it, ctx, inv, iw)
        return
    _read_one(kind, obj, ctx, inv, where)


def _read_one(kind: str, obj: Mapping[str, Any], ctx: Fields, inv: Inventory, where: str) -> None:
    reader = READERS.get(kind)
    if reader is None:
        log.debug("%s: %s: kind %s ignored", ctx.file, where, kind)
        return
    reader(obj, ctx, inv, where)


def _read_kubewire(obj: Mapping[str, Any], ctx: Fields, inv: Inventory, where: str) -> None:
    unknown = sorted(str(k) for k in obj if k not in KUBEWIRE_KEYS)
    if unknown:
        raise ctx.fail(join(where, unknown[0]),
                       f"unknown key (expected kubectl output with 'kind', or kubewire keys "
                       f"{', '.join(KUBEWIRE_KEYS)})")
    targets: dict[str, set[str]] = {
        "apiservers": inv.apiservers, "etcd": inv.etcd,
        "konnectivity_servers": inv.konnectivity_servers, "clients": inv.clients, "dns": inv.dns,
    }
    for key, target in targets.items():
        for i, v in enumerate(_list_of(obj, key, ctx, where)):
            target.add(ctx.ip(v, f"{join(where, key)}[{i}]"))
    for key, nets in (("pod_cidrs", inv.pod_cidrs), ("service_cidrs", inv.service_cidrs)):
        for i, v in enumerate(_list_of(obj, key, ctx, where)):
            net = ctx.cidr(v, f"{join(where, key)}[{i}]")
            if net not in nets:
                nets.append(net)
    nodes = obj.get("nodes")
    if nodes is not None:
        nw = join(where, "nodes")
        for name, addrs in ctx.mapping(nodes, nw).items():
            values = addrs if isinstance(addrs, list) else [addrs]
            for i, v in enumerate(values):
                inv.nodes[ctx.ip(v, f"{nw}.{name}" + (f"[{i}]" if isinstance(addrs, list) else ""))] = \
                    str(name)


def _list_of(obj: Mapping[str, Any], key: str, ctx: Fields, where: str) -> Iterable[Any]:
    v = obj.get(key)
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list):
        raise ctx.fail(join(where, key), f"expected a list, got {kind_of(v)}")
    return v
