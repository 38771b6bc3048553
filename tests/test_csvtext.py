"""CSV text: what pandas' to_csv writes, whatever the dtype or step size; cells never run as
spreadsheet formulas."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from classifier import csvtext, schema
from classifier.csvtext import FORMULA_START, write_csv
from classifier.tablefile import write_table


def formula_hosts() -> pd.DataFrame:
    """A hosts table whose text cells a spreadsheet would run as formulas."""
    return schema.conform([
        {"ip": "10.0.0.1", "role": "apiserver", "name": "=HYPERLINK(\"http://x\")", "flows": 3},
        {"ip": "10.0.0.2", "role": "node", "name": "@SUM(A1)", "evidence": "-2+3"},
    ], schema.HOSTS)


def test_csv_defuses_formula_cells(tmp_path: Path) -> None:
    out = tmp_path / "hosts.csv"
    write_table(formula_hosts(), schema.HOSTS, out)
    back = pd.read_csv(out)
    assert list(back.columns) == schema.HOSTS.export_names
    assert back.loc[0, "name"] == "'=HYPERLINK(\"http://x\")"
    assert back.loc[1, "name"] == "'@SUM(A1)" and back.loc[1, "evidence"] == "'-2+3"


def _pandas_reference(frame: pd.DataFrame) -> str:
    """What the writer promises: pandas' to_csv after the cell rules (the independent oracle)."""
    out = frame.copy()
    for col in out.columns:
        s = out[col]
        if isinstance(s.dtype, pd.DatetimeTZDtype):
            out[col] = s.map(lambda v: None if pd.isna(v) else v.isoformat())
        elif isinstance(s.dtype, pd.StringDtype | pd.CategoricalDtype):
            text = s.astype("string")
            out[col] = text.mask(text.str.startswith(FORMULA_START).fillna(False).astype(bool),
                                 "'" + text)
        elif s.dtype == object:
            out[col] = s.map(lambda v: None if v is None else json.dumps(v) if isinstance(
                v, list) else "'" + str(v) if str(v).startswith(FORMULA_START) else str(v))
    return out.to_csv(index=False, lineterminator="\n")


