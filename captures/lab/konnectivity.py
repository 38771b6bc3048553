"""Konnectivity (apiserver-network-proxy) server and agent stubs speaking the real wire protocol.

Agent → server: gRPC over TLS (ALPN h2) on :8132, one long-lived bidi stream
`/AgentService/Connect` with metadata `agentid`, `agentidentifiers`, `authorization: Bearer …`;
server replies with `serverid`/`servercount`. Frames carry konnectivity-client's `Packet`
(type=1, dialRequest=2, dialResponse=3, data=4, closeRequest=5, closeResponse=6;
PacketType DIAL_REQ=0 DIAL_RSP=1 CLOSE_REQ=2 CLOSE_RSP=3 DATA=4 — proto/client/client.proto).
Frontend: HTTP-CONNECT (`CONNECT host:port HTTP/1.1` → `200 Connection Established`) over
mTLS on :8131 and plain TCP on :8090, as egress_selector.go's tunnelHTTPConnect dials it.

`python -m captures.lab.konnectivity server WORLD` / `... agent WORLD NODE SECONDS`.
"""

from __future__ import annotations

import contextlib
import random
import signal
import socket
import ssl
import struct
import sys
import threading
import time
import uuid
from typing import Any

import h2.config
import h2.connection
import h2.events

from captures.lab import wire
from captures.lab.serving import TLSServer

DIAL_REQ, DIAL_RSP, CLOSE_REQ, CLOSE_RSP, DATA = 0, 1, 2, 3, 4
PAYLOAD_FIELD = {DIAL_REQ: 2, DIAL_RSP: 3, DATA: 4, CLOSE_REQ: 5, CLOSE_RSP: 6}
W: dict[str, Any] = {}


def packet(kind: int, **f: Any) -> bytes:
    """Encode a Packet; fields: protocol/address/random, error/connectID/random, connectID/data."""
    if kind == DIAL_REQ:
        body = (wire.pb_bytes(1, b"tcp") + wire.pb_bytes(2, f["address"].encode())
                + wire.pb_int(3, f["random"]))
    elif kind == DIAL_RSP:
        err = f.get("error")
        body = wire.pb_bytes(1, err.encode()) if err else wire.pb_int(2, f["connect_id"])
        body += wire.pb_int(3, f["random"])
    elif kind == DATA:
        body = wire.pb_int(1, f["connect_id"]) + wire.pb_bytes(3, f["data"])
    else:
        body = wire.pb_int(1, f["connect_id"])
    msg = wire.pb_int(1, kind) + wire.pb_bytes(PAYLOAD_FIELD[kind], body) if kind else \
        wire.pb_bytes(PAYLOAD_FIELD[kind], body)
    return b"\x00" + struct.pack(">I", len(msg)) + msg


def _fields(buf: bytes) -> dict[int, Any]:
    """Decode one protobuf message level → field number → value (varint or bytes)."""
    out: dict[int, Any] = {}
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            out[num], i = _varint(buf, i)
        elif wt == 2:
            n, i = _varint(buf, i)
            out[num] = buf[i:i + n]
            i += n
        else:
            break
    return out


def _varint(b: bytes, i: int) -> tuple[int, int]:
    n = shift = 0
    while i < len(b):
        x = b[i]
        i += 1
        n |= (x & 0x7F) << shift
        shift += 7
        if not x & 0x80:
            break
    return n, i


def parse(kind_body: bytes) -> tuple[int, dict[int, Any]]:
    f = _fields(kind_body)
    kind = int(f.get(1, 0))
    return kind, _fields(f.get(PAYLOAD_FIELD.get(kind, 0), b""))


