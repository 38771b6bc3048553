"""Crafted captures for forensics tests: one connection seen at two capture points.

Point A is the client's node (Ethernet, microsecond pcap); point B the server's node
(Ethernet, nanosecond pcap) whose clock runs ``SKEW`` seconds ahead. Both see the same
kubelet read-only-port request; each also sees a flow the other does not.
"""

from __future__ import annotations

from pathlib import Path

from scapy.layers.dns import DNS, DNSQR
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import PcapWriter

T0 = 1_714_564_800.0
SKEW = 2.5
CLIENT = ("10.0.1.10", 43210)
SERVER = ("10.0.2.20", 10255)
ISN_C = 0x01234567
ISN_S = 0x89ABCDEF
REQUEST = b"GET /pods HTTP/1.1\r\nHost: 10.0.2.20:10255\r\nUser-Agent: curl/8.5.0\r\n\r\n"
RESPONSE = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n"
            b'{"kind":"PodList","items":[]}')


def _conn(mac_c: str, mac_s: str) -> list[tuple[float, Packet]]:
    """The kubelet connection as (seconds after T0, packet) on the wire."""
    c, s = CLIENT, SERVER

    def c2s(flags: str, seq: int, ack: int, data: bytes = b"") -> Packet:
        return (Ether(src=mac_c, dst=mac_s) / IP(src=c[0], dst=s[0], ttl=64)
                / TCP(sport=c[1], dport=s[1], flags=flags, seq=seq, ack=ack, window=64240)
                / data)

    def s2c(flags: str, seq: int, ack: int, data: bytes = b"") -> Packet:
        return (Ether(src=mac_s, dst=mac_c) / IP(src=s[0], dst=c[0], ttl=64)
                / TCP(sport=s[1], dport=c[1], flags=flags, seq=seq, ack=ack, window=65160)
                / data)

    a, b = ISN_C, ISN_S
    q, r = len(REQUEST), len(RESPONSE)
    return [
        (0.000, c2s("S", a, 0)),
        (0.001, s2c("SA", b, a + 1)),
        (0.002, c2s("A", a + 1, b + 1)),
        (0.003, c2s("PA", a + 1, b + 1, REQUEST)),
        (0.004, s2c("A", b + 1, a + 1 + q)),
        (0.010, s2c("PA", b + 1, a + 1 + q, RESPONSE)),
        (0.011, c2s("A", a + 1 + q, b + 1 + r)),
        (0.012, c2s("FA", a + 1 + q, b + 1 + r)),
        (0.013, s2c("FA", b + 1 + r, a + 2 + q)),
        (0.014, c2s("A", a + 2 + q, b + 2 + r)),
    ]


def _write(path: Path, packets: list[tuple[float, Packet]], *, nano: bool) -> None:
    writer = PcapWriter(str(path), linktype=1, nano=nano, sync=True)
    try:
        for t, pkt in sorted(packets, key=lambda x: x[0]):
            pkt.time = T0 + t
            writer.write(pkt)
    finally:
        writer.close()


def write_pair(folder: Path) -> tuple[Path, Path]:
    """folder → (point-a.pcap, point-b.pcap): one shared connection, one flow only at each."""
    mac_c, mac_s = "02:00:00:00:01:10", "02:00:00:00:02:20"
    conn = _conn(mac_c, mac_s)
    # Seen only at A, late enough that both captures overlap in time (two capture points,
    # not one rotated capture).
    dns = [
        (SKEW + 5.0, Ether(src=mac_c) / IP(src=CLIENT[0], dst="10.96.0.10")
         / UDP(sport=5353, dport=53) / DNS(id=7, qd=DNSQR(qname="kubernetes.default.svc"))),
    ]
    # Latency: B (server side) sees client packets 0.2 ms later, server packets 0.2 ms earlier.
    at_b = [(t + SKEW + (0.0002 if p[IP].src == CLIENT[0] else -0.0002), p) for t, p in conn]
    probe = [
        (1.0 + SKEW, Ether(dst=mac_s) / IP(src="10.0.2.30", dst=SERVER[0])
         / TCP(sport=40000, dport=10250, flags="S", seq=77)),
        (1.0001 + SKEW, Ether(src=mac_s) / IP(src=SERVER[0], dst="10.0.2.30")
         / TCP(sport=10250, dport=40000, flags="RA", seq=0, ack=78)),
    ]
    a = folder / "point-a.pcap"
    b = folder / "point-b.pcap"
    _write(a, conn + dns, nano=False)
    _write(b, at_b + probe, nano=True)
    return a, b
