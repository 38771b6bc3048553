"""A capture an attacker shaped to attack the report: HTML/JS payloads in a TLS SNI, an HTTP
request path, Host and User-Agent, on control-plane ports (crafted with scapy, written as pcap).

Flows (client is a pod, 10.244.1.5):
1. → apiserver 10.0.0.10:6443, TLS ClientHello with SNI ``HOSTILE_SNI``.
2. → kubelet 192.168.10.11:10255 (read-only port), ``GET HOSTILE_PATH``, 200 PodList.
3. → kubelet 192.168.10.11:10250 in plain HTTP, ``GET HOSTILE_PATH``, 401.
"""

from __future__ import annotations

from pathlib import Path

from scapy.layers.inet import IP, TCP
from scapy.layers.l2 import Ether
from scapy.layers.tls.extensions import ServerName, TLS_Ext_ServerName
from scapy.layers.tls.handshake import TLSClientHello
from scapy.layers.tls.record import TLS
from scapy.utils import PcapWriter

HOSTILE_SNI = "<script>alert(1)</script>"
HOSTILE_PATH = "/<img/src=x/onerror=alert(1)>"
"""No spaces: a request line is method SP target SP version (RFC 9112 §3); browsers still
parse ``<img/src=x/onerror=...>`` as an image with an onerror handler."""
HOSTILE_UA = "<script>document.title='pwned'</script>"
HOSTILE_HOST = "<b onmouseover=alert(4)>kubelet</b>"

CLIENT = "10.244.1.5"
APISERVER = "10.0.0.10"
KUBELET = "192.168.10.11"


def _session(client: str, cport: int, server: str, sport: int, request: bytes,
             response: bytes, t0: float) -> list[Ether]:
    """One TCP connection: handshake, request, response, FIN both ways (seq/ack consistent)."""
    cs, ss = 1000, 5000
    e = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")
    er = Ether(src="02:00:00:00:00:02", dst="02:00:00:00:00:01")
    c = IP(src=client, dst=server, ttl=64)
    s = IP(src=server, dst=client, ttl=64)
    pkts = [
        e / c / TCP(sport=cport, dport=sport, flags="S", seq=cs),
        er / s / TCP(sport=sport, dport=cport, flags="SA", seq=ss, ack=cs + 1),
        e / c / TCP(sport=cport, dport=sport, flags="A", seq=cs + 1, ack=ss + 1),
        e / c / TCP(sport=cport, dport=sport, flags="PA", seq=cs + 1, ack=ss + 1) / request,
    ]
    cs2 = cs + 1 + len(request)
    if response:
        pkts.append(er / s / TCP(sport=sport, dport=cport, flags="PA", seq=ss + 1, ack=cs2)
                    / response)
    ss2 = ss + 1 + len(response)
    pkts += [
        e / c / TCP(sport=cport, dport=sport, flags="FA", seq=cs2, ack=ss2),
        er / s / TCP(sport=sport, dport=cport, flags="FA", seq=ss2, ack=cs2 + 1),
        e / c / TCP(sport=cport, dport=sport, flags="A", seq=cs2 + 1, ack=ss2 + 1),
    ]
    for i, p in enumerate(pkts):
        p.time = t0 + 0.001 * i
    return pkts


def client_hello(sni: str) -> bytes:
    """SNI → a TLS 1.2 ClientHello record carrying it as the server_name (RFC 6066 §3)."""
    hello = TLSClientHello(version=0x0303, ciphers=[0xC02F, 0xC030, 0x1301], comp=[0],
                           ext=[TLS_Ext_ServerName(servernames=[ServerName(
                               servername=sni.encode())])])
    return bytes(TLS(type=22, version=0x0301, msg=[hello]))


def write_hostile_pcap(path: Path) -> Path:
    """Path → the hostile capture written there (Ethernet, classic pcap, µs)."""
    get = (f"GET {HOSTILE_PATH} HTTP/1.1\r\nHost: {HOSTILE_HOST}\r\n"
           f"User-Agent: {HOSTILE_UA}\r\nAccept: */*\r\n\r\n").encode()
    body = b'{"kind":"PodList","apiVersion":"v1","items":[]}'
    ok = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
          + str(len(body)).encode() + b"\r\n\r\n" + body)
    unauthorized = b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nUnauthorized"
    t0 = 1_793_000_000.0
    pkts = (_session(CLIENT, 40001, APISERVER, 6443, client_hello(HOSTILE_SNI), b"", t0)
            + _session(CLIENT, 40002, KUBELET, 10255, get, ok, t0 + 1)
            + _session(CLIENT, 40003, KUBELET, 10250, get, unauthorized, t0 + 2))
    with PcapWriter(str(path), linktype=1, sync=True) as w:
        for p in pkts:
            w.write(p)
    return path
