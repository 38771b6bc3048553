"""One flow's first bytes → Facts: choose a dissector by sniffing, run it, follow tunnels."""

from __future__ import annotations

import logging
from typing import Final

from classifier.dissect import k8s_payload, registry
from classifier.dissect.facts import Facts, Malformed

log = logging.getLogger("kubewire.dissect")

UNKNOWN: Final = "unknown"
MAX_TUNNEL_DEPTH: Final = 2
"""CONNECT inside an upgraded stream inside CONNECT... stops here (hostile nesting)."""


def _unknown(reason: str) -> Facts:
    return Facts(flow={"app_proto": UNKNOWN, "dissect_error": reason})


def dissect_bytes(orig: bytes, resp: bytes, *, depth: int = 0) -> Facts:
    """Both directions' first bytes → Facts; raises Malformed for invalid bytes of a sniffed
    protocol (the caller records the reason); other protocols yield app_proto 'unknown'."""
    if not orig and not resp:
        return _unknown("no_payload")
    d, score = registry.choose(orig, resp)
    if d is None:
        return _unknown("too_short" if max(len(orig), len(resp)) < registry.MIN_BYTES else "no_match")
    swapped = d.reversed is not None and d.reversed(orig, resp)
    try:
        facts = d.dissect_flow(resp, orig) if swapped else d.dissect_flow(orig, resp)
    except Malformed as exc:
        if score < registry.SURE:
            return _unknown(f"{exc.reason}")
        raise
    if swapped:
        facts.swapped = True
        facts.flow["direction_swapped"] = True
    if facts.tunnel is not None:
        _follow_tunnel(facts, depth)
    if facts.flow.get("app_proto") not in ("tls", "ssh", "dns") and "payload_hint" not in facts.flow:
        facts.flow["payload_hint"] = k8s_payload.join(k8s_payload.hints(orig, resp))
    return facts


def _follow_tunnel(facts: Facts, depth: int) -> None:
    """Dissect the bytes after CONNECT / an upgrade and fold them into the outer facts."""
    assert facts.tunnel is not None
    # RFC 9112 §2.2: tolerate stray empty lines between the HTTP part and what follows
    t_orig, t_resp = (t.lstrip(b"\r\n") for t in facts.tunnel)
    facts.tunnel = None
    if depth >= MAX_TUNNEL_DEPTH or not (t_orig or t_resp):
        return
    if facts.flow.get("tunnel_proto") and facts.flow["tunnel_proto"] != "h2c":
        return  # websocket / SPDY frames: named by the Upgrade header, not dissected further
    sniffed, _ = registry.choose(t_orig, t_resp)
    if sniffed is not None:
        facts.flow["tunnel_proto"] = sniffed.name
    try:
        inner = dissect_bytes(t_orig, t_resp, depth=depth + 1)
    except Malformed as exc:
        facts.flow.setdefault("dissect_error", f"tunnel_{exc.reason}")
        return
    proto = inner.flow.get("app_proto")
    if proto == UNKNOWN:
        return
    outer = facts.flow.get("app_proto")
    facts.flow["tunnel_proto"] = proto
    if outer == "http" and proto in ("http2", "grpc"):
        facts.flow["app_proto"] = proto  # h2c upgrade (RFC 7540 §3.2)
        base = len(facts.http)
        upgrade = facts.http[-1] if facts.http else {}
        for row in inner.http:
            if row.get("method") is None:  # stream 1 answers the upgraded HTTP/1.1 request
                for k in ("method", "host", "uri", "query", "user_agent", "auth_kind",
                          "auth_fingerprint"):
                    row[k] = upgrade.get(k)
        for i, row in enumerate(inner.http):
            row["trans_depth"] = base + i + 1
        inner.flow.pop("http_requests", None)
        facts.flow["http_requests"] = base + len(inner.http)
    inner.flow.pop("app_proto", None)
    if inner.flow.get("dissect_error") is None:
        inner.flow.pop("dissect_error", None)
    facts.merge(inner)
