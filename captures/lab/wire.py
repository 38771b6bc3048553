"""Shared wire helpers for the lab's stubs and clients: TLS contexts, HTTP/1.1 framing,
Kubernetes JSON objects, a tiny protobuf writer and SPDY/3 frames.

Header names and bodies follow the reference (../shared/reference/k8s-signatures.md §3–§10).
"""

from __future__ import annotations

import http.server
import json
import socket
import ssl
import struct
import zlib
from pathlib import Path
from typing import Any

K8S_VERSION = "v1.30.2"
K8S_COMMIT = "39683505"
UA_KUBELET = f"kubelet/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}"
UA_KUBE_PROXY = f"kube-proxy/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}"
UA_KUBECTL = f"kubectl/{K8S_VERSION} (linux/amd64) kubernetes/{K8S_COMMIT}"
UA_GO = "Go-http-client/1.1"
PROTOBUF = "application/vnd.kubernetes.protobuf"
PF_HEADERS = (("X-Kubernetes-Pf-Flowschema-Uid", "7f3c5a1e-2b4d-4e8a-9c61-0d2f8e3b5a71"),
              ("X-Kubernetes-Pf-Prioritylevel-Uid", "c1d2e3f4-5a6b-4c7d-8e9f-0a1b2c3d4e5f"))

TLS_VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
                "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def load(path: str | Path) -> dict[str, Any]:
    """Read the scenario's world JSON."""
    data: dict[str, Any] = json.loads(Path(path).read_text())
    return data


def _versions(ctx: ssl.SSLContext, tls: dict[str, str]) -> None:
    lo = tls.get("min", "1.2")
    if lo in ("1.0", "1.1"):
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    ctx.minimum_version = TLS_VERSIONS[lo]
    ctx.maximum_version = TLS_VERSIONS[tls.get("max", "1.3")]


