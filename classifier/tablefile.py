"""Tables → files: CSV, JSON, JSON Lines and Parquet, written the same way by every command.

- CSV: ISO 8601 timestamps, lists/dicts as JSON text, and text cells a spreadsheet would run
  as a formula (starting with = + - @ TAB CR) prefixed with an apostrophe (OWASP "CSV
  injection"); Parquet keeps the exact values.
- JSON: a list of objects; JSON Lines: one object per line; NA → null.
- Bulky internal columns (raw payload prefixes) are never written: see ``schema.for_export``.
- Chain of custody: with ``custody`` (kubewire's version, every input's path, size and
  SHA-256, the filters), a sidecar ``<file>.custody.json`` is written next to the table.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from classifier import schema
from classifier.errors import OutputError

FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")
"""Cell prefixes spreadsheets evaluate as formulas."""

SUFFIXES: Final = (".csv", ".json", ".jsonl", ".parquet")


def jsonable(value: Any) -> Any:
    """Any cell value → a JSON-ready value: NA → None, timestamps → ISO 8601, numpy → Python,
    bytes → hex, containers recursively; anything else → str."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return None if math.isnan(value) or math.isinf(value) else float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, pd.Timestamp | datetime):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset | np.ndarray):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [jsonable(v) for v in items]
    return str(value)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Frame → a list of JSON-ready dicts, one per row."""
    return [{str(k): jsonable(v) for k, v in r.items()} for r in frame.to_dict("records")]


def write_csv(frame: pd.DataFrame, path: Path) -> None:
    """Frame → CSV (see the module docstring for how cells are written)."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.map(lambda v: None if pd.isna(v) else v.isoformat())
        elif isinstance(s.dtype, pd.StringDtype | pd.CategoricalDtype):
            text = s.astype("string")
            risky = text.str.startswith(FORMULA_START).fillna(False).astype(bool)
            out[col] = text.mask(risky, "'" + text)
        elif s.dtype == object:
            out[col] = s.map(_cell)
    out.to_csv(path, index=False, lineterminator="\n")


def _cell(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and pd.isna(v)):
        return None
    if isinstance(v, list | tuple | dict):
        return json.dumps(jsonable(v), ensure_ascii=False)
    s = str(v)
    return "'" + s if s.startswith(FORMULA_START) else s


def write_json(obj: Any, path: Path) -> None:
    """Any JSON-able object (frames become a list of objects) → an indented JSON file."""
    data = records(obj) if isinstance(obj, pd.DataFrame) else jsonable(obj)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False, allow_nan=False) + "\n",
                    encoding="utf-8")


def write_jsonl(frame: pd.DataFrame, path: Path) -> None:
    """Frame → JSON Lines, one object per row."""
    with path.open("w", encoding="utf-8") as fh:
        for rec in records(frame):
            fh.write(json.dumps(rec, ensure_ascii=False, allow_nan=False) + "\n")


def custody_path(out: Path) -> Path:
    """Output file → the path of its chain-of-custody sidecar."""
    return out.with_name(out.name + ".custody.json")


def write_custody(out: Path, custody: dict[str, Any]) -> Path:
    """Output file + custody facts → the sidecar ``<file>.custody.json`` (also for the table's
    own hash, so a later reader can tell the table was not edited)."""
    import hashlib

    facts = dict(custody)
    facts["output"] = {"path": str(out), "size": out.stat().st_size,
                       "sha256": hashlib.sha256(out.read_bytes()).hexdigest()}
    target = custody_path(out)
    try:
        write_json(facts, target)
    except OSError as exc:
        raise OutputError(f"{target}: cannot write: {exc.strerror or exc}") from None
    return target


def write_table(frame: pd.DataFrame, spec: schema.Table, out: Path,
                suffixes: tuple[str, ...] = SUFFIXES, *,
                custody: dict[str, Any] | None = None) -> None:
    """A schema table + file name → the exported columns written in the format of its suffix,
    plus the custody sidecar when ``custody`` is given.

    Raises OutputError for a suffix not in ``suffixes`` or a file that cannot be written.
    """
    suffix = out.suffix.lower()
    if suffix not in suffixes:
        raise OutputError(f"{out}: unknown output format (use {', '.join(suffixes)})")
    exported = schema.for_export(schema.conform(frame, spec), spec)
    try:
        if suffix == ".parquet":
            exported.to_parquet(out, index=False)
        else:
            {".csv": write_csv, ".json": write_json, ".jsonl": write_jsonl}[suffix](exported, out)
    except OSError as exc:
        raise OutputError(f"{out}: cannot write: {exc.strerror or exc}") from None
    if custody is not None:
        write_custody(out, custody)
