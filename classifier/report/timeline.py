"""Result → flows over time, one row per path, with the flows findings cover marked.

Each flow is a horizontal segment from its first to its last packet in its path's colour
(stacked within the row so concurrent flows stay visible); flows covered by an active finding
get a red X at their start and the first flow of each finding is labelled with its id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from classifier.report.figures import TIMELINE_SIZE, new_axes, text_kw
from classifier.report.style import FLAG_COLOUR, UNTAGGED, path_colours, path_rank, safe_label
from classifier.report.topology import active_findings, finding_ids_by_uid

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_LANES: Final = 12
"""Sub-rows per path: concurrent flows are spread over this many lanes."""
_MAX_FINDING_LABELS: Final = 15


def plot_timeline(result: Any, ax: Axes | None = None, *, title: str | None = None,
                  legend: bool = True) -> Axes:
    """Result → flows over time per path with findings marked, drawn on ``ax`` (a new Figure,
    not pyplot, when None; in Jupyter end the cell with ``ax.figure``). Times are UTC."""
    if ax is None:
        ax = new_axes(TIMELINE_SIZE)
        ax.figure.subplots_adjust(left=0.16, right=0.97, top=0.91, bottom=0.12)
    flows = result.flows
    ax.set_title(title if title is not None else
                 f"flows over time per path ({len(flows)} flows, UTC)", **text_kw(fontsize=11))
    if flows.empty or flows["ts"].isna().all():
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no flows", ha="center", va="center", transform=ax.transAxes,
                **text_kw(fontsize=14, color="#666666"))
        return ax
    frame = pd.DataFrame({
        "path": flows["path"].astype("string").fillna(UNTAGGED).astype(str),
        "start": flows["ts"],
        "duration": flows["duration"].astype("float64").fillna(0.0).clip(lower=0.0),
        "uid": flows["uid"].astype(str),
    }).dropna(subset=["start"])
    paths = sorted(set(frame["path"]), key=path_rank)
    row = {p: len(paths) - 1 - i for i, p in enumerate(paths)}  # first path on top
    colours = path_colours(paths)
    frame = frame.sort_values(["start", "uid"], kind="mergesort").reset_index(drop=True)
    start = mdates.date2num(  # type: ignore[no-untyped-call]
        frame["start"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy())
    end = start + frame["duration"].to_numpy() / 86400.0
    lane = frame.groupby("path", sort=False).cumcount().to_numpy() % _LANES
    y = frame["path"].map(row).to_numpy(dtype=float) - 0.38 + 0.76 * lane / _LANES
    span = max(float(end.max() - start.min()), 1e-6)
    end = np.maximum(end, start + span / 400.0)  # a zero-length flow still shows as a tick
    segs = np.stack([np.column_stack([start, y]), np.column_stack([end, y])], axis=1)
    ax.add_collection(LineCollection(list(segs), colors=frame["path"].map(colours).tolist(),
                                     linewidths=2.0, alpha=0.8, zorder=2))
    _mark_findings(ax, result.findings, frame, start, y)
    ax.set_yticks(list(row.values()), [safe_label(p, 32) for p in row])
    ax.set_ylim(-0.7, len(paths) - 0.3)
    pad = span * 0.02
    ax.set_xlim(float(start.min()) - pad, float(end.max()) + pad)
    locator = mdates.AutoDateLocator()  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
    ax.set_xlabel("time (UTC)", **text_kw())
    ax.grid(axis="x", color="#e5e5e5", zorder=0)
    for r in row.values():
        ax.axhline(r - 0.5, color="#eeeeee", lw=0.8, zorder=0)
    if legend:
        ax.legend(handles=[Line2D([], [], color=FLAG_COLOUR, marker="X", lw=0, markersize=8,
                                  label="flow covered by a finding")],
                  loc="upper right", fontsize=8, framealpha=0.9)
    return ax


def _mark_findings(ax: Axes, findings: pd.DataFrame, frame: pd.DataFrame, start: Any,
                   y: Any) -> None:
    by_uid = finding_ids_by_uid(findings)
    flagged = np.array([u in by_uid for u in frame["uid"]], dtype=bool)
    if not flagged.any():
        return
    ax.scatter(start[flagged], y[flagged], marker="X", s=60, c=FLAG_COLOUR,
               edgecolors="white", linewidths=0.6, zorder=4)
    index = {u: i for i, u in enumerate(frame["uid"])}
    lo, hi = float(np.min(start)), float(np.max(start))
    labelled = 0
    for f in active_findings(findings).sort_values(["first_seen", "id"], kind="mergesort") \
            .itertuples(index=False):
        uids = [u for u in (f.uids if isinstance(f.uids, list | tuple) else []) if u in index]
        if not uids or labelled >= _MAX_FINDING_LABELS:
            continue
        i = min(index[u] for u in uids)
        right = start[i] > lo + 0.7 * (hi - lo)  # near the right edge: label to the left
        ax.annotate(safe_label(f.id, 40), (start[i], y[i]),
                    xytext=(-4 if right else 4, 7 + 9 * (labelled % 3)),
                    textcoords="offset points", ha="right" if right else "left",
                    **text_kw(fontsize=7, color=FLAG_COLOUR, zorder=5))
        labelled += 1
