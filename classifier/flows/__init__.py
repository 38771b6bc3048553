"""Flow assembly: decoded packets → bidirectional flows with reassembled first bytes.

``assemble`` is the pipeline stage (schema.FLOW_BASE + STATS + INPUTS); ``FlowStream`` gives
the same flows as frames while reading, as they finish (bounded memory); ``packet_index`` maps
every decoded packet to its flow uid for evidence extraction. They live in
``classifier.flows.stage`` and load on first use (PEP 562): the pandas-free modules of this
package (``reading``, ``worker``, ``table``) import without pandas, so a reader process can
start before it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from classifier.flows.stage import Assembled, FlowStream, assemble, packet_index

__all__ = ["Assembled", "FlowStream", "assemble", "packet_index"]


def __getattr__(name: str) -> Any:
    """Public name → the object, importing ``classifier.flows.stage`` on first use."""
    if name not in __all__:
        raise AttributeError(f"module 'classifier.flows' has no attribute {name!r}")
    value = getattr(importlib.import_module("classifier.flows.stage"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