def server_context(cert: str, key: str, tls: dict[str, str], *, client_ca: str | None = None,
                   alpn: list[str] | None = None) -> ssl.SSLContext:
    """A TLS server context; with client_ca it requests (not requires) a client certificate,
    like Go's tls.RequestClientCert used by the apiserver and kubelet."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    _versions(ctx, tls)
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_OPTIONAL
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def client_context(tls: dict[str, str], *, cert: str | None = None, key: str | None = None,
                   ca: str | None = None, alpn: list[str] | None = None) -> ssl.SSLContext:
    """A TLS client context; without ca it does not verify (the apiserver→kubelet default)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    _versions(ctx, tls)
    if ca:
        ctx.load_verify_locations(ca)
        ctx.check_hostname = False  # we dial IPs; SAN IPs are checked by verify below
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert and key:
        ctx.load_cert_chain(cert, key)
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def dial(ip: str, port: int, *, src: tuple[str, int] | None = None, timeout: float = 10) -> socket.socket:
    """TCP connect, optionally from a fixed source address:port (exact labels)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.settimeout(timeout)
    if src:
        s.bind(src)
    s.connect((ip, port))
    return s


def request_bytes(method: str, path: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    """An HTTP/1.1 request as Go's net/http writes it (Host first, then headers)."""
    lines = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def read_response(sock: socket.socket | ssl.SSLSocket) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP/1.1 response (Content-Length, chunked, or 101) → (status, headers, body)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
    hdrs = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if status == 101:
        return status, hdrs, rest
    if "content-length" in hdrs:
        n = int(hdrs["content-length"])
        while len(rest) < n:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, hdrs, rest[:n]
    if hdrs.get("transfer-encoding") == "chunked":
        while not rest.endswith(b"0\r\n\r\n"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, hdrs, _dechunk(rest)
    return status, hdrs, rest


def _dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_s, _, data = data.partition(b"\r\n")
        size = int(size_s.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return out


class QuietHandler(http.server.BaseHTTPRequestHandler):
    """HTTP/1.1 handler that writes headers like Go's net/http (no Server header)."""

    protocol_version = "HTTP/1.1"

    def send_response(self, code: int, message: str | None = None) -> None:
        self.log_request(code)
        self.send_response_only(code, message)
        self.send_header("Date", self.date_time_string())

    def log_message(self, format: str, *args: Any) -> None:
        print(f"{self.client_address[0]}:{self.client_address[1]} {format % args}", flush=True)

    def body(self) -> bytes:
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send_bytes(self, code: int, data: bytes, ctype: str, extra: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
        self.send_response(code)
        for k, v in extra:
            self.send_header(k, v)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def send_chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()


def status(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> bytes:
    """A metav1.Status failure body as the apiserver writes it."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": message, "reason": reason}
    if details is not None:
        body["details"] = details
    body["code"] = code
    return json.dumps(body).encode()


# --- protobuf (just enough for etcd requests and the k8s runtime.Unknown envelope) ----------

def _varint(n: int) -> bytes:
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_bytes(field: int, value: bytes) -> bytes:
    return _varint(field << 3 | 2) + _varint(len(value)) + value


def pb_int(field: int, value: int) -> bytes:
    return _varint(field << 3) + _varint(value)


def k8s_protobuf(api_version: str, kind: str, raw: bytes) -> bytes:
    """The `k8s\\0` magic + runtime.Unknown{typeMeta, raw} envelope (apimachinery protobuf.go)."""
    type_meta = pb_bytes(1, api_version.encode()) + pb_bytes(2, kind.encode())
    return b"k8s\x00" + pb_bytes(1, type_meta) + pb_bytes(2, raw)


def lease_protobuf(node: str, renew: str) -> bytes:
    meta = pb_bytes(1, node.encode()) + pb_bytes(3, b"kube-node-lease")
    spec = pb_bytes(1, node.encode()) + pb_int(2, 40) + pb_bytes(4, renew.encode())
    return k8s_protobuf("coordination.k8s.io/v1", "Lease", pb_bytes(1, meta) + pb_bytes(2, spec))


# --- SPDY/3 frames (exec/attach/port-forward streams after the 101 upgrade) ----------------

def spdy_headers(pairs: list[tuple[str, str]]) -> bytes:
    """SPDY/3 name/value block, zlib-compressed (without the SPDY dictionary; see README)."""
    raw = struct.pack(">I", len(pairs))
    for k, v in pairs:
        raw += struct.pack(">I", len(k)) + k.encode() + struct.pack(">I", len(v)) + v.encode()
    c = zlib.compressobj()
    return c.compress(raw) + c.flush(zlib.Z_SYNC_FLUSH)


def spdy_syn_stream(stream_id: int, pairs: list[tuple[str, str]], fin: bool = False) -> bytes:
    payload = struct.pack(">IIH", stream_id, 0, 0) + spdy_headers(pairs)
    return struct.pack(">HHI", 0x8003, 1, (int(fin) << 24) | len(payload)) + payload


def spdy_syn_reply(stream_id: int) -> bytes:
    payload = struct.pack(">I", stream_id) + spdy_headers([])
    return struct.pack(">HHI", 0x8003, 2, len(payload)) + payload


def spdy_data(stream_id: int, data: bytes, fin: bool = False) -> bytes:
    return struct.pack(">II", stream_id, (int(fin) << 24) | len(data)) + data


def obj(kind: str, name: str, namespace: str | None = None, api_version: str = "v1",
        **rest: Any) -> dict[str, Any]:
    """A Kubernetes object skeleton with realistic metadata."""
    meta: dict[str, Any] = {"name": name, "uid": _uid(kind + name), "resourceVersion": "48213",
                            "creationTimestamp": "2026-11-27T21:04:11Z"}
    if namespace:
        meta["namespace"] = namespace
    return {"kind": kind, "apiVersion": api_version, "metadata": meta, **rest}


def _uid(seed: str) -> str:
    h = zlib.crc32(seed.encode())
    return f"{h:08x}-7c1e-4b2a-9d3f-{(h * 2654435761) & 0xFFFFFFFFFFFF:012x}"
