"""Shared fixtures: where the captures are, and tshark as the independent oracle."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "captures"
ZOO = ROOT.parent / "shared" / "captures-zoo"
ARTIFACTS = ROOT / "tests" / "artifacts"


def zoo_files() -> list[Path]:
    """Every capture in ../shared/captures-zoo (empty when the zoo is absent)."""
    if not ZOO.is_dir():
        return []
    return sorted(p for p in ZOO.rglob("*") if p.suffix in (".pcap", ".pcapng", ".cap"))


def zoo_capture(name: str) -> str:
    """The path of one capture in ../shared/captures-zoo, or skip the test when it is absent."""
    path = ZOO / name
    if not path.exists():
        pytest.skip(f"{name} not in the captures zoo")
    return str(path)


def lab_files() -> list[Path]:
    """Every generated reference capture in captures/ that has a labels file."""
    return sorted(p for p in CAPTURES.glob("*.pcap*")
                  if p.with_suffix("").with_suffix(".labels.json").exists()
                  or Path(str(p).rsplit(".pcap", 1)[0] + ".labels.json").exists())


@pytest.fixture(scope="session")
def tshark() -> str:
    """Path to tshark, or skip with a reason (make test installs it)."""
    exe = shutil.which("tshark")
    if exe is None:
        pytest.skip("tshark not installed (make test installs it as root)")
    return exe


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for test artifacts kept after the run (screenshots, reports)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def finish_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """The flow stage hands finished flows on after every small batch (tests/flows/longcap.py)."""
    from tests.flows.longcap import hand_on_often

    hand_on_often(monkeypatch)
