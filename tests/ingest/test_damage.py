"""Hostile input: never crash, never allocate a claimed length, report the damage."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from classifier.errors import CaptureError, MalformedPacketError
from classifier.flows import assemble
from tests.ingest import craft
from tests.ingest.accounting import balanced

T0 = 1_700_000_000.0


def _frames(n: int) -> list[tuple[float, bytes]]:
    return [(T0 + i, bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2")
                           / TCP(sport=40000, dport=443, flags="A", seq=100 + i) / b"data"))
            for i in range(n)]


def test_truncated_last_record(tmp_path: Path) -> None:
    body = craft.pcap_bytes(_frames(5))
    p = tmp_path / "t.pcap"
    p.write_bytes(body[:-10])
    a = assemble([str(p)])
    assert balanced(a) == {"tcp": 4, "truncated_record": 1}
    with pytest.raises(MalformedPacketError, match="truncated_record"):
        assemble([str(p)], strict=True)


def test_garbage_in_the_middle_resyncs(tmp_path: Path) -> None:
    recs = _frames(10)
    head = craft.pcap_bytes(recs[:5])
    tail = craft.pcap_bytes(recs[5:])[24:]
    p = tmp_path / "g.pcap"
    p.write_bytes(head + b"\xff" * 37 + tail)
    a = assemble([str(p)])
    reasons = balanced(a)
    assert reasons["corrupt_record_header"] == 1
    assert reasons["tcp"] == 10
    with pytest.raises(MalformedPacketError) as exc:
        assemble([str(p)], strict=True)
    assert exc.value.frame == 6 and exc.value.reason == "corrupt_record_header"


def test_bogus_4gb_record_length(tmp_path: Path) -> None:
    body = craft.pcap_bytes(_frames(3))
    bogus = struct.pack("<IIII", int(T0) + 9, 0, 0xFFFFFFF0, 0xFFFFFFF0) + b"\0" * 64
    p = tmp_path / "b.pcap"
    p.write_bytes(body + bogus)
    a = assemble([str(p)])
    assert balanced(a) == {"tcp": 3, "corrupt_record_header": 1}


def test_corrupt_pcapng_block_resyncs(tmp_path: Path) -> None:
    f = _frames(3)
    data = (craft.shb() + craft.idb(1, tsresol=6) + craft.epb(0, 1, f[0][1])
            + b"\x06\x00\x00\x00\xff\xff\xff\x7f" + b"\x00" * 16
            + craft.epb(0, 2, f[1][1]) + craft.epb(0, 3, f[2][1]))
    p = tmp_path / "c.pcapng"
    p.write_bytes(data)
    assert balanced(assemble([str(p)])) == {"tcp": 3, "corrupt_record_header": 1}


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty file"),
    (b"GET / HTTP/1.1\r\n\r\n" * 3, "not a pcap or pcapng"),
    (b"\xd4\xc3\xb2\xa1\x02\x00", "truncated pcap file header"),
])
def test_not_a_capture(tmp_path: Path, content: bytes, message: str) -> None:
    p = tmp_path / "x.pcap"
    p.write_bytes(content)
    with pytest.raises(CaptureError, match=message) as exc:
        assemble([str(p)])
    assert str(p) in str(exc.value)


def test_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(CaptureError, match="no such file"):
        assemble([str(tmp_path / "nope.pcap")])
    with pytest.raises(CaptureError, match="directory"):
        assemble([str(tmp_path)])


def test_header_only_file_is_empty_not_an_error(tmp_path: Path) -> None:
    p = craft.write_pcap(tmp_path / "e.pcap", [])
    a = assemble([str(p)])
    assert len(a.flows) == 0 and len(a.stats) == 0
    assert int(a.inputs.loc[0, "packets"]) == 0
    assert list(a.flows.columns)[:3] == ["uid", "ts", "duration"]
