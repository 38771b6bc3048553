"""Link types, VLANs, IP options/extension headers, fragments, protocols, overlays."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from scapy.layers.inet import GRE, ICMP, IP, TCP, UDP, IPOption_NOP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrDestOpt, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop
from scapy.layers.l2 import ARP, CookedLinux, Dot1AD, Dot1Q, Ether
from scapy.layers.vxlan import VXLAN
from scapy.packet import Packet

from classifier.flows import assemble
from tests.ingest import craft
from tests.ingest.accounting import balanced

T0 = 1_700_000_000.0
TCP_PKT = IP(src="10.0.0.1", dst="10.0.0.2") / TCP(sport=40000, dport=6443, flags="S")
TCP6_PKT = IPv6(src="fd00::1", dst="fd00::2") / TCP(sport=40000, dport=6443, flags="S")


def _one(tmp_path: Path, frame: bytes, linktype: int = 1) -> tuple[dict[str, int], object]:
    p = craft.write_pcap(tmp_path / "x.pcap", [(T0, frame)], linktype=linktype)
    a = assemble([str(p)])
    return balanced(a), a.flows


def _sll2(inner: Packet, proto: int) -> bytes:
    # Linux cooked v2 (https://www.tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.html)
    return struct.pack("!HHIHBB8s", proto, 0, 3, 1, 0, 6, b"\x02" * 6 + b"\0\0") + bytes(inner)


@pytest.mark.parametrize(("linktype", "frame"), [
    (1, bytes(Ether() / TCP_PKT)),
    (113, bytes(CookedLinux(proto=0x0800) / TCP_PKT)),
    (276, _sll2(TCP_PKT, 0x0800)),
    (276, _sll2(TCP6_PKT, 0x86DD)),
    (0, struct.pack("<I", 2) + bytes(TCP_PKT)),        # BSD NULL, little-endian host
    (0, struct.pack(">I", 30) + bytes(TCP6_PKT)),      # BSD NULL, big-endian host, IPv6
    (108, struct.pack(">I", 2) + bytes(TCP_PKT)),      # OpenBSD LOOP
    (12, bytes(TCP_PKT)), (14, bytes(TCP_PKT)), (101, bytes(TCP6_PKT)),
    (228, bytes(TCP_PKT)), (229, bytes(TCP6_PKT)),
])
def test_every_link_type(tmp_path: Path, linktype: int, frame: bytes) -> None:
    reasons, flows = _one(tmp_path, frame, linktype)
    assert reasons == {"tcp": 1}
    assert flows.iloc[0]["resp_p"] == 6443  # type: ignore[attr-defined]
    assert flows.iloc[0]["conn_state"] == "S0"  # type: ignore[attr-defined]


def test_unsupported_link_type(tmp_path: Path) -> None:
    reasons, _ = _one(tmp_path, b"\0" * 40, linktype=147)
    assert reasons == {"unsupported_link_type": 1}


@pytest.mark.parametrize(("frame", "vlan"), [
    (bytes(Ether() / Dot1Q(vlan=100) / TCP_PKT), "100"),
    (bytes(Ether() / Dot1AD(vlan=13) / Dot1Q(vlan=10) / TCP_PKT), "13.10"),
    (bytes(Ether() / Dot1Q(vlan=0) / TCP_PKT), "0"),
])
def test_vlan_tags(tmp_path: Path, frame: bytes, vlan: str) -> None:
    reasons, flows = _one(tmp_path, frame)
    assert reasons == {"tcp": 1}
    assert flows.iloc[0]["vlan"] == vlan  # type: ignore[attr-defined]


def test_ip_options_and_ipv6_extension_headers(tmp_path: Path) -> None:
    v4 = Ether() / IP(src="10.0.0.1", dst="10.0.0.2", options=[IPOption_NOP()] * 4) / TCP(
        dport=80, flags="PA") / b"hello"
    v6 = Ether() / IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrHopByHop() / \
        IPv6ExtHdrDestOpt() / UDP(sport=1, dport=53) / b"q"
    atomic = Ether() / IPv6(src="fd00::1", dst="fd00::3") / IPv6ExtHdrFragment(m=0, offset=0) / \
        UDP(sport=1, dport=53) / b"q"
    p = craft.write_pcap(tmp_path / "o.pcap", [(T0, bytes(v4)), (T0, bytes(v6)),
                                               (T0, bytes(atomic))])
    a = assemble([str(p)])
    assert balanced(a) == {"tcp": 1, "udp": 2}
    tcp = a.flows[a.flows["proto"] == "tcp"].iloc[0]
    assert tcp["orig_payload"] == b"hello" and tcp["orig_ip_bytes"] == 24 + 20 + 5


def test_fragments_are_counted_not_dropped(tmp_path: Path) -> None:
    from scapy.layers.inet import fragment

    big = IP(src="10.0.0.1", dst="10.0.0.2", id=7) / UDP(sport=9, dport=4000) / (b"z" * 3000)
    frags = [bytes(Ether() / f) for f in fragment(big, fragsize=1000)]
    v6 = bytes(Ether() / IPv6(src="fd00::1", dst="fd00::2") / IPv6ExtHdrFragment(m=1) /
               UDP(sport=1, dport=2) / b"x")
    p = craft.write_pcap(tmp_path / "f.pcap", [(T0, f) for f in [*frags, v6]])
    a = assemble([str(p)])
    assert balanced(a) == {"ipv4_fragment": len(frags), "ipv6_fragment": 1}
    assert len(a.flows) == 0


def test_other_protocols_counted_by_name(tmp_path: Path) -> None:
    frames = [bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2") / ICMP()),
              bytes(Ether() / ARP()),
              bytes(Ether(type=0x88CC) / (b"\0" * 20)),
              bytes(Ether(type=0x1234) / (b"\0" * 20)),
              bytes(Ether() / IP(src="10.0.0.1", dst="10.0.0.2", proto=132) / (b"\0" * 12))]
    p = craft.write_pcap(tmp_path / "p.pcap", [(T0, f) for f in frames])
    a = assemble([str(p)])
    assert balanced(a) == {"icmp": 1, "arp": 1, "lldp": 1, "non_ip": 1, "sctp": 1}
    assert set(a.stats["outcome"].astype(str)) == {"out_of_scope"}


def _geneve(vni: int, inner: Packet) -> bytes:
    # RFC 8926 §3.4: ver 0, no options, protocol 0x6558 (Ethernet), VNI
    return struct.pack("!BBH", 0, 0, 0x6558) + struct.pack("!I", vni << 8) + bytes(inner)


INNER = Ether() / IP(src="10.244.1.5", dst="10.244.2.7") / TCP(sport=51000, dport=10250,
                                                                flags="S")


@pytest.mark.parametrize(("outer", "tunnel", "tid"), [
    (Ether() / IP(src="192.168.0.1", dst="192.168.0.2") / UDP(sport=33000, dport=4789)
     / VXLAN(vni=42) / INNER, "vxlan", 42),
    (Ether() / IP(src="192.168.0.1", dst="192.168.0.2") / UDP(sport=33000, dport=8472)
     / VXLAN(vni=1) / INNER, "vxlan", 1),
    (Ether() / IP(src="192.168.0.1", dst="192.168.0.2") / UDP(sport=33000, dport=6081)
     / _geneve(77, INNER), "geneve", 77),
    (Ether() / IP(src="192.168.0.1", dst="192.168.0.2", proto=4) / INNER[IP], "ipip", None),
    (Ether() / IP(src="192.168.0.1", dst="192.168.0.2", proto=41)
     / IPv6(src="fd00::5", dst="fd00::7") / TCP(sport=51000, dport=10250, flags="S"),
     "ipip", None),
    (Ether() / IP(src="192.168.0.1", dst="192.168.0.2") / GRE(proto=0x0800) / INNER[IP],
     "gre", None),
])
def test_overlays_are_decapsulated(tmp_path: Path, outer: Packet, tunnel: str,
                                   tid: int | None) -> None:
    reasons, flows = _one(tmp_path, bytes(outer))
    assert reasons == {"tcp": 1}
    row = flows.iloc[0]  # type: ignore[attr-defined]
    assert row["resp_p"] == 10250 and row["orig_h"] in ("10.244.1.5", "fd00::5")
    assert row["tunnel"] == tunnel
    assert (row["tunnel_orig_h"], row["tunnel_resp_h"]) == ("192.168.0.1", "192.168.0.2")
    assert (None if row["tunnel_id"] is None or str(row["tunnel_id"]) == "<NA>"
            else int(row["tunnel_id"])) == tid


def test_vxlan_reply_direction_joins_the_same_flow(tmp_path: Path) -> None:
    syn = Ether() / IP(src="192.168.0.1", dst="192.168.0.2") / UDP(dport=8472) / VXLAN(vni=1) / \
        INNER
    synack = Ether() / IP(src="192.168.0.2", dst="192.168.0.1") / UDP(dport=8472) / \
        VXLAN(vni=1) / Ether() / IP(src="10.244.2.7", dst="10.244.1.5") / TCP(
            sport=10250, dport=51000, flags="SA")
    p = craft.write_pcap(tmp_path / "v.pcap", [(T0, bytes(syn)), (T0 + 0.001, bytes(synack))])
    a = assemble([str(p)])
    assert balanced(a) == {"tcp": 2}
    assert len(a.flows) == 1
    row = a.flows.iloc[0]
    assert (row["orig_pkts"], row["resp_pkts"], row["history"]) == (1, 1, "Sh")
