"""Matplotlib without pyplot: new figures, deterministic PNG/SVG bytes.

Nothing here touches pyplot's global figure registry; rcParams are only read, except
``svg.hashsalt`` which is set inside an ``rc_context`` for the duration of one SVG save so the
ids in the file do not depend on a random UUID.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any, Final

import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes

DPI: Final = 100
GRAPH_SIZE: Final = (14.0, 10.0)
"""Graph figure size in inches: 1400×1000 px at DPI."""
TIMELINE_SIZE: Final = (14.0, 6.0)
"""Timeline figure size in inches: 1400×600 px at DPI."""

_SVG_SALT: Final = "kubewire"
_FONT: Final = {"family": "DejaVu Sans"}
"""Bundled with matplotlib, so output does not depend on the fonts installed."""


def new_axes(size: tuple[float, float]) -> Axes:
    """Size in inches → the Axes of a fresh Agg-backed Figure (not registered with pyplot)."""
    fig = Figure(figsize=size, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def root_figure(ax: Axes) -> Figure:
    """Axes → the top-level Figure it is drawn in (through any SubFigure)."""
    fig = ax.figure
    while not isinstance(fig, Figure):
        fig = fig.figure
    return fig


def text_kw(**kw: Any) -> dict[str, Any]:
    """Keyword arguments for Axes.text/annotate with capture-derived text: no mathtext
    (a '$' in a pod name must not be parsed), the bundled font."""
    return {"parse_math": False, "fontfamily": _FONT["family"], **kw}


def png_bytes(fig: Figure) -> bytes:
    """Figure → PNG bytes of exactly figsize×dpi pixels, with no time-dependent metadata."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def svg_bytes(fig: Figure) -> bytes:
    """Figure → SVG bytes, identical for identical figures (fixed hash salt, no date)."""
    buf = io.BytesIO()
    with matplotlib.rc_context({"svg.hashsalt": _SVG_SALT, "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg", dpi=DPI, metadata={"Date": None, "Creator": None})
    return buf.getvalue()
