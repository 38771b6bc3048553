"""The notebooks run green on a real Jupyter kernel and are committed without outputs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.conftest import CAPTURES, ROOT

NOTEBOOKS = ROOT / "notebooks"
NEEDS = {
    "01-explore.ipynb": ["cluster-tls12.pcap", "cluster-tls12.inventory.json"],
    "02-incident.ipynb": ["attack.pcap"],
}


def _notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def test_every_notebook_is_listed() -> None:
    assert {p.name for p in _notebooks()} == set(NEEDS)


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_committed_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, path.name


@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_public_api_only(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        for line in cell.source.splitlines():
            words = line.split()
            if words[:1] == ["import"] and words[1].startswith("classifier"):
                assert words[1] == "classifier", line
            if words[:1] == ["from"] and words[1].startswith("classifier"):
                assert words[1] == "classifier", line


@pytest.mark.slow
@pytest.mark.parametrize("path", _notebooks(), ids=lambda p: p.name)
def test_runs_on_a_real_kernel(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = [n for n in NEEDS.get(path.name, []) if not (CAPTURES / n).exists()]
    if missing:
        pytest.skip(f"captures not generated yet: {missing}")
    nb = nbformat.read(path, as_version=4)
    # The kernel inherits the environment: where the captures are, where to write evidence.
    monkeypatch.setenv("KUBEWIRE_CAPTURES", str(CAPTURES))
    monkeypatch.setenv("KUBEWIRE_OUT", str(tmp_path))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep
                       + os.environ.get("PATH", ""))
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError naming the failing cell
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.output_type == "error"]
    assert errors == []
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if "image/png" in o.get("data", {})]
    assert images, "the graph is drawn inline"
