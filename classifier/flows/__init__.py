"""Flow assembly: decoded packets → bidirectional flows with reassembled first bytes."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True, slots=True)
class Assembled:
    """The flow stage's output: flows (schema.FLOW_BASE), stats (STATS), inputs (INPUTS)."""

    flows: pd.DataFrame
    stats: pd.DataFrame
    inputs: pd.DataFrame


def assemble(
    paths: Sequence[str],
    *,
    payload_bytes: int = 16384,
    strict: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Assembled:
    """Capture paths → flows with the first ``payload_bytes`` of each direction reassembled."""
    raise NotImplementedError("flow assembly lands with the foundation issue")
