"""Result → the communication graph drawn on a matplotlib Axes.

Endpoints are markers shaped and coloured by role; edges are arrows coloured by path with a
width proportional to log(bytes). Flagged edges (covered by an active finding) are red and
dashed and carry their finding ids; plaintext edges are dotted; a marker in the middle of each
edge tells its security (filled circle = mutual TLS, hollow circle = TLS, square = plaintext,
X = no credentials).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final

from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch

from classifier.report.figures import GRAPH_SIZE, new_axes, text_kw
from classifier.report.layout import layout, node_anchors
from classifier.report.style import (
    FLAG_COLOUR,
    ROLE_STYLE,
    path_colours,
    path_rank,
    role_rank,
    safe_label,
)
from classifier.report.topology import MAX_ENDPOINTS, Topology, build_topology

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SECURITY_MARKERS: Final = {
    # security: (marker, filled, legend text)
    "mtls": ("o", True, "mutual TLS"),
    "tls": ("o", False, "TLS, client auth not mutual / not visible"),
    "plaintext": ("s", False, "plaintext"),
    "unauthenticated": ("X", True, "no credentials"),
}
_MAX_LABELLED_IDS: Final = 3


def plot_graph(result: Any, ax: Axes | None = None, *, max_endpoints: int = MAX_ENDPOINTS,
               aggregate: bool | None = None, title: str | None = None,
               legend: bool = True, topology: Topology | None = None) -> Axes:
    """Result → the communication graph drawn on ``ax`` (a new Figure, not pyplot, when None).

    ``max_endpoints``: above it pods are grouped per node/namespace (``aggregate`` forces it
    on/off). ``topology``: an already built :class:`Topology` of this result (saves work when
    the caller needs it too). Deterministic for the same input. The new Figure is not
    registered with pyplot, so Jupyter does not show it by itself: end the cell with
    ``ax.figure``.
    """
    if ax is None:
        ax = new_axes(GRAPH_SIZE)
        ax.figure.subplots_adjust(left=0.01, right=0.74, top=0.94, bottom=0.04)
    topo = topology or build_topology(result, max_endpoints=max_endpoints, aggregate=aggregate)
    ax.set_axis_off()
    ax.set_aspect("equal", adjustable="datalim")
    ax.margins(0.0)
    ax.set_title(title if title is not None else _default_title(topo), **text_kw(fontsize=12))
    if topo.graph.number_of_nodes() == 0:
        ax.text(0.5, 0.5, "no flows", ha="center", va="center", transform=ax.transAxes,
                **text_kw(fontsize=14, color="#666666"))
        return ax
    pos = layout(topo.graph)
    colours = path_colours([d["path"] for _, _, d in topo.graph.edges(data=True)])
    _draw_anchors(ax, topo, pos)
    _draw_edges(ax, topo, pos, colours)
    _draw_nodes(ax, topo, pos)
    xs = [x for x, _ in pos.values()]
    ys = [y for _, y in pos.values()]
    ax.update_datalim([(min(xs) - 0.3, min(ys) - 0.22), (max(xs) + 0.3, max(ys) + 0.18)])
    ax.autoscale_view()
    if topo.note:
        ax.text(0.0, -0.02, safe_label(topo.note, 200), transform=ax.transAxes, ha="left",
                va="top", **text_kw(fontsize=9, color="#444444", style="italic"))
    if legend:
        _legend(ax, topo, colours)
    return ax


def _default_title(topo: Topology) -> str:
    g = topo.graph
    return (f"kubewire communication graph: {topo.endpoints} endpoints, "
            f"{g.number_of_edges()} edges")


def _draw_anchors(ax: Axes, topo: Topology, pos: dict[str, tuple[float, float]]) -> None:
    """Nodes known only as hosts of pods: a faint label where their pods cluster."""
    for name, (x, y) in sorted(node_anchors(topo.graph).items()):
        ax.scatter([x], [y], s=500, marker="s", facecolors="none", edgecolors="#2ca02c",
                   linestyles="dotted", zorder=2)
        ax.text(x, y - 0.075, safe_label(name, 32), ha="center", va="top",
                **text_kw(fontsize=7, color="#2ca02c"))


def _draw_edges(ax: Axes, topo: Topology, pos: dict[str, tuple[float, float]],
                colours: dict[str, str]) -> None:
    g = topo.graph
    edges = sorted(g.edges(keys=True, data=True),
                   key=lambda e: (path_rank(e[2]), e[0], e[1]))
    max_bytes = max((d["bytes"] for *_, d in edges), default=0)
    # parallel edges between the same two endpoints fan out with different curvature
    seen: dict[frozenset[str], int] = {}
    # the security markers at the edges' middles, drawn as one collection per marker kind
    marks: dict[str, list[tuple[float, float, str]]] = {}
    for u, v, path, d in edges:
        pair = frozenset((u, v))
        nth = seen.get(pair, 0)
        seen[pair] = nth + 1
        rad = 0.12 + 0.12 * nth
        flagged = bool(d["findings"])
        colour = FLAG_COLOUR if flagged else colours[path]
        style = (0, (5, 3)) if flagged else ((0, (1, 2)) if d["security"] in
                                             ("plaintext", "unauthenticated") else "solid")
        width = 0.6 + 4.4 * (math.log10(1 + d["bytes"]) / math.log10(2 + max_bytes))
        (x1, y1), (x2, y2) = pos[u], pos[v]
        if u == v:
            continue
        ax.add_patch(FancyArrowPatch(
            (x1, y1), (x2, y2), connectionstyle=f"arc3,rad={rad}", arrowstyle="-|>",
            mutation_scale=10 + width * 2, linewidth=width, linestyle=style, color=colour,
            alpha=0.85, shrinkA=14, shrinkB=16, zorder=3))
        mx, my = _arc_mid((x1, y1), (x2, y2), rad)
        marks.setdefault(d["security"], []).append((mx, my, colour))
        if flagged:
            ids = d["findings"]
            text = "\n".join(ids[:_MAX_LABELLED_IDS])
            if len(ids) > _MAX_LABELLED_IDS:
                text += f"\n+{len(ids) - _MAX_LABELLED_IDS} more"
            ax.annotate(safe_label(text, 120), (mx, my), xytext=(6, 6),
                        textcoords="offset points",
                        **text_kw(fontsize=6.5, color=FLAG_COLOUR, zorder=6,
                                  bbox={"boxstyle": "round,pad=0.2", "fc": "white",
                                        "ec": FLAG_COLOUR, "lw": 0.5, "alpha": 0.9}))
    for security, (marker, filled, _) in SECURITY_MARKERS.items():
        points = marks.get(security)
        if points:
            colour_of = [c for _, _, c in points]
            ax.scatter([x for x, _, _ in points], [y for _, y, _ in points], s=42,
                       marker=marker, zorder=5, linewidths=1.2,
                       facecolors=colour_of if filled else "white", edgecolors=colour_of)


def _arc_mid(a: tuple[float, float], b: tuple[float, float], rad: float) -> tuple[float, float]:
    """Midpoint of matplotlib's arc3 quadratic Bézier between a and b with curvature rad."""
    (x1, y1), (x2, y2) = a, b
    cx = (x1 + x2) / 2 + rad * (y2 - y1)
    cy = (y1 + y2) / 2 - rad * (x2 - x1)
    return (0.25 * x1 + 0.5 * cx + 0.25 * x2, 0.25 * y1 + 0.5 * cy + 0.25 * y2)


