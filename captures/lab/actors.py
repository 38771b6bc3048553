"""Clients of the lab, each one connection from a fixed source port so labels are exact.

`python -m captures.lab.actors KIND 'JSON-ARGS'` inside the client's namespace. Kinds:
http (one connection, a sequence of requests, optionally repeated every `interval` seconds —
the kubelet's 10 s lease cadence), watch (a long-lived watch), exec (SPDY upgrade then
SPDY frames), scan (TCP connect sweep), ntp, etcd (gRPC Range dump over h2).
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import struct
import sys
import time
from typing import Any

from captures.lab import wire
from captures.lab.etcd_grpc import EtcdClient, prefix_end


def _connect(a: dict[str, Any]) -> socket.socket | ssl.SSLSocket:
    src = (a["src"][0], a["src"][1]) if a.get("src") else None
    s = wire.dial(a["ip"], a["port"], src=src, timeout=a.get("timeout", 10))
    if a.get("tls") is not None:
        ctx = wire.client_context(a["tls"], cert=a.get("cert"), key=a.get("key"), ca=a.get("ca"),
                                  alpn=a.get("alpn", ["h2", "http/1.1"]))
        s = ctx.wrap_socket(s, server_hostname=a.get("sni"))
    return s


def _headers(a: dict[str, Any], r: dict[str, Any]) -> list[tuple[str, str]]:
    h = [("Host", a.get("host", f"{a['ip']}:{a['port']}")), ("User-Agent", a.get("ua", wire.UA_GO))]
    h += [(k, v) for k, v in r.get("headers", [])]
    if a.get("token"):
        h.append(("Authorization", f"Bearer {a['token']}"))
    if a.get("basic"):
        h.append(("Authorization", f"Basic {a['basic']}"))
    h.append(("Accept-Encoding", "gzip"))
    return h


def http(a: dict[str, Any]) -> None:
    s = _connect(a)
    t0 = time.time()
    rounds = 0
    while True:
        for r in a["requests"]:
            body = r.get("body", "").encode()
            if r.get("lease"):
                body = wire.lease_protobuf(r["lease"], time.strftime("%Y-%m-%dT%H:%M:%S.000000Z",
                                                                     time.gmtime()))
            s.sendall(wire.request_bytes(r.get("method", "GET"), r["path"], _headers(a, r), body))
            code, _h, data = wire.read_response(s)
            print(f"{r.get('method', 'GET')} {r['path']} -> {code} ({len(data)} bytes)", flush=True)
        rounds += 1
        if not a.get("interval") or time.time() - t0 + a["interval"] > a.get("duration", 0):
            break
        time.sleep(a["interval"] - ((time.time() - t0) % a["interval"]))
        a["requests"] = a.get("repeat", a["requests"])
    s.close()


def watch(a: dict[str, Any]) -> None:
    s = _connect(a)
    s.sendall(wire.request_bytes("GET", a["path"], _headers(a, {"headers": [
        ("Accept", "application/json")]})))
    s.settimeout(1)
    end = time.time() + a["duration"]
    while time.time() < end:
        try:
            if not s.recv(65536):
                break
        except (TimeoutError, ssl.SSLError, OSError):
            continue
    s.close()


def exec_(a: dict[str, Any]) -> None:
    s = _connect(a)
    hdrs = _headers(a, {"headers": [("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
                                    ("X-Stream-Protocol-Version", a.get("proto", "v4.channel.k8s.io"))]})
    s.sendall(wire.request_bytes("POST", a["path"], hdrs))
    code, _h, _rest = wire.read_response(s)
    print(f"upgrade -> {code}", flush=True)
    if code == 101:
        if a.get("portforward"):
            streams = [(1, [("streamtype", "error"), ("port", "8080"), ("requestid", "0")]),
                       (3, [("streamtype", "data"), ("port", "8080"), ("requestid", "0")])]
            payload = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n"
        else:
            streams = [(1, [("streamtype", "error")]), (3, [("streamtype", "stdout")]),
                       (5, [("streamtype", "stdin")])]
            payload = b"id\n"
        for sid, hv in streams:
            s.sendall(wire.spdy_syn_stream(sid, hv))
        s.sendall(wire.spdy_data(streams[-1][0], payload))
        s.settimeout(3)
        try:
            while s.recv(65536):
                pass
        except (TimeoutError, ssl.SSLError, OSError):
            pass
    s.close()


def scan(a: dict[str, Any]) -> None:
    port = a["src_port"]
    for ip, dport in a["targets"]:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.settimeout(1)
        s.bind((a["src_ip"], port))
        try:
            s.connect((ip, dport))
            print(f"{ip}:{dport} open", flush=True)
        except OSError:
            print(f"{ip}:{dport} closed", flush=True)
        s.close()
        port += 1


def ntp(a: dict[str, Any]) -> None:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((a["src"][0], a["src"][1]))
    s.settimeout(2)
    now = time.time() + 2208988800
    req = bytes([0x23, 0, 6, 0xEC]) + b"\x00" * 36 + struct.pack(">II", int(now), int((now % 1) * 2**32))
    for _ in range(a.get("count", 1)):
        s.sendto(req, (a["ip"], a["port"]))
        with contextlib.suppress(TimeoutError):
            s.recvfrom(1024)
        time.sleep(a.get("interval", 0))


def etcd(a: dict[str, Any]) -> None:
    c = EtcdClient.connect(a["scheme"], a["ip"], a["port"], tls=a.get("tls"), cert=a.get("cert"),
                           key=a.get("key"), ca=a.get("ca"), src=(a["src"][0], a["src"][1]))
    for prefix in a.get("prefixes", ["/registry/"]):
        out = c.range(prefix.encode(), prefix_end(prefix.encode()))
        print(f"range {prefix} -> {len(out)} bytes", flush=True)
    c.close()


KINDS = {"http": http, "watch": watch, "exec": exec_, "scan": scan, "ntp": ntp, "etcd": etcd}

if __name__ == "__main__":
    KINDS[sys.argv[1]](json.loads(sys.argv[2]))
