"""kubewire: Kubernetes control-plane communication paths from packet captures.

The public API lives in :mod:`classifier.api` and is re-exported here.
"""

from classifier.api import (
    Capture,
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
from classifier.errors import (
    BaselineError,
    CaptureError,
    FilterError,
    InventoryError,
    KubewireError,
    MalformedPacketError,
)
from classifier.forensics.filters import FlowFilter

__version__ = "0.1.0"

__all__ = [
    "BaselineError",
    "Capture",
    "CaptureError",
    "FilterError",
    "FlowFilter",
    "InventoryError",
    "KubewireError",
    "MalformedPacketError",
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
