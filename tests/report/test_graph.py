"""The communication graph: structure, styling, aggregation, determinism, no global state."""

from __future__ import annotations

import matplotlib
import pytest
from matplotlib.figure import Figure

from classifier import api
from classifier.report.figures import GRAPH_SIZE, png_bytes, svg_bytes
from classifier.report.graph import plot_graph
from classifier.report.style import FLAG_COLOUR
from classifier.report.topology import build_topology, edge_table, finding_ids_by_uid
from tests.report.images import assert_real_png, assert_svg, png_pixels
from tests.report.synthetic import HOSTILE_NAME, empty_result, make_result


def _texts(ax: object) -> list[str]:
    return [t.get_text() for t in ax.texts] + [  # type: ignore[attr-defined]
        t.get_text() for t in ax.get_legend().get_texts()]  # type: ignore[attr-defined]


def test_graph_draws_roles_paths_and_flagged_edges() -> None:
    ax = plot_graph(make_result())
    texts = _texts(ax)
    for label in ("node-0", "control-1", "app-0-0\ndefault", "192.168.1.50"):
        assert any(label in t for t in texts), label
    for path in ("node-to-apiserver", "apiserver-to-kubelet", "kubelet-readonly", "etcd"):
        assert path in texts
    assert any("UNAUTH_KUBELET_ACCESS" in t for t in texts)
    assert any("KUBELET_READONLY_PORT" in t for t in texts)
    # POD_TO_KUBELET is suppressed in the baseline: not drawn as a finding
    assert not any("POD_TO_KUBELET" in t for t in texts)
    red = [p for p in ax.patches if matplotlib.colors.to_hex(p.get_edgecolor()) == FLAG_COLOUR]
    assert len(red) == 3
    assert all(p.get_linestyle() not in ("-", "solid") for p in red)


def test_edge_security_classes() -> None:
    edges = edge_table(make_result())
    sec = dict(zip(edges["path"], edges["security"], strict=False))
    assert sec["apiserver-to-kubelet"] == "mtls"
    assert sec["pod-to-apiserver"] == "tls"
    assert sec["kubelet-readonly"] == "unauthenticated"
    assert edges.loc[edges["path"] == "kubelet-readonly", "plaintext_flows"].item() == 1


def test_suppressed_findings_do_not_flag() -> None:
    r = make_result()
    ids = {i for v in finding_ids_by_uid(r.findings).values() for i in v}
    assert ids == {"KUBELET_READONLY_PORT", "UNAUTH_KUBELET_ACCESS", "PLAINTEXT_PROXY"}


def test_control_plane_in_the_middle_nodes_around() -> None:
    from classifier.report.layout import layout

    topo = build_topology(make_result(nodes=5))
    pos = layout(topo.graph)
    r = {k: (x * x + y * y) ** 0.5 for k, (x, y) in pos.items()}
    assert r["10.0.0.10"] < 0.3
    nodes = [f"10.0.1.{i}" for i in range(1, 6)]
    assert all(0.5 < r[n] < 0.9 for n in nodes)
    # a pod sits closer to its own node than to any other node
    px, py = pos["10.244.2.2"]
    d = {n: ((pos[n][0] - px) ** 2 + (pos[n][1] - py) ** 2) ** 0.5 for n in nodes}
    assert min(d, key=lambda k: d[k]) == "10.0.1.3"


def test_aggregates_pods_above_60_endpoints_and_says_so() -> None:
    small = build_topology(make_result(nodes=3, pods_per_node=2))
    assert small.note == "" and small.graph.number_of_nodes() == small.endpoints
    big_result = make_result(nodes=8, pods_per_node=9)
    big = build_topology(big_result)
    assert big.endpoints > 60
    assert big.graph.number_of_nodes() < 40
    assert "aggregated" in big.note and "per node/namespace" in big.note
    groups = [a for _, a in big.graph.nodes(data=True) if a["role"] == "pod-group"]
    assert sum(a["members"] for a in groups) == 8 * 9 + 1  # + the attacker pod
    total = sum(d["flows"] for *_, d in big.graph.edges(keys=True, data=True))
    assert total + big.hidden_flows == len(big_result.flows)
    ax = plot_graph(big_result)
    assert any("aggregated" in t.get_text() for t in ax.texts)


def test_png_and_svg_real_and_deterministic() -> None:
    r = make_result(nodes=4)
    fig1 = plot_graph(r).figure
    fig2 = plot_graph(r).figure
    png = png_bytes(fig1)
    assert_real_png(png, (int(GRAPH_SIZE[0] * 100), int(GRAPH_SIZE[1] * 100)))
    assert png == png_bytes(fig2)
    svg = svg_bytes(fig1)
    assert_svg(svg)
    assert svg == svg_bytes(fig2)


def test_hostile_labels_are_literal_text() -> None:
    ax = plot_graph(make_result(hostile=True))
    label = next(t for t in ax.texts if t.get_text().startswith("evil/"))
    assert label.get_text() == HOSTILE_NAME[: len(label.get_text()) - 1] + "…"
    assert not label.get_parse_math()
    root = assert_svg(svg_bytes(ax.figure))
    assert root is not None


def test_given_axes_is_used_and_pyplot_untouched() -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    fig = Figure(figsize=(6, 6))
    ax = fig.add_subplot()
    assert api.plot_graph(make_result(), ax=ax, legend=False) is ax
    new_ax = api.plot_graph(make_result())
    assert plt.get_fignums() == before
    assert new_ax.figure is not fig


@pytest.mark.parametrize("fn", ["plot_graph", "plot_timeline"])
def test_empty_result_says_no_flows(fn: str) -> None:
    ax = getattr(api, fn)(empty_result())
    assert any(t.get_text() == "no flows" for t in ax.texts)
    px = png_pixels(png_bytes(ax.figure))
    assert (px.shape[1], px.shape[0]) == (1400, 1000 if fn == "plot_graph" else 600)
