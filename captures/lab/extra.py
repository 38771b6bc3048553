"""Scenario-specific traffic: legacy insecure ports, the attack, SSH tunnels, Konnectivity,
overlay pod traffic."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from captures.lab.scenarios import Ctx


def settle(x: Ctx) -> None:
    """Let in-flight FIN/ACKs reach the capture points."""
    time.sleep(0.5)
