"""Flow filters shared by every command: --since/--until, --host, --path, --where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True, slots=True)
class FlowFilter:
    """A selection of flows; every field None means 'no constraint'."""

    since: str | None = None
    """Absolute ISO time, or relative to the capture start ('+30s', '+5m')."""
    until: str | None = None
    hosts: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    where: str | None = None
    """A pandas query over the flow table."""

    def describe(self) -> dict[str, Any]:
        """The filter → a JSON-ready dict of the constraints set."""
        return {k: v for k, v in (("since", self.since), ("until", self.until),
                                  ("hosts", list(self.hosts)), ("paths", list(self.paths)),
                                  ("where", self.where)) if v}


def apply_filter(flows: pd.DataFrame, flt: FlowFilter) -> pd.DataFrame:
    """Tagged flows + filter → the selected flows."""
    raise NotImplementedError("filters land with the forensics issue")
