"""Findings → JSON-ready records, findings.json and findings.csv (shared by CLI and report)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from classifier import schema
from classifier.tablefile import records, write_csv, write_json


def findings_records(findings: pd.DataFrame) -> list[dict[str, Any]]:
    """Findings frame → a list of plain dicts (ISO times, lists kept, NA → None)."""
    return records(schema.for_export(findings, schema.FINDINGS))




def write_findings(findings: pd.DataFrame, path: str | Path) -> Path:
    """Findings → ``path`` as JSON (a list of objects) or CSV (lists as JSON text, formula
    cells defused), chosen by the suffix (.json / .csv). Raises ValueError for any other suffix."""
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".json":
        write_json(findings_records(findings), p)
    elif suffix == ".csv":
        write_csv(schema.for_export(schema.conform(findings, schema.FINDINGS), schema.FINDINGS), p)
    else:
        raise ValueError(f"{path}: unknown findings format (use .json or .csv)")
    return p
