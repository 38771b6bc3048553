"""Shared vocabulary of the report: path/role/severity order and colours, safe labels.

Colours are fixed per known path so the same path has the same colour in every figure; red is
reserved for flagged edges and findings, so no path colour is red.
"""

from __future__ import annotations

import unicodedata
from typing import Final

import pandas as pd

from classifier.k8s.paths import PATHS

PATH_ORDER: Final = PATHS
"""Control-plane paths in reading order (issue 5's vocabulary)."""

UNTAGGED: Final = "untagged"
"""Label for flows whose path is NA (tagging did not decide)."""

_PATH_COLOURS: Final = {
    "node-to-apiserver": "#1f77b4",
    "pod-to-apiserver": "#17becf",
    "client-to-apiserver": "#9467bd",
    "apiserver-to-kubelet": "#2ca02c",
    "apiserver-proxy": "#ff7f0e",
    "kubelet-readonly": "#8c564b",
    "kubelet-direct": "#e377c2",
    "etcd": "#bcbd22",
    "etcd-peer": "#6b6b00",
    "konnectivity": "#3f51b5",
    "ssh-tunnel": "#795548",
    "control-plane-other": "#009688",
    "other": "#a0a0a0",
    UNTAGGED: "#c8c8c8",
}
_SPARE_COLOURS: Final = ("#4e79a7", "#59a14f", "#b07aa1", "#9c755f", "#76b7b2", "#edc948")

FLAG_COLOUR: Final = "#d62728"

ROLE_ORDER: Final = (
    "apiserver", "etcd", "konnectivity-server", "service-vip", "node", "pod", "dns", "client",
    "unknown",
)
CONTROL_PLANE_ROLES: Final = frozenset({"apiserver", "etcd", "konnectivity-server", "service-vip"})

ROLE_STYLE: Final = {
    # role: (marker, face colour, size in points²)
    "apiserver": ("h", "#08306b", 900.0),
    "etcd": ("D", "#6b6b00", 500.0),
    "konnectivity-server": ("p", "#3f51b5", 500.0),
    "service-vip": ("v", "#17becf", 400.0),
    "node": ("s", "#2ca02c", 500.0),
    "pod": ("o", "#74c476", 160.0),
    "pod-group": ("o", "#74c476", 420.0),
    "dns": ("d", "#8c8c8c", 220.0),
    "client": ("^", "#9467bd", 320.0),
    "unknown": ("o", "#bdbdbd", 160.0),
    "group": ("o", "#bdbdbd", 420.0),
}

SEVERITY_ORDER: Final = ("critical", "high", "medium", "low", "info")
SEVERITY_COLOURS: Final = {
    "critical": "#7f0000", "high": FLAG_COLOUR, "medium": "#ff7f0e", "low": "#bcbd22",
    "info": "#1f77b4",
}


def path_name(value: object) -> str:
    """A path cell (str or NA) → its display name."""
    return UNTAGGED if value is None or value is pd.NA or pd.isna(value) else str(value)


def path_rank(path: str) -> tuple[int, str]:
    """Path name → sort key: known paths in PATH_ORDER, others after, alphabetically."""
    try:
        return (PATH_ORDER.index(path), path)
    except ValueError:
        return (len(PATH_ORDER) + (1 if path == UNTAGGED else 0), path)


def path_colours(paths: list[str]) -> dict[str, str]:
    """Path names → colour per path, fixed for known paths, stable for the rest."""
    out: dict[str, str] = {}
    spare = iter(_SPARE_COLOURS * (1 + len(paths) // len(_SPARE_COLOURS)))
    for p in sorted(set(paths), key=path_rank):
        out[p] = _PATH_COLOURS.get(p) or next(spare)
    return out


def role_rank(role: str) -> int:
    """Role → sort key in ROLE_ORDER (unknown roles last)."""
    return ROLE_ORDER.index(role) if role in ROLE_ORDER else len(ROLE_ORDER)


def severity_rank(severity: object) -> int:
    """Severity → 0 for critical … 4 for info, 5 for anything else."""
    s = str(severity)
    return SEVERITY_ORDER.index(s) if s in SEVERITY_ORDER else len(SEVERITY_ORDER)


def safe_label(value: object, limit: int = 48) -> str:
    """A capture-derived string → a printable, length-bounded label for a figure.

    Newlines are kept (multi-line labels); control, non-printable and non-ASCII characters
    become ``\\xNN``/``\\uNNNN`` escapes so a hostile name cannot break the layout or hit
    missing glyphs; figure text is drawn with math parsing off (see figures.py).
    """
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    out = []
    for ch in str(value):
        if (ch.isascii() and ch.isprintable()) or ch == "\n":
            out.append(ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    text = "".join(out)
    return text if len(text) <= limit else text[: limit - 1] + "…"


_INVISIBLE: Final = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
"""Unicode categories shown as escapes in reports: controls, format characters (bidi
overrides, zero-width), private/unassigned code points, line/paragraph separators."""


def visible_text(value: object) -> str:
    """A capture-derived value → text with every invisible or control character shown as a
    ``\\xNN``/``\\uNNNN`` escape (tabs and newlines too), so nothing is hidden or reordered.
    The caller still escapes for its output format (HTML, Markdown)."""
    if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
        return ""
    s = str(value)
    if s.isprintable():
        return s
    return "".join(ch.encode("unicode_escape").decode("ascii")
                   if unicodedata.category(ch) in _INVISIBLE else ch for ch in s)
