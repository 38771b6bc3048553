"""What a dissector learned about one flow: flow columns, detail rows, certificate sightings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class Malformed(ValueError):
    """Invalid protocol bytes; ``reason`` is the snake_case name recorded in dissect_error."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CertSighting:
    """One DER certificate seen in a handshake, and which side presented it."""

    der: bytes
    role: str
    """'server' or 'client'."""


@dataclass(slots=True)
class Facts:
    """A flow's dissection: FLOW_DISSECT values, TLS/HTTP detail rows, certificates seen."""

    flow: dict[str, Any] = field(default_factory=dict)
    """FLOW_DISSECT column → value (absent = NA)."""
    tls: list[dict[str, Any]] = field(default_factory=list)
    """schema.TLS rows without the flow identity columns (uid, ts, orig_h, resp_h, resp_p)."""
    http: list[dict[str, Any]] = field(default_factory=list)
    """schema.HTTP rows without the flow identity columns."""
    certs: list[CertSighting] = field(default_factory=list)
    swapped: bool = False
    """The bytes show the flow's originator is the server: facts were read with roles swapped."""
    tunnel: tuple[bytes, bytes] | None = None
    """Bytes after a CONNECT / protocol switch (orig, resp), for the engine to dissect."""

    def merge(self, other: Facts) -> None:
        """Fold another dissection (e.g. of a tunnel's bytes) in; existing values win."""
        for k, v in other.flow.items():
            self.flow.setdefault(k, v)
        self.tls.extend(other.tls)
        self.http.extend(other.http)
        self.certs.extend(other.certs)
