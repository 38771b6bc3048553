"""Serving helpers shared by the lab's stubs: a threaded TCP server that does each TLS
handshake in its connection's thread, and a two-way byte splice for upgraded streams."""

from __future__ import annotations

import contextlib
import select
import socket
import socketserver
import ssl
import threading
from typing import Any


def splice(a: socket.socket, b: socket.socket, idle: float = 5) -> None:
    """Copy bytes both ways until either side closes or nothing moves for `idle` seconds."""
    socks = [a, b]
    while True:
        pending = [s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()]
        r = pending or select.select(socks, [], [], idle)[0]
        if not r:
            return
        for s in r:
            try:
                data = s.recv(65536)
            except (OSError, ssl.SSLError):
                data = b""
            if not data:
                for x in socks:
                    with contextlib.suppress(OSError):
                        x.close()
                return
            (b if s is a else a).sendall(data)


class TLSServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """Threaded TCP server that does the TLS handshake per connection in its thread."""

    daemon_threads = True
    allow_reuse_address = True
    ctx: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        if self.ctx is not None:
            try:
                request = self.ctx.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError) as e:
                print(f"{client_address} tls handshake failed: {e}", flush=True)
                return
        try:
            self.RequestHandlerClass(request, client_address, self)
        except (OSError, ssl.SSLError) as e:
            print(f"{client_address} connection error: {e}", flush=True)


def serve(ip: str, port: int, handler: type, ctx: ssl.SSLContext | None) -> TLSServer:
    srv = TLSServer((ip, port), handler)
    srv.ctx = ctx
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv
