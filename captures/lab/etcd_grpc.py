"""A minimal etcd v3 gRPC client over HTTP/2 (h2): Range and Put against a real etcd.

Used by the apiserver stub (one long-lived connection, like kube-apiserver's storage client)
and by the attacker's dump when a TLS 1.2 view is wanted. Messages per etcd's rpc.proto:
RangeRequest{key=1, range_end=2, limit=3}, PutRequest{key=1, value=2}.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading

import h2.config
import h2.connection
import h2.events

from captures.lab import wire


class EtcdClient:
    """One HTTP/2 connection to etcd; unary calls are serialised under a lock."""

    def __init__(self, sock: socket.socket | ssl.SSLSocket, authority: str) -> None:
        self.sock = sock
        self.authority = authority
        self.lock = threading.Lock()
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True,
                                                                         header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.sock.sendall(self.conn.data_to_send())

    @classmethod
    def connect(cls, scheme: str, ip: str, port: int, *, tls: dict[str, str] | None = None,
                cert: str | None = None, key: str | None = None, ca: str | None = None,
                src: tuple[str, int] | None = None) -> EtcdClient:
        s = wire.dial(ip, port, src=src, timeout=15)
        if scheme == "https":
            ctx = wire.client_context(tls or {}, cert=cert, key=key, ca=ca, alpn=["h2"])
            s = ctx.wrap_socket(s)
        return cls(s, f"{ip}:{port}")

    def call(self, method: str, message: bytes) -> bytes:
        """Unary gRPC call → response message bytes (empty on error)."""
        with self.lock:
            sid = self.conn.get_next_available_stream_id()
            self.conn.send_headers(sid, [(":method", "POST"), (":scheme", "http"),
                                         (":path", method), (":authority", self.authority),
                                         ("content-type", "application/grpc"), ("te", "trailers"),
                                         ("user-agent", "grpc-go/1.58.3")])
            self.conn.send_data(sid, b"\x00" + struct.pack(">I", len(message)) + message,
                                end_stream=True)
            self.sock.sendall(self.conn.data_to_send())
            data = b""
            done = False
            while not done:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                for ev in self.conn.receive_data(chunk):
                    if isinstance(ev, h2.events.DataReceived) and ev.stream_id == sid:
                        data += ev.data
                        self.conn.acknowledge_received_data(ev.flow_controlled_length, sid)
                    elif isinstance(ev, h2.events.StreamEnded | h2.events.StreamReset) and \
                            ev.stream_id == sid:
                        done = True
                out = self.conn.data_to_send()
                if out:
                    self.sock.sendall(out)
            return data[5:]

    def range(self, key: bytes, range_end: bytes = b"", limit: int = 0) -> bytes:
        msg = wire.pb_bytes(1, key) + (wire.pb_bytes(2, range_end) if range_end else b"")
        if limit:
            msg += wire.pb_int(3, limit)
        return self.call("/etcdserverpb.KV/Range", msg)

    def put(self, key: bytes, value: bytes) -> bytes:
        return self.call("/etcdserverpb.KV/Put", wire.pb_bytes(1, key) + wire.pb_bytes(2, value))

    def close(self) -> None:
        try:
            self.conn.close_connection()
            self.sock.sendall(self.conn.data_to_send())
            self.sock.close()
        except OSError:
            pass


def prefix_end(prefix: bytes) -> bytes:
    """etcd's range_end for a prefix scan (last byte + 1)."""
    return prefix[:-1] + bytes([prefix[-1] + 1])
