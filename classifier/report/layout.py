"""Topology graph → positions: control plane in the middle, nodes on a ring around it, each
node's pods on a small arc just outside their node, everything else on an outer ring.

Deterministic: every ring is ordered by sorted keys and placed with networkx's circular layout.
"""

from __future__ import annotations

import math
from typing import Any, Final

import networkx as nx

from classifier.report.style import CONTROL_PLANE_ROLES, role_rank

CENTRE_R: Final = 0.3
NODE_R: Final = 0.8
POD_R: Final = 0.24
OUTER_R: Final = 1.4

Pos = dict[str, tuple[float, float]]


def layout(graph: Any) -> Pos:
    """nx graph with node attrs role/label/host_node → key → (x, y) in about [-1.3, 1.3]²."""
    attrs = dict(graph.nodes(data=True))
    centre = sorted((k for k, a in attrs.items() if a["role"] in CONTROL_PLANE_ROLES),
                    key=lambda k: (role_rank(attrs[k]["role"]), attrs[k]["label"], k))
    node_keys = [k for k, a in attrs.items() if a["role"] == "node"]
    node_names: dict[str, list[str]] = {}  # a node can have several addresses
    for k in sorted(node_keys):
        node_names.setdefault(attrs[k]["host_node"] or k, []).append(k)
    pods_by_node: dict[str, list[str]] = {}
    outer: list[str] = []
    for k, a in attrs.items():
        if k in centre or a["role"] == "node":
            continue
        if a["role"] in ("pod", "pod-group") and a.get("host_node"):
            pods_by_node.setdefault(a["host_node"], []).append(k)
        else:
            outer.append(k)
    ring = sorted(set(node_names) | set(pods_by_node))
    pos: Pos = {}
    apis = [k for k in centre if attrs[k]["role"] == "apiserver"]
    if len(apis) == 1:  # one apiserver in the very middle, its peers around it
        pos[apis[0]] = (0.0, 0.0)
        rest = [k for k in centre if k != apis[0]]
        pos.update(_circle(rest, CENTRE_R, 0.0, 0.0, start=_ring_start(len(rest)) + math.pi / 6))
    else:
        pos.update(_circle(centre, CENTRE_R if len(centre) > 1 else 0.0, 0.0, 0.0))
    anchors = _circle(ring, NODE_R if ring else 0.0, 0.0, 0.0, start=_ring_start(len(ring)))
    for name, (x, y) in anchors.items():
        for i, k in enumerate(node_names.get(name, [])):  # extra addresses just outside
            pos[k] = (x * (1 + 0.1 * i), y * (1 + 0.1 * i))
        pods = sorted(pods_by_node.get(name, []), key=lambda k: (attrs[k]["label"], k))
        pos.update(_arc(pods, (x, y)))
    outer.sort(key=lambda k: (role_rank(attrs[k]["role"]), attrs[k]["label"], k))
    pos.update(_circle(outer, OUTER_R, 0.0, 0.0, start=_ring_start(len(outer)) + math.pi / 4))
    return pos


def node_anchors(graph: Any) -> dict[str, tuple[float, float]]:
    """Node names that host pods but were not seen as endpoints → where their pods cluster."""
    attrs = dict(graph.nodes(data=True))
    names = {a["host_node"] for a in attrs.values() if a["role"] == "node" and a["host_node"]}
    names |= {k for k, a in attrs.items() if a["role"] == "node" and not a["host_node"]}
    hosted = {a["host_node"] for a in attrs.values()
              if a["role"] in ("pod", "pod-group") and a.get("host_node")}
    ring = sorted(names | hosted)
    anchors = _circle(ring, NODE_R if ring else 0.0, 0.0, 0.0, start=_ring_start(len(ring)))
    return {n: p for n, p in anchors.items() if n in hosted - names}


def _ring_start(n: int) -> float:
    """Angle of the first of n ring positions: half a step past 12 o'clock, so two nodes sit
    left and right (the figure is wider than tall) and none hides behind the title."""
    if n == 2:  # opposite corners, so the edges between them and the centre do not overlap
        return math.pi + math.pi / 7
    return math.pi / 2 + math.pi / n if n > 1 else math.pi / 2


def _circle(keys: list[str], radius: float, cx: float, cy: float,
            start: float = 0.0) -> Pos:
    """Keys in order → evenly spaced positions on a circle (networkx circular layout, rotated)."""
    if not keys:
        return {}
    if len(keys) == 1:
        return {keys[0]: (cx + radius * math.cos(start), cy + radius * math.sin(start))}
    g = nx.Graph()
    g.add_nodes_from(keys)
    raw = nx.circular_layout(g, scale=1.0)
    c, s = math.cos(start), math.sin(start)
    return {k: (cx + radius * (float(raw[k][0]) * c - float(raw[k][1]) * s),
                cy + radius * (float(raw[k][0]) * s + float(raw[k][1]) * c)) for k in keys}


def _arc(keys: list[str], anchor: tuple[float, float]) -> Pos:
    """Pods of one node → positions on an arc just outside the node, facing away from the
    centre, widening into further arcs when there are many."""
    if not keys:
        return {}
    ax, ay = anchor
    base = math.atan2(ay, ax) if (ax, ay) != (0.0, 0.0) else math.pi / 2
    per_row = 7
    out: Pos = {}
    for i, k in enumerate(keys):
        row, col = divmod(i, per_row)
        in_row = min(per_row, len(keys) - row * per_row)
        spread = math.radians(min(110, 45 * (in_row - 1)))
        t = 0.0 if in_row == 1 else (col / (in_row - 1) - 0.5) * spread
        r = POD_R * (1 + 0.55 * row)
        out[k] = (ax + r * math.cos(base + t), ay + r * math.sin(base + t))
    return out
