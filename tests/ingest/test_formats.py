"""Capture formats: classic pcap (byte orders, resolutions, snaplen), pcapng blocks, gzip, stdin."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether

from classifier.flows import assemble
from classifier.ingest import iter_records
from tests.ingest import craft
from tests.ingest.accounting import balanced

T0 = 1_700_000_000.25


def _tcp(sport: int = 40000, dport: int = 443, flags: str = "S", seq: int = 1000,
         load: bytes = b"", src: str = "10.0.0.1", dst: str = "10.0.0.2") -> bytes:
    return bytes(Ether() / IP(src=src, dst=dst) / TCP(sport=sport, dport=dport, flags=flags,
                                                       seq=seq) / load)


def _udp() -> bytes:
    return bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.53") / UDP(sport=5353, dport=53) / b"q")


@pytest.mark.parametrize("big_endian", [False, True])
@pytest.mark.parametrize("nanos", [False, True])
def test_classic_pcap_byte_orders_and_resolutions(tmp_path: Path, big_endian: bool,
                                                  nanos: bool) -> None:
    p = craft.write_pcap(tmp_path / "a.pcap", [(T0, _tcp()), (T0 + 0.000001, _udp())],
                         big_endian=big_endian, nanos=nanos)
    a = assemble([str(p)])
    assert balanced(a) == {"tcp": 1, "udp": 1}
    assert a.inputs.loc[0, "format"] == ("pcap-ns" if nanos else "pcap")
    assert a.inputs.loc[0, "first_ts"] == pd.Timestamp(1_700_000_000_250_000_000, unit="ns", tz="UTC")
    assert a.inputs.loc[0, "link_types"] == "ethernet"
    assert sorted(a.flows["proto"].astype(str)) == ["tcp", "udp"]


def test_small_snaplen_still_decodes_ports(tmp_path: Path) -> None:
    p = craft.write_pcap(tmp_path / "s.pcap", [(T0, _tcp(flags="PA", load=b"x" * 500))],
                         snaplen=60)
    a = assemble([str(p)])
    assert balanced(a) == {"tcp": 1}
    row = a.flows.iloc[0]
    assert row["resp_p"] == 443 and row["orig_bytes"] == 500
    assert row["orig_payload"] == b"x" * 6  # 60 - 14 - 20 - 20 bytes were captured


@pytest.mark.parametrize("e", ["<", ">"])
def test_pcapng_interfaces_blocks_and_resolutions(tmp_path: Path, e: str) -> None:
    raw = bytes(IP(src="10.1.0.1", dst="10.1.0.2") / UDP(sport=1000, dport=2000) / b"r")
    ns = int(T0 * 1e9)
    data = (craft.shb(e)
            + craft.idb(1, e=e, tsresol=9, name="eth0")       # Ethernet, nanoseconds
            + craft.idb(101, e=e, tsresol=0x80 | 20, name="tun0")  # raw IP, 2^-20 s
            + craft.epb(0, ns, _tcp(), e=e)
            + craft.unknown_block(e=e)
            + craft.epb(1, int(T0 * (1 << 20)), raw, e=e)
            + craft.opb(0, ns + 5, _udp(), e=e)
            + craft.spb(_tcp(flags="A", seq=1001), e=e)
            + craft.epb(7, ns, _udp(), e=e))              # no interface 7
    p = tmp_path / "a.pcapng"
    p.write_bytes(data)
    a = assemble([str(p)])
    reasons = balanced(a)
    assert reasons == {"tcp": 2, "udp": 2, "pcapng_unknown_block": 1,
                       "pcapng_bad_interface_id": 1}
    assert a.inputs.loc[0, "format"] == "pcapng"
    assert a.inputs.loc[0, "link_types"] == "ethernet,raw"
    assert a.inputs.loc[0, "first_ts"].value == pytest.approx(ns, abs=1000)
    names = {r.interface_name for r in iter_records(str(p))}
    assert names == {"eth0", "tun0", ""}  # "" for the record naming no known interface


def test_iter_records_gives_original_bytes_and_frame_numbers(tmp_path: Path) -> None:
    frames = [_tcp(), _udp(), _tcp(flags="A", seq=1001)]
    p = craft.write_pcap(tmp_path / "r.pcap", [(T0 + i, f) for i, f in enumerate(frames)])
    recs = list(iter_records(str(p)))
    assert [r.frame for r in recs] == [1, 2, 3]
    assert [r.data for r in recs] == frames
    assert recs[1].ts_ns == 1_700_000_001_250_000_000 and recs[0].linktype == 1


def test_gzip_and_stdin(tmp_path: Path) -> None:
    body = craft.pcap_bytes([(T0, _tcp()), (T0 + 1, _udp())])
    gz = tmp_path / "a.pcap.gz"
    gz.write_bytes(gzip.compress(body))
    a = assemble([str(gz)])
    assert balanced(a) == {"tcp": 1, "udp": 1}
    assert a.inputs.loc[0, "format"] == "pcap+gzip"
    assert a.inputs.loc[0, "size"] == gz.stat().st_size
    code = ("import sys; from classifier.flows import assemble; a = assemble(['-']); "
            "print(len(a.flows), int(a.inputs['size'][0]))")
    out = subprocess.run([sys.executable, "-c", code], input=body, capture_output=True,
                         check=True, timeout=120)
    assert out.stdout.decode().split() == ["2", str(len(body))]


def test_sha256_covers_every_byte(tmp_path: Path) -> None:
    import hashlib

    p = craft.write_pcap(tmp_path / "h.pcap", [(T0 + i, _tcp(seq=i)) for i in range(50)])
    a = assemble([str(p)])
    assert a.inputs.loc[0, "sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    assert a.inputs.loc[0, "packets"] == 50
