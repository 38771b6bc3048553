"""Dissectors: what each flow's first bytes say."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True, slots=True)
class Dissection:
    """flows (FLOW_BASE + FLOW_DISSECT columns) and the detail tables tls, certificates, http."""

    flows: pd.DataFrame
    tls: pd.DataFrame
    certificates: pd.DataFrame
    http: pd.DataFrame


def dissect(flows: pd.DataFrame, *, strict: bool = False) -> Dissection:
    """Flow table with payload prefixes → flows with dissection columns + detail tables."""
    raise NotImplementedError("dissectors land with the dissectors issue")
