"""docs/outputs.md is the output contract: it names every file and every exported column."""

from __future__ import annotations

import json
import re
from pathlib import Path

from classifier import schema
from classifier.report.outputs import output_names, summary_dict
from tests.report.synthetic import make_result

DOC = (Path(__file__).resolve().parents[2] / "docs" / "outputs.md").read_text()


def test_every_file_is_documented() -> None:
    for name in output_names("md"):
        assert f"`{name}`" in DOC, name


def test_every_exported_column_is_documented() -> None:
    for table in (schema.FLOWS, schema.HOSTS, schema.TLS, schema.HTTP, schema.CERTIFICATES,
                  schema.FINDINGS):
        section = re.search(rf"### {table.name} columns\n(.*?)(?=\n#|\Z)", DOC, re.S)
        assert section is not None, table.name
        documented = re.findall(r"^\| `([a-z0-9_]+)` \|", section.group(1), re.M)
        assert documented == table.export_names, table.name


def test_every_summary_field_is_documented() -> None:
    summary = summary_dict(make_result(), outputs=output_names(), generated="x")
    section = DOC.split("## summary.json", 1)[1]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, re.M))
    assert set(summary) == documented
    json.dumps(summary, allow_nan=False)