class Tunnel:
    """One HTTP/2 connection carrying the /AgentService/Connect stream (either side)."""

    def __init__(self, sock: ssl.SSLSocket, client: bool) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.h2 = h2.connection.H2Connection(h2.config.H2Configuration(client_side=client,
                                                                       header_encoding="utf-8"))
        self.h2.initiate_connection()
        self.h2.increment_flow_control_window(1 << 24)
        self.stream = 1
        self.buf = b""
        self.flush()
        sock.settimeout(0.05)

    def flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.sock.sendall(data)

    def send(self, pkt: bytes) -> None:
        with self.lock:
            self.h2.send_data(self.stream, pkt)
            self.flush()

    def events(self) -> list[Any]:
        """Read under the lock (an SSL object must not be read and written concurrently)."""
        with self.lock:
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, ssl.SSLWantReadError):
                return []
            if not data:
                return [None]
            evs = self.h2.receive_data(data)
            for ev in evs:
                if isinstance(ev, h2.events.DataReceived):
                    self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            self.flush()
        return list(evs)

    def packets(self, data: bytes) -> list[tuple[int, dict[int, Any]]]:
        self.buf += data
        out = []
        while len(self.buf) >= 5:
            n = struct.unpack(">I", self.buf[1:5])[0]
            if len(self.buf) < 5 + n:
                break
            out.append(parse(self.buf[5:5 + n]))
            self.buf = self.buf[5 + n:]
        return out


# --- server ---------------------------------------------------------------------------------

AGENTS: dict[str, Tunnel] = {}
PENDING: dict[int, tuple[threading.Event, list[int]]] = {}
FRONT: dict[int, socket.socket] = {}


def agent_conn(sock: ssl.SSLSocket) -> None:
    t = Tunnel(sock, client=False)
    while True:
        try:
            evs = t.events()
        except OSError:
            return
        for ev in evs:
            if ev is None:
                return
            if isinstance(ev, h2.events.RequestReceived):
                hdrs = dict(ev.headers)
                pairs = str(hdrs.get("agentidentifiers", "")).split("&")
                ident = dict(kv.split("=", 1) for kv in pairs if "=" in kv)
                t.stream = ev.stream_id
                with t.lock:
                    t.h2.send_headers(ev.stream_id, [(":status", "200"), ("content-type", "application/grpc"),
                                                     ("serverid", str(uuid.uuid4())), ("servercount", "1")])
                    t.flush()
                AGENTS[ident.get("ipv4", "")] = t
                print(f"agent {hdrs.get('agentid')} {ident}", flush=True)
            elif isinstance(ev, h2.events.DataReceived):
                for kind, f in t.packets(ev.data):
                    if kind == DIAL_RSP and int(f.get(3, 0)) in PENDING:
                        done, box = PENDING[int(f[3])]
                        if not f.get(1):  # error field empty: dial succeeded
                            box.append(int(f.get(2, 0)))
                        done.set()
                    elif kind == DATA and int(f.get(1, 0)) in FRONT:
                        with contextlib.suppress(OSError):
                            FRONT[int(f[1])].sendall(f.get(3, b""))
                    elif kind in (CLOSE_REQ, CLOSE_RSP) and int(f.get(1, 0)) in FRONT:
                        FRONT.pop(int(f[1])).close()


def frontend_conn(sock: socket.socket) -> None:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = sock.recv(4096)
        if not chunk:
            return
        head += chunk
    line = head.split(b"\r\n", 1)[0].decode("latin-1").split()
    if len(line) < 2 or line[0] != "CONNECT":
        sock.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 44\r\n\r\n"
                     b"this proxy only supports CONNECT passthrough")
        return
    host = line[1].rsplit(":", 1)[0]
    t = AGENTS.get(host)
    rnd = random.getrandbits(62)
    done, box = threading.Event(), []
    PENDING[rnd] = (done, box)
    if t is not None:
        t.send(packet(DIAL_REQ, address=line[1], random=rnd))
    if t is None or not done.wait(5) or not box:
        sock.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        return
    cid = box[0]
    FRONT[cid] = sock
    sock.sendall(b"HTTP/1.1 200 Connection Established\r\n\r\n")
    pump(t, sock, cid, CLOSE_REQ)
    FRONT.pop(cid, None)


def pump(t: Any, sock: socket.socket, cid: int, close_kind: int) -> None:
    """Bytes from sock → DATA packets for connection cid over the tunnel t, until the socket
    ends; then the close packet (CLOSE_REQ from the server side, CLOSE_RSP from an agent)."""
    while True:
        try:
            data = sock.recv(65536)
        except OSError:
            data = b""
        if not data:
            t.send(packet(close_kind, connect_id=cid))
            return
        t.send(packet(DATA, connect_id=cid, data=data))


