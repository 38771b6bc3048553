"""The timeline: one row per path, every flow drawn, flagged flows marked."""

from __future__ import annotations

from matplotlib.collections import LineCollection, PathCollection

from classifier.report.figures import TIMELINE_SIZE, png_bytes
from classifier.report.timeline import plot_timeline
from tests.report.images import assert_real_png
from tests.report.synthetic import make_result


def test_rows_per_path_segments_per_flow_and_findings_marked() -> None:
    r = make_result()
    ax = plot_timeline(r)
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[0] == "node-to-apiserver"  # reading order: first path on top (highest y)
    assert set(labels) == set(r.flows["path"].astype(str))
    segments = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert sum(len(c.get_segments()) for c in segments) == len(r.flows)
    marks = [c for c in ax.collections if isinstance(c, PathCollection)]
    assert sum(len(c.get_offsets()) for c in marks) == 3  # active findings cover 3 flows
    notes = {t.get_text() for t in ax.texts}
    assert {"KUBELET_READONLY_PORT", "UNAUTH_KUBELET_ACCESS", "PLAINTEXT_PROXY"} <= notes
    assert "POD_TO_KUBELET" not in notes  # suppressed


def test_png_real_image_of_expected_size() -> None:
    fig = plot_timeline(make_result()).figure
    assert_real_png(png_bytes(fig), (int(TIMELINE_SIZE[0] * 100), int(TIMELINE_SIZE[1] * 100)))
    assert png_bytes(fig) == png_bytes(plot_timeline(make_result()).figure)
