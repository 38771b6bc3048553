"""kube-apiserver stub: real paths, headers, Status bodies; proxies to kubelets and pods.

`python -m captures.lab.apiserver WORLD.json` inside the control-plane namespace. Serves
6443 (TLS, RequestClientCert), optionally the legacy insecure 8080, stores objects in a real
etcd over one long-lived gRPC connection, and makes the apiserver's own outbound legs:
apiserver→kubelet (logs/exec/attach/port-forward/node proxy, kubelet-client cert, kubelet cert
not verified unless a CA is configured) and apiserver→pod/service proxy in plain HTTP.
"""

from __future__ import annotations

import json
import socket
import ssl
import sys
import threading
import time
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

from captures.lab import wire
from captures.lab.etcd_grpc import EtcdClient
from captures.lab.serving import serve, splice

W: dict[str, Any] = {}
ETCD: list[EtcdClient] = []


def _api_resources() -> dict[str, Any]:
    res = [("pods", "Pod", True), ("nodes", "Node", False), ("services", "Service", True),
           ("endpoints", "Endpoints", True), ("namespaces", "Namespace", False),
           ("secrets", "Secret", True), ("serviceaccounts", "ServiceAccount", True),
           ("pods/log", "Pod", True), ("pods/exec", "PodExecOptions", True),
           ("pods/attach", "PodAttachOptions", True), ("pods/portforward", "PodPortForwardOptions", True),
           ("pods/proxy", "PodProxyOptions", True), ("services/proxy", "ServiceProxyOptions", True),
           ("nodes/proxy", "NodeProxyOptions", False), ("nodes/status", "Node", False)]
    return {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": n, "singularName": "" if "/" in n else k.lower(), "namespaced": ns, "kind": k,
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
        for n, k, ns in res]}


def _pod(p: dict[str, Any]) -> dict[str, Any]:
    return wire.obj("Pod", p["name"], p["ns"], spec={
        "nodeName": p["node"], "containers": [{"name": p["container"], "image": p["image"],
                                               "ports": [{"containerPort": p["port"]}]}]},
        status={"phase": "Running", "podIP": p["ip"], "podIPs": [{"ip": p["ip"]}],
                "hostIP": W["hosts"][p["node"]]})


def _node(name: str) -> dict[str, Any]:
    return wire.obj("Node", name, status={"addresses": [
        {"type": "InternalIP", "address": W["hosts"][name]}, {"type": "Hostname", "address": name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}}})