def _draw_nodes(ax: Axes, topo: Topology, pos: dict[str, tuple[float, float]]) -> None:
    nodes = sorted(topo.graph.nodes(data=True), key=lambda n: (role_rank(n[1]["role"]), n[0]))
    small = len(nodes) > 35
    for key, a in nodes:
        marker, face, size = ROLE_STYLE.get(a["role"], ROLE_STYLE["unknown"])
        x, y = pos[key]
        ax.scatter([x], [y], s=size * (0.6 if small else 1.0), marker=marker, c=face,
                   edgecolors="white", linewidths=1.0, zorder=7)
        ax.text(x, y - (0.05 if small else 0.07), safe_label(a["label"], 40), ha="center",
                va="top", zorder=8,
                **text_kw(fontsize=6.5 if small else 8,
                          bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none",
                                "alpha": 0.7}))


def _legend(ax: Axes, topo: Topology, colours: dict[str, str]) -> None:
    handles: list[Any] = []
    for path in sorted(colours, key=path_rank):
        handles.append(Line2D([], [], color=colours[path], lw=2.5, label=path))
    handles.append(Line2D([], [], color=FLAG_COLOUR, lw=2, ls=(0, (5, 3)),
                          label="flagged (finding ids)"))
    handles.append(Line2D([], [], color="#555555", lw=1.5, ls=(0, (1, 2)),
                          label="plaintext / no credentials"))
    present = {d["security"] for *_, d in topo.graph.edges(keys=True, data=True)}
    for sec, (marker, filled, text) in SECURITY_MARKERS.items():
        if sec in present:
            handles.append(Line2D([], [], color="#555555", lw=0, marker=marker, markersize=7,
                                  markerfacecolor="#555555" if filled else "white",
                                  label=text))
    roles = sorted({a["role"] for _, a in topo.graph.nodes(data=True)}, key=role_rank)
    for role in roles:
        marker, face, _ = ROLE_STYLE.get(role, ROLE_STYLE["unknown"])
        handles.append(Line2D([], [], color=face, lw=0, marker=marker, markersize=9,
                              label=role.replace("-group", "s (grouped)")
                              if role.endswith("group") else role))
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8,
              frameon=False, title="path (width ∝ log bytes) · security · role",
              title_fontsize=8, borderaxespad=0.0)
