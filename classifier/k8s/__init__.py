"""Kubernetes knowledge: endpoint roles and the control-plane path of every flow."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd


@dataclass(frozen=True, slots=True)
class Tagging:
    """flows with the FLOW_K8S columns filled, and hosts (schema.HOSTS)."""

    flows: pd.DataFrame
    hosts: pd.DataFrame


def load_inventory(paths: Sequence[str]) -> Any:
    """Inventory files (kubectl JSON/YAML lists, kubewire YAML) → an Inventory."""
    raise NotImplementedError("inventory lands with the Kubernetes awareness issue")


def tag_paths(flows: pd.DataFrame, *, inventory: Any = None, http: pd.DataFrame | None = None,
              tls: pd.DataFrame | None = None,
              certificates: pd.DataFrame | None = None) -> Tagging:
    """Dissected flows (+ inventory) → flows tagged with path, roles, auth; hosts table."""
    raise NotImplementedError("tagging lands with the Kubernetes awareness issue")