class Api(wire.QuietHandler):
    """One apiserver connection; `insecure` is True on the legacy :8080 listener."""

    insecure = False

    # --- authentication / authorization -------------------------------------------------
    def user(self) -> tuple[str, bool] | None:
        """(user, admin) or None when credentials were presented but are invalid."""
        if self.insecure:
            return "system:admin", True  # the insecure port skips authn/authz entirely
        conn = self.connection
        if isinstance(conn, ssl.SSLSocket):
            cert = conn.getpeercert()
            if cert:
                cn = dict(x[0] for x in cert["subject"]).get("commonName", "")
                return cn, True
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            tok = W["tokens"].get(auth[7:])
            return (tok["user"], tok["admin"]) if tok else None
        if auth.startswith("Basic "):
            return ("admin", True) if auth[6:] in W["apiserver"].get("basic", []) else None
        return "system:anonymous", False

    def common(self) -> list[tuple[str, str]]:
        return [("Audit-Id", str(uuid.uuid4())), ("Cache-Control", "no-cache, private"),
                *wire.PF_HEADERS]

    def json(self, code: int, body: dict[str, Any] | bytes) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        extra = self.common() + ([("X-Content-Type-Options", "nosniff")] if code >= 400 else [])
        self.send_bytes(code, data, "application/json", extra)

    def do_GET(self) -> None:
        self.route("GET")

    def do_PUT(self) -> None:
        self.route("PUT")

    def do_PATCH(self) -> None:
        self.route("PATCH")

    def do_POST(self) -> None:
        self.route("POST")

    def route(self, method: str) -> None:
        u = urlsplit(self.path)
        q = parse_qs(u.query)
        body = self.body()
        who = self.user()
        if who is None:
            self.json(401, wire.status(401, "Unauthorized", "Unauthorized"))
            return
        user, admin = who
        public = u.path in ("/version", "/healthz", "/livez", "/readyz")
        if not admin and not public and not user.startswith("system:serviceaccount:"):
            self.json(403, wire.status(403, "Forbidden",
                                       f'forbidden: User "{user}" cannot {method.lower()} path "{u.path}"',
                                       {}))
            return
        parts = [x for x in u.path.split("/") if x]
        self.storage(method, u.path, body)
        if u.path == "/version":
            self.json(200, {"major": "1", "minor": "30", "gitVersion": wire.K8S_VERSION,
                            "gitCommit": "39683505b630ff2121012f3c5b16215a1449d5ed",
                            "gitTreeState": "clean", "buildDate": "2024-06-11T20:21:00Z",
                            "goVersion": "go1.22.4", "compiler": "gc", "platform": "linux/amd64"})
        elif u.path in ("/healthz", "/livez", "/readyz"):
            self.send_bytes(200, b"ok", "text/plain; charset=utf-8", self.common())
        elif u.path == "/api":
            self.json(200, {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": f"{W['apiserver']['ip']}:6443"}]})
        elif u.path == "/apis":
            self.json(200, {"kind": "APIGroupList", "apiVersion": "v1", "groups": [
                {"name": "coordination.k8s.io", "versions": [{"groupVersion": "coordination.k8s.io/v1",
                                                              "version": "v1"}],
                 "preferredVersion": {"groupVersion": "coordination.k8s.io/v1", "version": "v1"}}]})
        elif u.path == "/api/v1":
            self.json(200, _api_resources())
        elif u.path == "/apis/coordination.k8s.io/v1":
            self.json(200, {"kind": "APIResourceList", "groupVersion": "coordination.k8s.io/v1",
                            "resources": [{"name": "leases", "singularName": "lease", "namespaced": True,
                                           "kind": "Lease", "verbs": ["get", "update", "watch"]}]})
        elif "leases" in parts:
            name = parts[-1]
            self.json(200, wire.obj("Lease", name, "kube-node-lease", "coordination.k8s.io/v1",
                                    spec={"holderIdentity": name, "leaseDurationSeconds": 40,
                                          "renewTime": time.strftime("%Y-%m-%dT%H:%M:%S.000000Z",
                                                                     time.gmtime())}))
        elif "watch" in q or q.get("watch") == ["true"]:
            self.watch(parts)
        elif parts[:3] == ["api", "v1", "nodes"] and len(parts) >= 5 and parts[4] == "proxy":
            node, _, port = parts[3].partition(":")
            if port and port != "10250":
                self.plain_proxy(W["hosts"][node], int(port), "/" + "/".join(parts[5:]),
                                 urlsplit(self.path).path)
            else:
                self.kubelet_leg(W["hosts"][node], "GET", "/" + "/".join(parts[5:]), [], "")
        elif parts[:3] == ["api", "v1", "nodes"]:
            if len(parts) == 3:
                self.json(200, {"kind": "NodeList", "apiVersion": "v1", "metadata": {},
                                "items": [_node(n) for n in W["nodes"]]})
            else:
                self.json(200, _node(parts[3]))
        elif len(parts) >= 6 and parts[4] == "pods" and len(parts) >= 7:
            self.pod_sub(parts, q, method)
        elif len(parts) >= 6 and parts[4] == "services" and len(parts) >= 7 and parts[6] == "proxy":
            self.service_proxy(parts)
        elif parts[-1] == "pods" or (len(parts) == 6 and parts[4] == "pods"):
            ns = parts[3] if len(parts) > 3 and parts[2] == "namespaces" else None
            pods = [_pod(p) for p in W["pods"] if ns is None or p["ns"] == ns]
            if len(parts) == 6:
                match = [p for p in pods if p["metadata"]["name"] == parts[5]]
                self.json(200, match[0] if match else wire.status(404, "NotFound", "not found"))
            else:
                self.json(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": pods})
        elif parts[-1] == "secrets":
            self.json(200, {"kind": "SecretList", "apiVersion": "v1", "metadata": {}, "items": [
                wire.obj("Secret", "db-credentials", "default", type="Opaque",
                         data={"password": "c3VwZXJzZWNyZXQ="})]})
        elif parts[-1] in ("services", "endpoints", "namespaces", "configmaps"):
            self.json(200, {"kind": "List", "apiVersion": "v1", "metadata": {}, "items": []})
        else:
            self.json(404, wire.status(404, "NotFound", "the server could not find the requested resource",
                                       {}))

    def storage(self, method: str, path: str, body: bytes) -> None:
        """Every resource call reads or writes etcd, like the registry does."""
        if not ETCD or not path.startswith(("/api/", "/apis/")):
            return
        key = ("/registry" + path.replace("/api/v1", "").replace("/apis", "")).encode()
        try:
            if method in ("PUT", "PATCH", "POST"):
                ETCD[0].put(key, body or wire.k8s_protobuf("v1", "Event", b""))
            else:
                ETCD[0].range(key, key + b"0", limit=500)
        except OSError as e:
            print(f"etcd error {e}", flush=True)

    def watch(self, parts: list[str]) -> None:
        """A watch: chunked JSON events, bookmark-style, until the client goes away."""
        self.send_response(200)
        for k, v in self.common():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        kind = parts[-1]
        try:
            for i in range(120):
                ev = {"type": "ADDED" if i < 2 else "MODIFIED",
                      "object": wire.obj("Service" if kind == "services" else "Pod",
                                         f"{kind}-{i % 3}", "default")}
                self.send_chunk(json.dumps(ev).encode() + b"\n")
                time.sleep(3)
        except OSError:
            return

    # --- apiserver → kubelet -------------------------------------------------------------
    def node_sock(self, ip: str, port: int) -> socket.socket:
        """TCP to a node port: direct, or through Konnectivity's HTTP-CONNECT frontend
        (mTLS :8131, or plain :8090 for non-kubelet ports) when egress is configured."""
        egress = W["apiserver"].get("egress")
        if not egress:
            return wire.dial(ip, port)
        pki = W["pki"]
        tls = port == 10250
        s: socket.socket = wire.dial("127.0.0.1", 8131 if tls else 8090)
        if tls:
            ctx = wire.client_context(W["tls"], cert=pki["apiserver_kubelet_client"][0],
                                      key=pki["apiserver_kubelet_client"][1], ca=pki["ca"])
            s = ctx.wrap_socket(s)
        s.sendall(f"CONNECT {ip}:{port} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        code, _, _ = wire.read_response(s)
        if code != 200:
            raise OSError(f"CONNECT {ip}:{port} -> {code}")
        if not tls:
            return s
        inner, outer_end = socket.socketpair()  # TLS-in-TLS: relay through a local pair
        threading.Thread(target=splice, args=(outer_end, s, 30), daemon=True).start()
        return inner

    def kubelet_sock(self, ip: str) -> ssl.SSLSocket:
        pki = W["pki"]
        ctx = wire.client_context(W["tls"], cert=pki["apiserver_kubelet_client"][0],
                                  key=pki["apiserver_kubelet_client"][1],
                                  ca=W["apiserver"].get("kubelet_ca"), alpn=["http/1.1"])
        return ctx.wrap_socket(self.node_sock(ip, 10250))

    def kubelet_leg(self, ip: str, method: str, path: str, hdrs: list[tuple[str, str]],
                    query: str) -> None:
        s = self.kubelet_sock(ip)
        full = path + (f"?{query}" if query else "")
        s.sendall(wire.request_bytes(method, full, [("Host", f"{ip}:10250"),
                                                    ("User-Agent", wire.UA_GO), *hdrs,
                                                    ("Accept-Encoding", "gzip")]))
        code, rh, body = wire.read_response(s)
        s.close()
        self.send_bytes(code, body, rh.get("content-type", "text/plain"), self.common())

    def pod_sub(self, parts: list[str], q: dict[str, list[str]], method: str) -> None:
        ns, name, sub = parts[3], parts[5], parts[6]
        pname, _, port = name.partition(":")
        pod = next((p for p in W["pods"] if p["name"] == pname and p["ns"] == ns), None)
        if pod is None:
            self.json(404, wire.status(404, "NotFound", f'pods "{pname}" not found',
                                       {"name": pname, "kind": "pods"}))
            return
        node_ip = W["hosts"][pod["node"]]
        c = q.get("container", [pod["container"]])[0]
        if sub == "log":
            self.kubelet_leg(node_ip, "GET", f"/containerLogs/{ns}/{pname}/{c}", [], "")
        elif sub in ("exec", "attach", "portforward"):
            self.upgrade(node_ip, ns, pname, c, sub, q)
        elif sub == "proxy":
            rest = "/" + "/".join(parts[7:])
            self.plain_proxy(pod["ip"], int(port or pod["port"]), rest, urlsplit(self.path).path)

    def upgrade(self, node_ip: str, ns: str, pod: str, c: str, sub: str,
                q: dict[str, list[str]]) -> None:
        """exec/attach/port-forward: clone the client's upgrade to the kubelet, splice on 101."""
        if sub == "portforward":
            path, proto = f"/portForward/{ns}/{pod}", "portforward.k8s.io"
        else:
            args = "&".join(f"command={x}" for x in q.get("command", [])) if sub == "exec" else ""
            flags = "input=1&output=1&tty=1" if q.get("tty") == ["true"] else "output=1&error=1"
            path = f"/{sub}/{ns}/{pod}/{c}?" + "&".join(x for x in (args, flags) if x)
            proto = self.headers.get("X-Stream-Protocol-Version", "v4.channel.k8s.io")
        s = self.kubelet_sock(node_ip)
        hdrs = [("Host", f"{node_ip}:10250"), ("User-Agent", self.headers.get("User-Agent", wire.UA_GO)),
                ("Connection", "Upgrade"), ("Upgrade", "SPDY/3.1"),
                ("X-Forwarded-For", self.client_address[0]), ("X-Stream-Protocol-Version", proto)]
        s.sendall(wire.request_bytes("POST", path, hdrs))
        code, rh, rest = wire.read_response(s)
        if code != 101:
            s.close()
            self.json(code, wire.status(code, "BadRequest", "upgrade to kubelet failed"))
            return
        self.send_response(101, "Switching Protocols")
        self.send_header("Connection", "Upgrade")
        self.send_header("Upgrade", "SPDY/3.1")
        self.send_header("X-Stream-Protocol-Version", rh.get("x-stream-protocol-version", proto))
        self.end_headers()
        self.wfile.flush()
        if rest:
            self.connection.sendall(rest)
        splice(self.connection, s)
        self.close_connection = True

    # --- apiserver proxy → pods / services (plain HTTP) ------------------------------------
    def plain_proxy(self, ip: str, port: int, rest: str, prefix: str, xhost: bool = False) -> None:
        s = self.node_sock(ip, port) if ip in W["hosts"].values() else wire.dial(ip, port)
        hdrs = [("Host", self.headers.get("Host", "")), ("User-Agent", self.headers.get("User-Agent", "")),
                ("Accept", self.headers.get("Accept", "*/*"))]
        if xhost:
            hdrs.append(("X-Forwarded-Host", self.headers.get("Host", "")))
        hdrs += [("X-Forwarded-For", self.client_address[0]), ("X-Forwarded-Uri", prefix),
                 ("Accept-Encoding", "gzip")]
        s.sendall(wire.request_bytes("GET", rest, hdrs))
        code, rh, body = wire.read_response(s)
        s.close()
        self.send_bytes(code, body, rh.get("content-type", "text/plain"), self.common())

    def service_proxy(self, parts: list[str]) -> None:
        svc = parts[5].split(":")
        name = svc[1] if len(svc) == 3 else svc[0]
        ep = W["services"][name]
        self.plain_proxy(ep["endpoint"], ep["target_port"], "/" + "/".join(parts[7:]),
                         urlsplit(self.path).path, xhost=True)


def main(argv: list[str]) -> None:
    W.update(wire.load(argv[1]))
    a = W["apiserver"]
    pki = W["pki"]
    etcd = a.get("etcd")
    if etcd:
        for attempt in range(40):
            try:
                ETCD.append(EtcdClient.connect(
                    etcd["scheme"], etcd["ip"], etcd["port"], tls=W["tls"],
                    cert=pki["apiserver_etcd_client"][0] if etcd["scheme"] == "https" else None,
                    key=pki["apiserver_etcd_client"][1] if etcd["scheme"] == "https" else None,
                    ca=pki["etcd_ca"] if etcd["scheme"] == "https" else None,
                    src=(etcd["src_ip"], etcd["src_port"])))
                ETCD[0].range(b"/registry/health")
                break
            except OSError as e:
                print(f"etcd not ready ({attempt}): {e}", flush=True)
                ETCD.clear()
                time.sleep(0.25)
    ctx = wire.server_context(pki["apiserver"][0], pki["apiserver"][1], W["apiserver_tls"],
                              client_ca=pki["ca"], alpn=["http/1.1"])
    serve("0.0.0.0", 6443, Api, ctx)
    if a.get("insecure_port"):
        cls = type("InsecureApi", (Api,), {"insecure": True})
        serve("0.0.0.0", a["insecure_port"], cls, None)
    print("apiserver ready", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv)
