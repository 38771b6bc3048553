"""Table files: one writer for every command; CSV cells never run as spreadsheet formulas."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from classifier import schema
from classifier.errors import OutputError
from classifier.tablefile import jsonable, write_table


def _hosts() -> pd.DataFrame:
    return schema.conform([
        {"ip": "10.0.0.1", "role": "apiserver", "name": "=HYPERLINK(\"http://x\")", "flows": 3},
        {"ip": "10.0.0.2", "role": "node", "name": "@SUM(A1)", "evidence": "-2+3"},
    ], schema.HOSTS)


def test_csv_defuses_formula_cells(tmp_path: Path) -> None:
    out = tmp_path / "hosts.csv"
    write_table(_hosts(), schema.HOSTS, out)
    back = pd.read_csv(out)
    assert list(back.columns) == schema.HOSTS.export_names
    assert back.loc[0, "name"] == "'=HYPERLINK(\"http://x\")"
    assert back.loc[1, "name"] == "'@SUM(A1)" and back.loc[1, "evidence"] == "'-2+3"


def test_parquet_keeps_exact_values(tmp_path: Path) -> None:
    out = tmp_path / "hosts.parquet"
    write_table(_hosts(), schema.HOSTS, out)
    assert pd.read_parquet(out).loc[1, "name"] == "@SUM(A1)"


def test_json_and_jsonl_are_objects_with_nulls(tmp_path: Path) -> None:
    write_table(_hosts(), schema.HOSTS, tmp_path / "h.json")
    rows = json.loads((tmp_path / "h.json").read_text())
    assert rows[0]["ip"] == "10.0.0.1" and rows[1]["flows"] is None
    write_table(_hosts(), schema.HOSTS, tmp_path / "h.jsonl")
    lines = (tmp_path / "h.jsonl").read_text().splitlines()
    assert [json.loads(x)["ip"] for x in lines] == ["10.0.0.1", "10.0.0.2"]


def test_payload_columns_are_never_written(tmp_path: Path) -> None:
    flows = schema.conform([{"uid": "C1", "orig_payload": b"Authorization: Bearer s3cr3t"}],
                           schema.FLOWS)
    write_table(flows, schema.FLOWS, tmp_path / "f.csv")
    assert b"s3cr3t" not in (tmp_path / "f.csv").read_bytes()


def test_unknown_suffix_and_unwritable_path(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="unknown output format"):
        write_table(_hosts(), schema.HOSTS, tmp_path / "h.xlsx")
    with pytest.raises(OutputError, match="cannot write"):
        write_table(_hosts(), schema.HOSTS, tmp_path / "missing" / "h.csv")


def test_jsonable_values() -> None:
    assert jsonable(pd.NA) is None and jsonable(float("nan")) is None
    assert jsonable(pd.Timestamp("2024-01-01", tz="UTC")) == "2024-01-01T00:00:00+00:00"
    assert jsonable(b"\x01\x02") == "0102" and jsonable({"a": [1, pd.NA]}) == {"a": [1, None]}


def test_custody_sidecar_names_inputs_and_hashes_the_table(tmp_path: Path) -> None:
    import hashlib

    out = tmp_path / "hosts.csv"
    facts = {"kubewire_version": "0.1.0",
             "inputs": [{"capture": "a.pcap", "size": 24, "sha256": "ab" * 32}], "filters": {}}
    write_table(_hosts(), schema.HOSTS, out, custody=facts)
    side = json.loads((tmp_path / "hosts.csv.custody.json").read_text())
    assert side["inputs"] == facts["inputs"] and side["kubewire_version"] == "0.1.0"
    assert side["output"]["sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()
