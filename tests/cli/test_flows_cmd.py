"""`kubewire flows`: terminal table, exports without payload bytes, accounting line, errors."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from classifier import api, schema
from classifier.cli import cli
from classifier.cli.common import EXIT_USAGE, run_guarded
from classifier.tablefile import TableWriter, write_table
from tests.conftest import ZOO
from tests.flows.longcap import long_capture

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


def test_output_is_streamed_and_equals_the_api_table(tmp_path: Path, finish_often: None) -> None:
    """`flows -o` writes the flows batch by batch as they finish: the rows are those of
    read_capture, the custody sidecar and the accounting line are complete."""
    cap = long_capture(tmp_path)
    batches: list[int] = []
    real = TableWriter.write

    def spy(self: TableWriter, frame: pd.DataFrame) -> None:
        batches.append(len(frame))
        real(self, frame)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(TableWriter, "write", spy)
        res = CliRunner().invoke(cli, ["flows", str(cap), "-o", str(tmp_path / "f.csv")])
    assert res.exit_code == 0, res.output
    assert len(batches) > 10
    expected = tmp_path / "whole.csv"
    write_table(api.read_capture(str(cap)).flows, schema.FLOWS, expected)
    got_lines = (tmp_path / "f.csv").read_text().splitlines()
    want_lines = expected.read_text().splitlines()
    assert got_lines[0] == want_lines[0] and sorted(got_lines) == sorted(want_lines)
    assert got_lines != want_lines  # streamed: batches in the order their flows ended
    facts = json.loads((tmp_path / "f.csv.custody.json").read_text())
    assert facts["inputs"][0]["sha256"] == hashlib.sha256(cap.read_bytes()).hexdigest()
    assert facts["output"]["sha256"] == hashlib.sha256((tmp_path / "f.csv").read_bytes()).hexdigest()
    assert f"{len(want_lines) - 1} flows written" in res.stderr
    assert "packets read" in res.stderr


def test_streamed_output_is_removed_when_the_read_fails(tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "f.csv"
    assert run_guarded(cli, ["flows", str(tmp_path / "missing.pcap"), "-o", str(out)]) == EXIT_USAGE
    assert not out.exists() and not (tmp_path / "f.csv.custody.json").exists()


@needs_zoo
def test_csv_output_is_written_without_pandas_and_equals_the_frame_csv(tmp_path: Path) -> None:
    """`flows -o FILE.csv` goes through Arrow tables (pandas never loads: ~0.35 CPU s); the
    file is byte for byte what writing the frames gives, and the summary is the same."""
    import subprocess
    import sys

    from classifier.cli.flows import summary_line

    out = tmp_path / "f.csv"
    code = ("import sys\nfrom classifier.cli import main\n"
            f"try:\n    main(['flows', {str(HTTP)!r}, '-o', {str(out)!r}])\n"
            "except SystemExit as e:\n    assert not e.code, e.code\n"
            "sys.stdout.write(str('pandas' in sys.modules))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert run.stdout == "False"
    cap = api.read_capture(str(HTTP))
    want = tmp_path / "want.csv"
    write_table(cap.flows, schema.FLOWS, want)
    assert out.read_bytes() == want.read_bytes()
    assert summary_line(cap.stats) in run.stderr
    assert summary_line(cap.stats.to_dict("records")) == summary_line(cap.stats)
    assert json.loads((tmp_path / "f.csv.custody.json").read_text())["inputs"] == \
        cap.custody()["inputs"]
