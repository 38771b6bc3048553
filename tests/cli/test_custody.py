"""Chain of custody: every table a command writes names its inputs' SHA-256, sizes and the
kubewire version, and no input file is modified."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from classifier.cli import main
from tests.conftest import CAPTURES

CAPTURE = CAPTURES / "cluster-tls12.pcap"


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


@pytest.mark.parametrize(("command", "name"), [
    (["flows"], "flows.parquet"), (["hosts"], "hosts.json"), (["certs"], "certs.csv"),
    (["http"], "http.csv"), (["findings"], "findings.json"),
])
def test_outputs_carry_custody(command: list[str], name: str, tmp_path: Path) -> None:
    before = _sha(CAPTURE)
    out = tmp_path / name
    with pytest.raises(SystemExit) as done:
        main([*command, str(CAPTURE), "-o", str(out), "-q"])
    assert done.value.code == 0
    side = json.loads((tmp_path / f"{name}.custody.json").read_text())
    assert side["inputs"] == [{"capture": str(CAPTURE), "size": CAPTURE.stat().st_size,
                               "sha256": before}]
    assert side["kubewire_version"] and side["output"]["sha256"] == _sha(out)
    assert _sha(CAPTURE) == before
