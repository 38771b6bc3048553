"""The explicit list of dissectors and how one is chosen: by sniffing bytes, never by port."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from classifier.dissect import dns, http1, http2, ssh, tls
from classifier.dissect.facts import Facts

log = logging.getLogger("kubewire.dissect")

MIN_CONFIDENCE: Final = 0.5
"""Below this best sniff score a flow is 'unknown' with reason no_match."""
SURE: Final = 0.9
"""At or above this score a flow keeps its protocol name even when its bytes turn out invalid."""
MIN_BYTES: Final = 4
"""Fewer first bytes than this in both directions → 'too_short' instead of 'no_match'."""


@dataclass(frozen=True, slots=True)
class Dissector:
    """One protocol: ``sniff(first_bytes) -> confidence`` and ``dissect_flow(orig, resp)``."""

    name: str
    sniff: Callable[[bytes], float]
    """First bytes of either direction → 0..1; never raises."""
    dissect_flow: Callable[[bytes, bytes], Facts]
    """Both directions' first bytes → Facts; raises ValueError (Malformed) when invalid."""
    reversed: Callable[[bytes, bytes], bool] | None = None
    """(orig, resp) → True when the bytes show the flow's originator is really the server."""
    first_bytes: frozenset[int] | None = None
    """The first bytes ``sniff`` can score above 0 (None: any); ``choose`` skips the rest."""


DISSECTORS: Final[tuple[Dissector, ...]] = (
    Dissector(tls.NAME, tls.sniff, tls.dissect_flow, tls.reversed_roles, tls.FIRST_BYTES),
    Dissector(http1.NAME, http1.sniff, http1.dissect_flow, http1.reversed_roles,
              http1.FIRST_BYTES),
    Dissector(http2.NAME, http2.sniff, http2.dissect_flow, first_bytes=http2.FIRST_BYTES),
    Dissector(ssh.NAME, ssh.sniff, ssh.dissect_flow, first_bytes=ssh.FIRST_BYTES),
    Dissector(dns.NAME, dns.sniff, dns.dissect_flow),
)

_by_first: tuple[tuple[Dissector, ...], list[tuple[Dissector, ...]]] = ((), [])
"""(the DISSECTORS it was built from, the dissectors worth sniffing per first byte)."""


def _candidates(first: int) -> tuple[Dissector, ...]:
    """A first byte → the dissectors whose sniff can match it, in DISSECTORS order."""
    global _by_first
    if _by_first[0] is not DISSECTORS:
        _by_first = (DISSECTORS, [tuple(d for d in DISSECTORS
                                        if d.first_bytes is None or b in d.first_bytes)
                                  for b in range(256)])
    return _by_first[1][first]


def _safe_sniff(d: Dissector, data: bytes) -> float:
    if not data:
        return 0.0
    try:
        return d.sniff(data)
    except Exception:  # a sniff bug must not stop a capture; sniff must never raise
        log.debug("sniff %s raised", d.name, exc_info=True)
        return 0.0


def choose(orig: bytes, resp: bytes) -> tuple[Dissector | None, float]:
    """Both directions' first bytes → the best-sniffing dissector (None below the threshold).

    The originator's bytes count fully, the responder's slightly less (server-first protocols
    and captures that start mid-connection still match). Dissectors whose ``first_bytes``
    exclude a direction's first byte are not asked about it (their sniff would say 0).
    """
    best: Dissector | None = None
    score = 0.0
    if orig:
        for d in _candidates(orig[0]):  # the originator's bytes decide most flows: a sure match ends it
            try:
                s = d.sniff(orig)
            except Exception:  # a sniff bug must not stop a capture; sniff must never raise
                log.debug("sniff %s raised", d.name, exc_info=True)
                s = 0.0
            if s >= SURE:
                return d, s
            if s > score:
                best, score = d, s
    if resp:
        for d in _candidates(resp[0]):
            s = 0.95 * _safe_sniff(d, resp)
            if s > score:
                best, score = d, s
    if score < MIN_CONFIDENCE:
        return None, score
    return best, score


def by_name(name: str) -> Dissector:
    """Protocol name → its dissector (KeyError when not registered)."""
    for d in DISSECTORS:
        if d.name == name:
            return d
    raise KeyError(name)
