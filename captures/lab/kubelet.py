"""kubelet API stub: 10250 (TLS, RequestClientCert) and the read-only 10255 (plain HTTP).

`python -m captures.lab.kubelet WORLD.json NODE` inside the node namespace. Paths, auth filter
answers and bodies follow pkg/kubelet/server/server.go (reference §3.2–§3.4): 401 `Unauthorized`
when anonymous auth is off, 403 `Forbidden (user=…, verb=…, resource=nodes, subresource(s)=[…])`
under Webhook authz, 405 `Debug endpoints are disabled.` on the read-only port.
"""

from __future__ import annotations

import json
import ssl
import sys
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from captures.lab import wire
from captures.lab.serving import serve

W: dict[str, Any] = {}
NODE = [""]
DEBUG = ("/run/", "/exec/", "/attach/", "/portForward/", "/containerLogs/", "/runningpods/",
         "/debug/pprof/", "/logs/")


def _pods() -> dict[str, Any]:
    items = [wire.obj("Pod", p["name"], p["ns"], spec={"nodeName": p["node"], "containers": [
        {"name": p["container"], "image": p["image"],
         "env": [{"name": "DB_PASSWORD", "value": "s3cr3t-from-podspec"}] if p["name"].startswith("db")
         else []}]}, status={"phase": "Running", "podIP": p["ip"]})
             for p in W["pods"] if p["node"] == NODE[0]]
    return {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items}


class Kubelet(wire.QuietHandler):
    readonly = False

    def who(self) -> str | None:
        """Authenticated user, 'system:anonymous', or None (invalid token)."""
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket):
            cert = conn.getpeercert()
            if cert:
                return str(dict(x[0] for x in cert["subject"]).get("commonName", ""))
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            tok = W["tokens"].get(auth[7:])
            return str(tok["user"]) if tok else None
        return "system:anonymous"

    def text(self, code: int, msg: str) -> None:
        self.send_bytes(code, msg.encode(), "text/plain; charset=utf-8")

    def do_GET(self) -> None:
        self.route("GET")

    def do_POST(self) -> None:
        self.route("POST")

    def route(self, method: str) -> None:
        u = urlsplit(self.path)
        self.body()
        k = {**W["kubelet"], **W["kubelet"].get("per_node", {}).get(NODE[0], {})}
        if self.readonly:
            if u.path.startswith(DEBUG):
                self.text(405, "Debug endpoints are disabled.")
                return
        else:
            user = self.who()
            if user is None or (user == "system:anonymous" and not k["anonymous"]):
                self.text(401, "Unauthorized")
                return
            if user == "system:anonymous" and k["authz"] != "AlwaysAllow":
                sub = "stats" if u.path.startswith("/stats") else "proxy"
                verb = "create" if method == "POST" else "get"
                self.text(403, f"Forbidden (user=system:anonymous, verb={verb}, resource=nodes, "
                               f"subresource(s)=[{sub}])")
                return
        if u.path == "/pods":
            self.send_bytes(200, json.dumps(_pods()).encode(), "application/json")
        elif u.path == "/healthz":
            self.text(200, "ok")
        elif u.path.startswith("/stats"):
            self.send_bytes(200, json.dumps({"node": {"nodeName": NODE[0], "cpu": {
                "usageNanoCores": 123456789}}, "pods": []}).encode(), "application/json")
        elif u.path.startswith("/metrics"):
            self.text(200, '# HELP kubelet_running_pods Number of pods\n# TYPE kubelet_running_pods gauge\n'
                           f'kubelet_running_pods{{node="{NODE[0]}"}} 3\n')
        elif u.path.startswith("/containerLogs/"):
            self.logs()
        elif u.path.startswith("/run/"):
            cmd = parse_qs(u.query).get("cmd", ["id"])[0]
            out = {"id": "uid=0(root) gid=0(root) groups=0(root)\n",
                   "cat /var/run/secrets/kubernetes.io/serviceaccount/token": "eyJhbGciOiJSUzI1NiJ9...\n"}
            self.text(200, out.get(cmd, f"{cmd}: executed\n"))
        elif u.path.startswith(("/exec/", "/attach/", "/portForward/")):
            self.upgrade(u.path)
        else:
            self.text(404, "404 page not found")

    def logs(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(5):
            self.send_chunk(f"2026-11-27T23:0{i}:00.000000000Z 10.244.1.2 - - \"GET / HTTP/1.1\" 200 612\n"
                            .encode())
        self.wfile.write(b"0\r\n\r\n")

    def upgrade(self, path: str) -> None:
        if "upgrade" not in self.headers.get("Connection", "").lower():
            self.text(400, "Upgrade request required")
            return
        proto = self.headers.get("X-Stream-Protocol-Version", "").split(",")[0].strip()
        self.send_response(101, "Switching Protocols")
        self.send_header("Connection", "Upgrade")
        self.send_header("Upgrade", "SPDY/3.1")
        self.send_header("X-Stream-Protocol-Version", proto)
        self.end_headers()
        self.wfile.flush()
        conn = self.connection
        conn.settimeout(5)
        streams: list[int] = []
        try:
            buf = b""
            deadline = time.time() + 3
            while time.time() < deadline and len(streams) < 2:
                data = conn.recv(65536)
                if not data:
                    break
                buf += data
                streams = _syn_ids(buf)
            for sid in streams:
                conn.sendall(wire.spdy_syn_reply(sid))
            out = (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" if path.startswith("/portForward")
                   else b"uid=0(root) gid=0(root) groups=0(root)\r\n")
            if len(streams) >= 2:
                conn.sendall(wire.spdy_data(streams[1], out, fin=True))
                conn.sendall(wire.spdy_data(streams[0], b'{"metadata":{},"status":"Success"}', fin=True))
            time.sleep(0.3)
        except OSError:
            pass
        self.close_connection = True


def _syn_ids(buf: bytes) -> list[int]:
    """Stream ids of the SPDY SYN_STREAM frames in buf."""
    ids = []
    i = 0
    while i + 8 <= len(buf):
        length = int.from_bytes(buf[i + 5:i + 8], "big")
        if buf[i] & 0x80 and buf[i + 3] == 1 and i + 12 <= len(buf):
            ids.append(int.from_bytes(buf[i + 8:i + 12], "big") & 0x7FFFFFFF)
        i += 8 + length
    return ids


def main(argv: list[str]) -> None:
    W.update(wire.load(argv[1]))
    NODE[0] = argv[2]
    ip = W["hosts"][NODE[0]]
    cert, key = W["pki"]["kubelet_serving"][NODE[0]]
    ctx = wire.server_context(cert, key, W["kubelet"]["tls"], client_ca=W["pki"]["ca"])
    serve(ip, 10250, Kubelet, ctx)
    if {**W["kubelet"], **W["kubelet"].get("per_node", {}).get(NODE[0], {})}.get("readonly"):
        serve(ip, 10255, type("ReadOnly", (Kubelet,), {"readonly": True}), None)
    print("kubelet ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv)
