"""Payload pool for the benchmark generator: every byte a packet carries is a slice of one buffer.

Holds the recorded TLS handshakes (templates/tls.json), TLS application-data record runs in a
geometric grid of sizes, HTTP/1.1 requests and responses spoken on Kubernetes ports, DNS
queries/answers, and TCP SYN options. A message of any size is one contiguous slice, so the
writer can copy segments with plain slicing.
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

TEMPLATES = Path(__file__).resolve().parent / "templates" / "tls.json"
TLS_MAX_RECORD = 16384 + 22  # AES-GCM record: 16 KiB plaintext + 16-byte tag + 5-byte header + 1
GRID_MIN, GRID_MAX, GRID_RATIO = 40, 1_000_000, 1.1


@dataclass(slots=True)
class Pool:
    """An append-only byte buffer; ``add`` returns the offset of what was added."""

    parts: list[bytes] = field(default_factory=list)
    size: int = 0

    def add(self, data: bytes) -> int:
        off = self.size
        self.parts.append(data)
        self.size += len(data)
        return off

    def array(self) -> np.ndarray:
        return np.frombuffer(b"".join(self.parts) + b"\0\0", dtype=np.uint8)


@dataclass(slots=True)
class Message:
    """A slice of the pool: offset and length."""

    off: int
    length: int


@dataclass(slots=True)
class Handshake:
    """A recorded TLS handshake: flights as (direction, message); direction 0 = client."""

    name: str
    flights: list[tuple[int, Message]]


@dataclass(slots=True)
class Payloads:
    """Everything the generator slices packets from."""

    pool: Pool
    handshakes: dict[str, Handshake]
    grid_sizes: np.ndarray  # int64, ascending: sizes of TLS app-data runs
    grid_offs: np.ndarray  # int64: their offsets in the pool
    http: dict[str, list[tuple[Message, Message]]]  # class → (request, response) pairs
    dns: list[tuple[Message, Message]]
    syn_opts: Message
    synack_opts: Message
    noise: bytes = b""

    def appdata(self, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Wanted TLS app-data message lengths → (pool offsets, actual lengths) snapped to the grid."""
        i = np.clip(np.searchsorted(self.grid_sizes, lengths), 0, len(self.grid_sizes) - 1)
        return self.grid_offs[i], self.grid_sizes[i]


def _tls_run(size: int, noise: bytes, start: int) -> bytes:
    """``size`` bytes of back-to-back TLS 1.2/1.3 application_data records (RFC 8446 §5.1)."""
    out = bytearray()
    pos = start
    while size - len(out) > 0:
        n = min(TLS_MAX_RECORD, size - len(out))
        if 0 < size - len(out) - n < 6:  # leave room for a last record with a body
            n -= 6
        body = n - 5
        out += b"\x17\x03\x03" + struct.pack("!H", body) + noise[pos:pos + body]
        pos = (pos + body) % (len(noise) - TLS_MAX_RECORD)
    return bytes(out)


def _http_pairs(pool: Pool, rng: np.random.Generator, metrics_text: bytes
                ) -> dict[str, list[tuple[Message, Message]]]:
    """Plaintext HTTP/1.1 exchanges seen on Kubernetes ports, by flow class."""

    def msg(b: bytes) -> Message:
        return Message(pool.add(b), len(b))

    def resp(status: str, ctype: str, body: bytes, extra: str = "") -> bytes:
        return (f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nDate: Fri, 20 Nov 2026 10:00:00 GMT\r\n"
                f"{extra}Content-Length: {len(body)}\r\n\r\n").encode() + body

    def req(method: str, path: str, host: str, ua: str, extra: str = "") -> bytes:
        return (f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {ua}\r\n"
                f"Accept: */*\r\n{extra}\r\n").encode()

    out: dict[str, list[tuple[Message, Message]]] = {}
    prom = "Prometheus/2.53.0"
    out["metrics"] = []  # kubelet read-only 10255, kube-proxy 10249, etcd 2381 /metrics
    for i in range(12):
        n = int(rng.integers(40_000, 400_000))
        body = metrics_text[:n].rsplit(b"\n", 1)[0] + b"\n"
        host = f"10.0.0.{20 + i}:10255"
        out["metrics"].append((
            msg(req("GET", "/metrics/cadvisor" if i % 2 else "/metrics", host, prom,
                    "Accept-Encoding: identity\r\n")),
            msg(resp("200 OK", "text/plain; version=0.0.4; charset=utf-8", body))))
    out["probe"] = []  # kubelet → pod liveness/readiness probes
    for i, path in enumerate(["/healthz", "/readyz", "/livez", "/health", "/ready", "/-/ready"]):
        out["probe"].append((
            msg(req("GET", path, f"10.244.{i}.{10 + i}:8080", "kube-probe/1.31",
                    "Connection: close\r\n")),
            msg(resp("200 OK", "text/plain; charset=utf-8", b"ok", "Connection: close\r\n"))))
    out["insecure_api"] = []  # legacy/insecure API on 8080 (plaintext, unauthenticated)
    pods = json.dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "91234"},
                       "items": [{"metadata": {"name": f"web-{i}", "namespace": "default"}}
                                 for i in range(400)]}).encode()
    for path, body in [("/api/v1/pods?limit=500", pods),
                       ("/version", b'{"major":"1","minor":"31","gitVersion":"v1.31.2"}'),
                       ("/api/v1/namespaces/kube-system/secrets", pods[:30000])]:
        out["insecure_api"].append((
            msg(req("GET", path, "10.0.0.10:8080", "kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46",
                    "Accept: application/json\r\n")),
            msg(resp("200 OK", "application/json", body))))
    out["healthz"] = []  # kube-proxy 10256, etcd 2381 health
    for host, path in [("10.0.0.21:10256", "/healthz"), ("127.0.0.1:2381", "/health")]:
        out["healthz"].append((msg(req("GET", path, host, "curl/8.5.0")),
                               msg(resp("200 OK", "application/json", b'{"health":"true"}'))))
    return out


