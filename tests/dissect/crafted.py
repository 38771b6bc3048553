"""Test helper: craft TCP sessions with scapy and write them as a pcap (for end-to-end tests)."""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.packet import Packet
from scapy.utils import wrpcap


def tcp_session(client: str, server: str, sport: int, dport: int, exchanges: list[tuple[str, bytes]],
                *, t0: float = 1_700_000_000.0) -> list[Packet]:
    """A full TCP connection (handshake, data in the given order, FIN/ACK teardown).

    exchanges: [('c', bytes) or ('s', bytes)] in wire order; each becomes one segment.
    """
    pkts: list[Packet] = []
    cseq, sseq = 1000, 5000
    t = t0

    def mk(src: str, dst: str, sp: int, dp: int, flags: str, seq: int, ack: int,
           data: bytes = b"") -> Packet:
        nonlocal t
        p = Ether() / IP(src=src, dst=dst) / TCP(sport=sp, dport=dp, flags=flags, seq=seq, ack=ack)
        if data:
            p = p / data
        p.time = t
        t += 0.001
        return p

    pkts.append(mk(client, server, sport, dport, "S", cseq, 0))
    pkts.append(mk(server, client, dport, sport, "SA", sseq, cseq + 1))
    cseq += 1
    sseq += 1
    pkts.append(mk(client, server, sport, dport, "A", cseq, sseq))
    for who, data in exchanges:
        if who == "c":
            pkts.append(mk(client, server, sport, dport, "PA", cseq, sseq, data))
            cseq += len(data)
        else:
            pkts.append(mk(server, client, dport, sport, "PA", sseq, cseq, data))
            sseq += len(data)
    pkts.append(mk(client, server, sport, dport, "FA", cseq, sseq))
    pkts.append(mk(server, client, dport, sport, "FA", sseq, cseq + 1))
    pkts.append(mk(client, server, sport, dport, "A", cseq + 1, sseq + 1))
    return pkts


def write(path: Path, sessions: list[list[Packet]]) -> Path:
    """Sessions → one pcap, packets in time order."""
    pkts = sorted((p for s in sessions for p in s), key=lambda p: float(p.time))
    wrpcap(str(path), pkts)
    return path
