"""PcapngWriter: tshark reads what we write (link types, ns timestamps, comments, bytes)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import dpkt
import pytest
from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether

from classifier.forensics.pcapng import InterfaceSpec, PcapngWriter, option
from tests import tshark as ts

T = 1_714_564_800_123_456_789  # ns: sub-microsecond digits must survive


def _packets() -> list[tuple[InterfaceSpec, int, bytes, int, str]]:
    eth = bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
                / IP(src="10.0.0.1", dst="10.0.0.5") / TCP(sport=50000, dport=10250, flags="S"))
    raw = bytes(IP(src="10.0.0.5", dst="10.0.0.1") / TCP(sport=10250, dport=50000, flags="SA"))
    big = bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.5") / TCP(sport=1, dport=2)
                / (b"x" * 1001))
    e = InterfaceSpec(linktype=1, name="a.pcap:eth0", description="a.pcap interface 0")
    r = InterfaceSpec(linktype=101, name="b.pcapng:tun0")
    return [(e, T, eth, len(eth), "first"), (r, T + 1, raw, len(raw), "second ünïcode"),
            (e, T + 2, big[:100], len(big), "truncated record keeps orig_len")]


def _write(path: Path) -> None:
    with path.open("wb") as fh:
        w = PcapngWriter(fh, comments=["input sha256=abc size=1 path=a.pcap"],
                         userappl="kubewire test")
        for spec, t, data, orig, note in _packets():
            w.packet(w.interface(spec), t, data, orig, [note])
        assert w.packets == 3


def test_option_padding() -> None:
    assert option(1, b"abc") == b"\x01\x00\x03\x00abc\x00"
    assert len(option(1, b"x" * 70000)) == 4 + 65535 + 1


def test_tshark_reads_written_file(tmp_path: Path, tshark: str) -> None:
    out = tmp_path / "e.pcapng"
    _write(out)
    rows = ts.fields(out, ["frame.len", "frame.cap_len", "frame.time_epoch", "frame.comment",
                           "frame.interface_name", "ip.src"])
    assert len(rows) == 3
    assert [r[0] for r in rows] == [str(p[3]) for p in _packets()]
    assert [r[1] for r in rows] == [str(len(p[2])) for p in _packets()]
    assert rows[0][2] == "1714564800.123456789"
    assert rows[1][2] == "1714564800.123456790"
    assert [r[3] for r in rows] == [p[4] for p in _packets()]
    assert [r[4] for r in rows] == ["a.pcap:eth0", "b.pcapng:tun0", "a.pcap:eth0"]
    assert rows[1][5] == "10.0.0.5"


def test_bytes_round_trip(tmp_path: Path) -> None:
    out = tmp_path / "e.pcapng"
    _write(out)
    reader = dpkt.pcapng.Reader(io.BytesIO(out.read_bytes()))
    assert [bytes(buf) for _, buf in reader] == [p[2] for p in _packets()]


def test_section_header_seen_by_capinfos(tmp_path: Path, tshark: str) -> None:
    capinfos = shutil.which("capinfos")
    if capinfos is None:
        pytest.skip("capinfos not installed")
    out = tmp_path / "e.pcapng"
    _write(out)
    info = subprocess.run([capinfos, str(out)], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    assert "Capture application: kubewire test" in info
    assert "Capture comment:     input sha256=abc size=1 path=a.pcap" in info
    assert "nanoseconds (9)" in info and "Number of interfaces in file: 2" in info
