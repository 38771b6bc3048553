"""tshark as the oracle: run it on a capture and return field rows."""

from __future__ import annotations

import subprocess
from pathlib import Path


def fields(capture: Path | str, names: list[str], *, display_filter: str = "",
           extra: list[str] | None = None) -> list[list[str]]:
    """Capture + tshark field names (+ filter) → one list of field strings per packet."""
    cmd = ["tshark", "-n", "-r", str(capture), "-T", "fields", "-E", "separator=\t",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    if display_filter:
        cmd += ["-Y", display_filter]
    cmd += extra or []
    for n in names:
        cmd += ["-e", n]
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=300)
    return [line.split("\t") for line in out.stdout.splitlines() if line.strip()]
