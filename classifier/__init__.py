"""kubewire: Kubernetes control-plane communication paths from packet captures.

The public API lives in :mod:`classifier.api` and is re-exported here. The exports are loaded
on first use (PEP 562), so importing one stage (``classifier.flows``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from classifier.errors import (
    BaselineError,
    CaptureError,
    FilterError,
    InventoryError,
    KubewireError,
    MalformedPacketError,
    OutputError,
)

if TYPE_CHECKING:
    from classifier.api import (
        Capture,
        CaptureStream,
        Result,
        analyze,
        diff,
        extract_evidence,
        plot_graph,
        plot_timeline,
        proxy_chains,
        read_capture,
        read_flows,
    )
    from classifier.forensics.filters import FlowFilter

__version__ = "0.1.0"

_LAZY = {
    **{name: "classifier.api" for name in (
        "Capture", "CaptureStream", "Result", "analyze", "diff", "extract_evidence", "plot_graph",
        "plot_timeline", "proxy_chains", "read_capture", "read_flows")},
    "FlowFilter": "classifier.forensics.filters",
}


def __getattr__(name: str) -> Any:
    """Public name → the object, importing its module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'classifier' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "BaselineError",
    "Capture",
    "CaptureError",
    "CaptureStream",
    "FilterError",
    "FlowFilter",
    "InventoryError",
    "KubewireError",
    "MalformedPacketError",
    "OutputError",
    "Result",
    "__version__",
    "analyze",
    "diff",
    "extract_evidence",
    "plot_graph",
    "plot_timeline",
    "proxy_chains",
    "read_capture",
    "read_flows",
]
