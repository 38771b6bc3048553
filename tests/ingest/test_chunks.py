"""Chunk boundaries: any chunk size yields the same records (remainders carried between the
two alternating buffers, resync across a boundary, SHA-256 over every byte)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from classifier.ingest.reader import CaptureReader
from tests.conftest import ZOO
from tests.ingest import craft


def _records(path: Path, chunk: int) -> tuple[list[tuple[int, int, int, bytes]], str]:
    r = CaptureReader(str(path), chunk=chunk)
    out = []
    for b in r.batches():
        for k in range(len(b)):
            o, cl = int(b.off[k]), int(b.caplen[k])
            out.append((int(b.frame[k]), int(b.ts[k]), int(b.reason[k]),
                        bytes(b.buf[o:o + cl])))
    return out, r.sha256


def _damaged(tmp_path: Path) -> Path:
    frames = [(1_700_000_000.0 + i, bytes(Ether() / IP() / TCP(seq=i) / (b"p" * (i * 37 % 900))))
              for i in range(60)]
    body = craft.pcap_bytes(frames[:30]) + b"\x00\xff" * 41 + craft.pcap_bytes(frames[30:])[24:]
    p = tmp_path / "d.pcap"
    p.write_bytes(body[:-7])
    return p


@pytest.mark.parametrize("chunk", [64, 1000, 4099])
def test_chunk_size_does_not_change_records(tmp_path: Path, chunk: int) -> None:
    paths = [_damaged(tmp_path)]
    for name in ("zeek/pcapng-multi-interface.pcapng", "ptcpdump/curl-user.pcapng",
                 "zeek/reassembly.pcap"):
        if (ZOO / name).exists():
            paths.append(ZOO / name)
    for p in paths:
        want, sha = _records(p, 8 << 20)
        got, sha_small = _records(p, chunk)
        assert got == want, p
        assert sha == sha_small == hashlib.sha256(p.read_bytes()).hexdigest()
