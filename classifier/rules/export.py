"""Findings → JSON-ready records, findings.json and findings.csv (shared by CLI and report)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pandas as pd

from classifier import schema


def findings_records(findings: pd.DataFrame) -> list[dict[str, Any]]:
    """Findings frame → a list of plain dicts (ISO times, lists kept, NA → None)."""
    out: list[dict[str, Any]] = []
    for rec in schema.for_export(findings, schema.FINDINGS).to_dict("records"):
        out.append({k: _plain(v) for k, v in rec.items()})
    return out


def _plain(v: Any) -> Any:
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, float) and v != v:
        return None
    if hasattr(v, "item") and not isinstance(v, str | bytes):
        return v.item()
    return v


def write_findings(findings: pd.DataFrame, path: str | Path) -> Path:
    """Findings → ``path`` as JSON (a list of objects) or CSV (lists as JSON strings),
    chosen by the suffix (.json / .csv). Raises ValueError for any other suffix."""
    p = Path(path)
    records = findings_records(findings)
    suffix = p.suffix.lower()
    if suffix == ".json":
        p.write_text(json.dumps(records, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif suffix == ".csv":
        cols = schema.FINDINGS.export_names
        with p.open("w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, fieldnames=cols)
            w.writeheader()
            for r in records:
                w.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list | dict)
                            else ("" if v is None else v) for k, v in r.items()})
    else:
        raise ValueError(f"{path}: unknown findings format (use .json or .csv)")
    return p
