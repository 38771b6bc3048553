"""`kubewire flows`: terminal table, exports without payload bytes, accounting line, errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from classifier import schema
from classifier.cli import cli
from classifier.cli.common import EXIT_USAGE, run_guarded
from tests.conftest import ZOO

TLS = ZOO / "zeek" / "tls1.2.pcap"
HTTP = ZOO / "zeek" / "erspan.pcap"
needs_zoo = pytest.mark.skipif(not TLS.exists(), reason="captures-zoo not present")


@needs_zoo
def test_terminal_table_and_summary() -> None:
    res = CliRunner().invoke(cli, ["flows", str(TLS), str(HTTP)])
    assert res.exit_code == 0, res.output
    out = res.stdout
    assert "68.233.76.12:443" in out and "TLSv1.2" in out
    assert "GET" in out and "401" in out
    header = out.splitlines()[0].split()
    assert header[:4] == ["ts", "orig", "resp", "proto"] and "history" in header
    assert ("kubewire: 309 packets read: 160 decoded, 55 skipped (ipv4_fragment 55), "
            "94 out of scope (icmp 84, arp 10)") in res.stderr


@needs_zoo
@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_export_formats_have_no_payload(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"flows{suffix}"
    res = CliRunner().invoke(cli, ["flows", str(TLS), "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert res.stderr == "" and res.stdout == ""
    if suffix == ".csv":
        frame = pd.read_csv(out)
    elif suffix == ".parquet":
        frame = pd.read_parquet(out)
    else:
        frame = pd.DataFrame([json.loads(x) for x in out.read_text().splitlines()])
    assert list(frame.columns) == schema.FLOWS.export_names
    assert "orig_payload" not in frame.columns
    assert len(frame) == 1 and int(frame.loc[0, "resp_p"]) == 443


@needs_zoo
def test_tag_adds_path_and_roles() -> None:
    res = CliRunner().invoke(cli, ["flows", str(TLS), "--tag", "-q"])
    assert res.exit_code == 0, res.output
    assert res.stdout == ""
    res = CliRunner().invoke(cli, ["flows", str(TLS), "--tag"])
    assert res.exit_code == 0, res.output
    assert "path" in res.stdout.splitlines()[0].split()


def test_errors_are_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "notes.txt"
    bad.write_text("hello, not a capture\n")
    assert run_guarded(cli, ["flows", str(bad)]) == EXIT_USAGE
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(bad) in err[0] and "not a pcap" in err[0]
    assert run_guarded(cli, ["flows", str(tmp_path / "missing.pcap")]) == EXIT_USAGE
    assert run_guarded(cli, ["flows", str(bad), "-o", str(tmp_path / "x.txt")]) == EXIT_USAGE