def _dns_pairs(pool: Pool, rng: np.random.Generator) -> list[tuple[Message, Message]]:
    """DNS A/AAAA queries for cluster names and their answers (RFC 1035 §4.1)."""
    names = (["kubernetes.default.svc.cluster.local", "kube-dns.kube-system.svc.cluster.local",
              "metrics-server.kube-system.svc.cluster.local"]
             + [f"svc-{i}.ns-{i % 7}.svc.cluster.local" for i in range(60)]
             + [f"api-{i}.example.com" for i in range(20)])
    out = []
    for i in range(256):
        name = names[i % len(names)]
        qtype = 1 if i % 2 == 0 else 28
        txid = int(rng.integers(0, 65536))
        qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
        question = qname + struct.pack("!HH", qtype, 1)
        q = struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0) + question
        if qtype == 1:
            answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 30, 4) + bytes([10, 96, i % 250, 1])
        else:
            answer = b""
        r = struct.pack("!HHHHHH", txid, 0x8580, 1, 1 if answer else 0, 0, 0) + question + answer
        out.append((Message(pool.add(q), len(q)), Message(pool.add(r), len(r))))
    return out


def _metrics_text(rng: np.random.Generator) -> bytes:
    lines = []
    for i in range(9000):
        lines.append(f'container_cpu_usage_seconds_total{{container="c{i % 40}",namespace="ns-{i % 9}",'
                     f'pod="pod-{i}"}} {rng.random() * 1000:.6f} 1790935200000')
    return ("# HELP container_cpu_usage_seconds_total Cumulative cpu time consumed\n"
            "# TYPE container_cpu_usage_seconds_total counter\n" + "\n".join(lines) + "\n").encode()


def build(seed: int) -> Payloads:
    """Seed → the payload pool (deterministic)."""
    rng = np.random.default_rng(seed)
    pool = Pool()
    handshakes = {}
    for name, spec in json.loads(TEMPLATES.read_text()).items():
        flights = []
        for d, b64 in spec["flights"]:
            b = base64.b64decode(b64)
            flights.append((int(d), Message(pool.add(b), len(b))))
        handshakes[name] = Handshake(name, flights)
    noise = rng.integers(0, 256, size=4 << 20, dtype=np.uint8).tobytes()
    sizes = []
    s = float(GRID_MIN)
    while s < GRID_MAX:
        sizes.append(int(s))
        s *= GRID_RATIO
    sizes = sorted(set(sizes))
    offs = [pool.add(_tls_run(n, noise, int(rng.integers(0, 1 << 20)))) for n in sizes]
    http = _http_pairs(pool, rng, _metrics_text(rng))
    dns = _dns_pairs(pool, rng)
    # MSS 1460, NOP, window scale 7, NOP, NOP, SACK permitted (RFC 9293 §3.7.1, 7323, 2018).
    syn = bytes.fromhex("020405b4" "01" "030307" "0101" "0402")
    syn_opts = Message(pool.add(syn), len(syn))
    synack_opts = Message(pool.add(syn), len(syn))
    return Payloads(pool, handshakes, np.array(sizes, dtype=np.int64), np.array(offs, dtype=np.int64),
                    http, dns, syn_opts, synack_opts)