class _Handler:
    def __init__(self, fn: Any) -> None:
        self.fn = fn

    def __call__(self, request: Any, client_address: Any, server: Any) -> None:
        self.fn(request)


def server(world: str) -> None:
    W.update(wire.load(world))
    pki = W["pki"]
    agent_ctx = wire.server_context(pki["apiserver"][0], pki["apiserver"][1], W["tls"], alpn=["h2"])
    front_ctx = wire.server_context(pki["apiserver"][0], pki["apiserver"][1], W["tls"], client_ca=pki["ca"])
    front_ctx.verify_mode = ssl.CERT_REQUIRED
    for addr, port, ctx, fn in ((W["hosts"]["cp-1"], 8132, agent_ctx, agent_conn),
                                ("127.0.0.1", 8131, front_ctx, frontend_conn),
                                ("127.0.0.1", 8090, None, frontend_conn)):
        srv = TLSServer((addr, port), _Handler(fn))  # type: ignore[arg-type]
        srv.ctx = ctx
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("konnectivity-server ready", flush=True)
    while True:
        time.sleep(3600)


# --- agent ----------------------------------------------------------------------------------

def agent(world: str, node: str, seconds: float) -> None:
    W.update(wire.load(world))
    ip = W["hosts"][node]
    raw = wire.dial(W["hosts"]["cp-1"], 8132, src=(ip, 41010))
    ctx = wire.client_context(W["tls"], ca=W["pki"]["ca"], alpn=["h2"])
    t = Tunnel(ctx.wrap_socket(raw), client=True)
    with t.lock:
        t.h2.send_headers(1, [(":method", "POST"), (":scheme", "https"), (":path", "/AgentService/Connect"),
                              (":authority", f"{W['hosts']['cp-1']}:8132"),
                              ("content-type", "application/grpc"), ("user-agent", "grpc-go/1.58.3"),
                              ("te", "trailers"), ("agentid", str(uuid.uuid5(uuid.NAMESPACE_DNS, node))),
                              ("agentidentifiers", f"host={node}&ipv4={ip}&default-route=true"),
                              ("authorization", f"Bearer {W['konnectivity_token']}")])
        t.flush()
    conns: dict[int, socket.socket] = {}
    next_id = [1]
    end = [time.time() + seconds]
    signal.signal(signal.SIGTERM, lambda *_: end.__setitem__(0, 0.0))  # GOAWAY + close on stop

    while time.time() < end[0]:
        try:
            evs = t.events()
        except OSError:
            break
        for ev in evs:
            if ev is None:
                return
            if not isinstance(ev, h2.events.DataReceived):
                continue
            for kind, f in t.packets(ev.data):
                if kind == DIAL_REQ:
                    host, port = f.get(2, b"").decode().rsplit(":", 1)
                    cid = next_id[0]
                    next_id[0] += 1
                    try:
                        s = wire.dial(host, int(port))
                    except OSError as e:
                        t.send(packet(DIAL_RSP, error=f"dial tcp {host}:{port}: {e.strerror}",
                                      random=int(f.get(3, 0))))
                        continue
                    s.settimeout(None)
                    conns[cid] = s
                    t.send(packet(DIAL_RSP, connect_id=cid, random=int(f.get(3, 0))))
                    threading.Thread(target=pump, args=(t, s, cid, CLOSE_RSP), daemon=True).start()
                elif kind == DATA and int(f.get(1, 0)) in conns:
                    conns[int(f[1])].sendall(f.get(3, b""))
                elif kind == CLOSE_REQ and int(f.get(1, 0)) in conns:
                    conns.pop(int(f[1])).close()
    with t.lock:
        t.h2.close_connection()
        t.flush()
    t.sock.close()


if __name__ == "__main__":
    if sys.argv[1] == "server":
        server(sys.argv[2])
    else:
        agent(sys.argv[2], sys.argv[3], float(sys.argv[4]))
