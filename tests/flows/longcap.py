"""A ten-minute crafted capture whose flows finish all along, and the settings that make the
flow stage hand finished flows on after every small batch (tests of FlowStream and streaming)."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from scapy.layers.inet import IP, UDP
from scapy.layers.l2 import Ether

import classifier.flows.reading as flows_pkg
from classifier.ingest.reader import CaptureReader
from tests.flows.test_assemble import T0, C, S, session, tcp
from tests.ingest import craft


def _dns(sp: int, t: float) -> list[tuple[float, bytes]]:
    q = bytes(Ether() / IP(src=C, dst=S) / UDP(sport=sp, dport=53) / b"query")
    a = bytes(Ether() / IP(src=S, dst=C) / UDP(sport=53, dport=sp) / b"answer")
    return [(t, q), (t + 0.002, a)]


def long_capture(tmp_path: Path) -> Path:
    """Ten minutes: a session every 2 s (client ports reused every 100 s), a DNS exchange every
    3 s (ports reused every 90 s), one connection alive throughout, a stray ACK 30 s and a
    stray RST 65 s after a close."""
    recs: list[tuple[float, bytes]] = []
    for i in range(300):
        recs += session(cport=41000 + i % 50, cisn=1000 + 7919 * i, sisn=5000 + 104729 * i,
                        t=T0 + 2 * i, req=b"GET /%d HTTP/1.1\r\n\r\n" % i)
    for i in range(200):
        recs += _dns(30000 + i % 30, T0 + 3 * i + 0.5)
    for i in range(21):  # never closed: stays in the table to the end
        recs.append((T0 + 30 * i + 0.25, tcp(C, S, 50000, 6443, "PA", 10 + 4 * i, 1, b"ping")))
    recs.append((T0 + 4 + 0.008 + 30, tcp(C, S, 41002, 80, "A", 1, 1)))  # joins session 2
    recs.append((T0 + 6 + 0.008 + 65, tcp(C, S, 41003, 80, "R", 1, 1)))  # a new flow
    recs.sort(key=lambda r: r[0])
    return craft.write_pcap(tmp_path / "long.pcap", recs)


def hand_on_often(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small chunks, a look for finished flows after every batch, any number handed on."""
    monkeypatch.setattr(flows_pkg, "CaptureReader", functools.partial(CaptureReader, chunk=4096))
    monkeypatch.setattr(flows_pkg, "FINISH_LOOK_PACKETS", 1)
    monkeypatch.setattr(flows_pkg, "FINISH_MIN_FLOWS", 1)
