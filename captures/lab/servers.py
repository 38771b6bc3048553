"""Small real servers for pods and components: pod web app, CoreDNS-like DNS, NTP, and the
legacy plaintext scheduler/controller-manager metrics ports.

`python -m captures.lab.servers KIND IP PORT` inside the right namespace.
"""

from __future__ import annotations

import socket
import struct
import sys
import time

from captures.lab import wire
from captures.lab.serving import serve


class Web(wire.QuietHandler):
    """A pod's HTTP app (nginx-like) on its containerPort."""

    def do_GET(self) -> None:
        page = (b"<!DOCTYPE html><html><head><title>Welcome to nginx!</title></head>"
                b"<body><h1>Welcome to nginx!</h1></body></html>\n")
        self.send_bytes(200, page, "text/html", [("Server", "nginx/1.25.3")])


class Metrics(wire.QuietHandler):
    """Legacy insecure component port: /metrics and /healthz in plain HTTP."""

    def do_GET(self) -> None:
        if self.path.startswith("/healthz"):
            self.send_bytes(200, b"ok", "text/plain; charset=utf-8")
            return
        self.send_bytes(200, b"# HELP scheduler_pending_pods Number of pending pods\n"
                             b"# TYPE scheduler_pending_pods gauge\n"
                             b"scheduler_pending_pods{queue=\"active\"} 0\n",
                        "text/plain; version=0.0.4; charset=utf-8")


def dns(ip: str, port: int, answers: dict[str, str]) -> None:
    """Answer A queries for cluster names (RFC 1035 §4.1), NXDOMAIN otherwise."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))
    while True:
        data, peer = s.recvfrom(4096)
        if len(data) < 12:
            continue
        qid = struct.unpack(">H", data[:2])[0]
        i, labels = 12, []
        while i < len(data) and data[i]:
            labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace"))
            i += 1 + data[i]
        question = data[12:i + 5]
        name = ".".join(labels).lower()
        addr = answers.get(name)
        flags = 0x8580 if addr else 0x8583
        resp = struct.pack(">HHHHHH", qid, flags, 1, 1 if addr else 0, 0, 0) + question
        if addr:
            resp += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 30, 4) + socket.inet_aton(addr)
        s.sendto(resp, peer)


def ntp(ip: str, port: int) -> None:
    """An NTP server answering mode-3 requests with mode-4 replies (RFC 5905 §7.3)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((ip, port))
    while True:
        data, peer = s.recvfrom(1024)
        if len(data) < 48:
            continue
        now = time.time() + 2208988800  # NTP era 0 starts 1900-01-01
        ts = struct.pack(">II", int(now), int((now % 1) * 2**32))
        resp = bytes([0x24, 3, data[2], 0xE9]) + struct.pack(">II", 0, 0x10) + b"LOCL" + ts + \
            data[40:48] + ts + ts
        s.sendto(resp, peer)


def main(argv: list[str]) -> None:
    kind, ip, port = argv[1], argv[2], int(argv[3])
    if kind == "web":
        serve(ip, port, Web, None)
    elif kind == "metrics":
        serve(ip, port, Metrics, None)
    elif kind == "dns":
        answers = dict(a.split("=") for a in argv[4:])
        dns(ip, port, answers)
    elif kind == "ntp":
        ntp(ip, port)
    print(f"{kind} ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv)
