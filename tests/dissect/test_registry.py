"""classifier.dissect.registry: choosing a dissector by sniffing; the first-byte shortcut
never changes a choice."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier.dissect import registry
from classifier.flows import assemble

ROOT = Path(__file__).resolve().parents[2]
SHAPES = [b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00", b"\x17\x03\x03\x00\x10", b"\x80\x2e\x01",
          b"GET / HTTP/1.1\r\n", b"HTTP/1.1 200 OK\r\n", b"PROPFIND / HTTP/1.1", b"SSH-2.0-x",
          b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", b"\x00\x00\x12\x04\x00\x00\x00\x00\x00",
          b"\x00\x00\x10\x01\x04\x00\x00\x00\x01", b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00"
          b"\x00\x00\x03www\x00\x00\x01\x00\x01"]


def _reference(orig: bytes, resp: bytes) -> tuple[registry.Dissector | None, float]:
    """choose() without the shortcut: every dissector sniffs both directions."""
    best, score = None, 0.0
    if orig:
        for d in registry.DISSECTORS:
            s = registry._safe_sniff(d, orig)
            if s >= registry.SURE:
                return d, s
            if s > score:
                best, score = d, s
    if resp:
        for d in registry.DISSECTORS:
            s = 0.95 * registry._safe_sniff(d, resp)
            if s > score:
                best, score = d, s
    return (None, score) if score < registry.MIN_CONFIDENCE else (best, score)


@pytest.mark.parametrize("d", [d for d in registry.DISSECTORS if d.first_bytes is not None],
                         ids=lambda d: d.name)
def test_sniff_says_zero_for_every_other_first_byte(d: registry.Dissector) -> None:
    assert d.first_bytes is not None
    for b in sorted(set(range(256)) - d.first_bytes):
        for shape in SHAPES:
            assert d.sniff(bytes([b]) + shape[1:]) == 0.0, (d.name, b, shape)
            assert d.sniff(bytes([b])) == 0.0


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([b"", *SHAPES]), st.binary(max_size=40), st.sampled_from([b"", *SHAPES]),
       st.binary(max_size=40), st.integers(0, 255))
def test_choice_equals_sniffing_everything(p1: bytes, t1: bytes, p2: bytes, t2: bytes,
                                           first: int) -> None:
    orig = bytes([first]) + p1[1:] + t1 if p1 else t1
    resp = p2 + t2
    assert registry.choose(orig, resp) == _reference(orig, resp)


def test_choice_equals_sniffing_everything_on_the_bundled_captures() -> None:
    captures = sorted(str(p) for p in (ROOT / "captures").glob("*.pcap*"))
    pairs = [pair for c in captures for pair in zip(
        *(assemble([c]).flows[k] for k in ("orig_payload", "resp_payload")), strict=True)]
    assert len(pairs) > 100
    for o, r in pairs:
        assert registry.choose(o, r) == _reference(o, r)
