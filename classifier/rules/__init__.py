"""Analyzer rules: one module per rule, listed explicitly in RULES."""

from __future__ import annotations

from typing import Any

import pandas as pd


def load_baseline(path: str) -> Any:
    """Baseline YAML/JSON file → accepted findings (id, subject, reason)."""
    raise NotImplementedError("baselines land with the analyzer issue")


def evaluate(flows: pd.DataFrame, *, http: pd.DataFrame | None = None,
             tls: pd.DataFrame | None = None, certificates: pd.DataFrame | None = None,
             hosts: pd.DataFrame | None = None, baseline: Any = None) -> pd.DataFrame:
    """Tagged flows (+ detail tables, baseline) → findings (schema.FINDINGS)."""
    raise NotImplementedError("rules land with the analyzer issue")