@pytest.mark.parametrize("rows_per_step", [4096, 4])
def test_csv_text_equals_pandas_to_csv_for_every_dtype(tmp_path: Path, rows_per_step: int,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(csvtext, "CSV_ROWS", rows_per_step)
    tricky = ["plain", "a,b", 'say "hi"', "line\nbreak", "", " padded ", "=1+2", "-3",
              "@x", "\ttab", "ünïcode ✓", None]
    n = len(tricky)
    frame = pd.DataFrame({
        "text": pd.array(tricky, dtype="string"),
        "cat": pd.Categorical([t if t is None else t[:3] for t in tricky]),
        "obj": pd.Series([["a", "b"], "x,y", None, 1, "+1", *["o"] * (n - 5)], dtype=object),
        "u16": pd.array([80, None, *range(n - 2)], dtype="UInt16"),
        "u64": pd.array([2**64 - 1, 0, *[None] * (n - 2)], dtype="UInt64"),
        "i64": list(range(-3, n - 3)),
        "f": [3.0, 0.1, 1e20, float("nan"), 1 / 3, -0.0, 2.5e-7, *[1.5] * (n - 7)],
        "flag": pd.array([True, False, None, *[True] * (n - 3)], dtype="boolean"),
        "np_flag": [i % 3 == 0 for i in range(n)],
        "num_cat": pd.Categorical([1, None, 2.5, *[3] * (n - 3)]),
        "mixed_cat": pd.Categorical(["a", 1, None, *["=b"] * (n - 3)]),
        "ts": pd.to_datetime([1_700_000_000_123_456_789, None, 1_700_000_000_000_000_000,
                              *[1_700_000_000_100_000_000] * (n - 3)], utc=True),
    })
    out = tmp_path / "t.csv"
    write_csv(frame, out)
    assert out.read_bytes().decode() == _pandas_reference(frame)
    write_csv(frame.iloc[:0], out)
    assert out.read_bytes().decode() == _pandas_reference(frame.iloc[:0])


def test_csv_quotes_a_lone_carriage_return(tmp_path: Path) -> None:
    """RFC 4180 §2.6: a field holding CR is quoted (pandas' to_csv leaves a lone CR bare)."""
    write_csv(pd.DataFrame({"a": pd.array(["cr\rret", "ok"], dtype="string")}), tmp_path / "c.csv")
    assert (tmp_path / "c.csv").read_bytes() == b'a\n"cr\rret"\nok\n'


def test_csv_times_are_iso_8601_with_t_and_offset(tmp_path: Path) -> None:
    """docs/outputs.md: `2026-11-01T12:00:05.250000+00:00` (also when no cell is NaT, where a
    pandas round trip of isoformat() strings used to turn the T back into a space)."""
    ts = pd.to_datetime([1_793_534_405_250_000_000, 1_793_534_405_000_000_000,
                         1_793_534_405_000_000_001], utc=True)
    write_csv(pd.DataFrame({"ts": ts}), tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text().splitlines()[1:] == [
        "2026-11-01T12:00:05.250000+00:00", "2026-11-01T12:00:05+00:00",
        "2026-11-01T12:00:05.000000001+00:00"]


def test_csv_times_match_isoformat_at_the_ends_of_the_ns_range(tmp_path: Path) -> None:
    """Before 1970, at the int64-ns limits, every fraction length, and NaT: what pandas'
    isoformat() says (the vectorized writer cuts fixed positions)."""
    ns = [-1, -1_000_000_000, -123_456_789_000, 0, 1, 1_000, 2**63 - 1, -(2**63) + 1, None]
    ts = pd.Series(pd.to_datetime(ns, utc=True))
    write_csv(pd.DataFrame({"ts": ts}), tmp_path / "t.csv")
    want = ['""' if pd.isna(v) else v.isoformat() for v in ts]  # a lone empty cell is ""
    assert (tmp_path / "t.csv").read_text().splitlines()[1:] == want


@pytest.mark.parametrize("cell", [",", '"', "\r", "\n", "=x", "+1", "-1", "@a", "\tx", "\rx"])
def test_byte_scan_flags_every_cell_that_needs_care(cell: str) -> None:
    import pyarrow as pa

    arr = pa.array(["plain", None, "", cell, "tail"], pa.large_string())
    assert csvtext._may_need_care(arr)
    assert not csvtext._may_need_care(arr.slice(4))  # a slice sees only its own bytes
    assert csvtext._may_need_care(arr.slice(3, 1))
    assert not csvtext._may_need_care(pa.array(["a-b", "x=y", None, "ü"], pa.large_string()))
    assert not csvtext._may_need_care(pa.array([None, None], pa.large_string()))


@pytest.mark.parametrize("empty_at", [(0,), (1, 2), (3,), (0, 1, 2, 3), ()])
def test_csv_rows_with_all_empty_columns_anywhere(tmp_path: Path, empty_at: tuple[int, ...]) -> None:
    """Runs of all-NA columns are folded into fewer join arguments: same text as pandas."""
    columns = {
        "a": pd.array(["x", None, "y"], dtype="string"),
        "b": pd.array([1, 2, None], dtype="UInt16"),
        "c": pd.Categorical(["p", "q", "p"]),
        "d": pd.array([True, None, False], dtype="boolean"),
    }
    frame = pd.DataFrame({k: (pd.Series(v).iloc[:0].reindex(range(3)) if i in empty_at else v)
                          for i, (k, v) in enumerate(columns.items())})
    out = tmp_path / "e.csv"
    write_csv(frame, out)
    assert out.read_bytes().decode() == _pandas_reference(frame)


def test_csv_rows_of_one_all_empty_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"only": pd.array([None, None], dtype="string")})
    out = tmp_path / "one.csv"
    write_csv(frame, out)
    assert out.read_bytes().decode() == _pandas_reference(frame) == 'only\n""\n""\n'
