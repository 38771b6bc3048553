"""Kubernetes knowledge: endpoint roles and the control-plane path of every flow.

Tables, not if-chains: :mod:`.ports` (default ports), :mod:`.signals` (role evidence read off
traffic), :mod:`.paths` (path rules), :mod:`.operations` (what a request does).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from classifier import schema
from classifier.k8s.inventory import Inventory
from classifier.k8s.inventory import load_inventory as _load_inventory
from classifier.k8s.paths import PATHS
from classifier.k8s.roles import ROLES
from classifier.k8s.tagging import tag

__all__ = ["PATHS", "ROLES", "Inventory", "Tagging", "load_inventory", "tag_paths"]


@dataclass(frozen=True, slots=True)
class Tagging:
    """flows with the FLOW_K8S columns filled, and hosts (schema.HOSTS)."""

    flows: pd.DataFrame
    hosts: pd.DataFrame


def load_inventory(paths: Sequence[str]) -> Inventory:
    """Inventory files (kubectl JSON/YAML lists, kubewire YAML) → an Inventory.

    Raises :class:`classifier.errors.InventoryError` naming the file and field when malformed.
    """
    return _load_inventory(paths)


def tag_paths(flows: pd.DataFrame, *, inventory: Inventory | None = None,
              http: pd.DataFrame | None = None, tls: pd.DataFrame | None = None,
              certificates: pd.DataFrame | None = None) -> Tagging:
    """Dissected flows (+ inventory) → flows tagged with path, roles, auth; hosts table.

    ``flows`` carries FLOW_BASE + FLOW_DISSECT columns; ``http`` (schema.HTTP) adds every request
    of a flow, not just the first. ``tls`` and ``certificates`` are accepted for symmetry with the
    other stages; the per-flow certificate columns already carry what tagging needs.
    """
    del tls, certificates
    frame = schema.conform(_complete(flows), schema.FLOWS)
    tagged, hosts = tag(frame, inventory=inventory, http=http)
    return Tagging(flows=schema.conform(tagged, schema.FLOWS),
                   hosts=schema.conform(hosts, schema.HOSTS))


def _complete(flows: pd.DataFrame) -> pd.DataFrame:
    """Flows → the same frame with every FLOWS column present (float columns as NaN)."""
    missing = {c.name: pd.Series([float("nan")] * len(flows), dtype="float64", index=flows.index)
               for c in schema.FLOWS.columns
               if c.name not in flows.columns and c.dtype == "float64"}
    return flows.assign(**missing) if missing else flows
