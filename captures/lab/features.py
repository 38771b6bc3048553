"""Traffic of the core cluster: servers, node → apiserver, pods, kubectl, streams, proxy, noise.

Source ports: 41xxx nodes, 42xxx pods, 43xxx workstation, 44xxx apiserver → etcd,
45xxx DNS/NTP/pod-to-pod, 46xxx attacker (see attack.py).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from captures.lab import cluster as c

if TYPE_CHECKING:
    from captures.lab.scenarios import Ctx

AP = "apiserver"


def wait_log(x: Ctx, log: str, text: str, timeout: float = 20) -> None:
    path = x.run.work / f"{log}.log"
    end = time.time() + timeout
    while time.time() < end:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.1)
    tail = path.read_text(errors="replace")[-2000:] if path.exists() else ""
    raise RuntimeError(f"{log} not ready: {tail}")


def etcd_argv(x: Ctx, member: str, ip: str, *, tls: bool, peers: dict[str, str] | None,
              listen_clients: list[str], client_auth: bool) -> list[str]:
    w = x.run.world
    s = "https" if tls else "http"
    argv = ["etcd", "--name", member, "--data-dir", str(x.run.work / f"etcd-{member}"),
            "--listen-client-urls", ",".join(f"{s}://{a}:2379" for a in listen_clients),
            "--advertise-client-urls", f"{s}://{ip}:2379",
            "--listen-metrics-urls", "http://127.0.0.1:2381", "--logger", "zap",
            "--heartbeat-interval", "1000", "--election-timeout", "5000",
            # no grpc-gateway: its loopback self-dial would be indistinguishable from the apiserver's
            "--enable-grpc-gateway=false"]
    if peers:
        argv += ["--listen-peer-urls", f"{s}://{ip}:2380", "--initial-advertise-peer-urls",
                 f"{s}://{ip}:2380", "--initial-cluster",
                 ",".join(f"{m}={s}://{pip}:2380" for m, pip in peers.items()),
                 "--initial-cluster-state", "new", "--initial-cluster-token", "kubewire-lab"]
    else:
        argv += ["--listen-peer-urls", f"{s}://127.0.0.1:2380", "--initial-advertise-peer-urls",
                 f"{s}://127.0.0.1:2380", "--initial-cluster", f"{member}={s}://127.0.0.1:2380"]
    if tls:
        cert, key = w["pki"]["etcd_server"][member]
        pcert, pkey = w["pki"]["etcd_peer"][member]
        argv += ["--cert-file", cert, "--key-file", key, "--trusted-ca-file", w["pki"]["etcd_ca"],
                 "--peer-cert-file", pcert, "--peer-key-file", pkey, "--peer-trusted-ca-file",
                 w["pki"]["etcd_ca"], "--peer-client-cert-auth"]
        if client_auth:
            argv.append("--client-cert-auth")
    return argv


def start_servers(x: Ctx) -> None:
    """etcd, apiserver, kubelets, pod apps, CoreDNS, NTP; expects for etcd peers and the
    apiserver's storage connection."""
    r, sc = x.run, x.sc
    wf = str(r.world_file)
    etcd = r.world["apiserver"]["etcd"]
    if sc.etcd.startswith("external"):
        tls = sc.etcd == "external-tls"
        peers = {c.E1: c.IP[c.E1], c.E2: c.IP[c.E2]}
        for m in (c.E1, c.E2):
            r.lab.spawn(r.lab.ns(m), etcd_argv(x, m, c.IP[m], tls=tls, peers=peers,
                                               listen_clients=[c.IP[m]], client_auth=tls),
                        r.work / f"{m}.log")
        plain = not tls
        pf = ["PLAINTEXT_ETCD", "UNAUTH_ETCD"] if plain else []
        for a, b in ((c.E1, c.E2), (c.E2, c.E1)):
            e = x.expect(f"etcd-peer-{a}-{b}", a, None, b, 2380, "etcd-peer", "etcd", "etcd",
                         plaintext=plain, findings=tuple(pf), count=None,
                         tls=None if plain else "TLSv1.3",
                         auth="none" if plain else "unknown")
            e.span_run()
            r.expects.append(e)
    else:
        ips = ["127.0.0.1"] + ([c.IP[c.CP]] if sc.etcd == "stacked-exposed-plain" else [])
        tls = sc.etcd == "stacked-tls"
        r.lab.spawn(r.lab.ns(c.CP), etcd_argv(x, "etcd-1", c.IP[c.CP], tls=tls, peers=None,
                                              listen_clients=ips, client_auth=tls),
                    r.work / "etcd-cp.log")
    if etcd:
        srv = etcd["server_host"]
        loop = etcd["ip"].startswith("127.")
        plain = etcd["scheme"] == "http"
        e = x.expect("apiserver-etcd", c.CP, 44001, srv, 2379, "etcd", AP, "etcd", plaintext=plain,
                     cert=True, op="storage", loopback=loop, client_ip=etcd["src_ip"],
                     server_ip=etcd["ip"], auth="none" if plain else None,
                     findings=("PLAINTEXT_ETCD", "UNAUTH_ETCD") if plain else ())
        e.span_run()
        r.expects.append(e)
    for log in ((c.E1, c.E2) if sc.etcd.startswith("external") else ("etcd-cp",)):
        # the apiserver's storage client binds a fixed port: dial only once etcd listens
        wait_log(x, log, "serving client traffic", 30)
    r.spawn_py(c.CP, "captures.lab.apiserver", wf, log="apiserver")
    for n in (c.N1, c.N2):
        r.spawn_py(n, "captures.lab.kubelet", wf, n, log=f"kubelet-{n}")
    for p in (c.WEB1, c.WEB2):
        r.spawn_py(p.ref, "captures.lab.servers", "web", p.ip, "8080", log=f"web-{p.name}")
    r.spawn_py(c.DNS_POD.ref, "captures.lab.servers", "dns", c.DNS_POD.ip, "53",
               "kubernetes.default.svc.cluster.local=10.96.0.1",
               "web.default.svc.cluster.local=10.96.120.15", log="coredns")
    r.spawn_py(c.CP, "captures.lab.servers", "ntp", c.IP[c.CP], "123", log="ntp")
    wait_log(x, "apiserver", "apiserver ready", 60)
    for n in (c.N1, c.N2):
        wait_log(x, f"kubelet-{n}", "kubelet ready")


def api_args(x: Ctx, client_ip: str, sport: int, *, cert: list[str] | None = None,
             token: str | None = None, ip: str = c.IP[c.CP], port: int = 6443,
             ua: str = "", tls: bool = True) -> dict[str, Any]:
    w = x.run.world
    a: dict[str, Any] = {"ip": ip, "port": port, "src": [client_ip, sport], "ua": ua or c.wire_ua("kubectl"),
                         "tls": w["tls"] if tls else None, "ca": w["pki"]["ca"] if tls else None,
                         "host": f"{ip}:{port}"}
    if cert:
        a["cert"], a["key"] = cert
    if token:
        a["token"] = token
    return a


def node_traffic(x: Ctx) -> None:
    """Kubelet lease every 10 s (heartbeat client), node status + pod watch, kube-proxy watch."""
    r, w = x.run, x.run.world
    for n in (c.N1, c.N2):
        ip = c.IP[n]
        lease = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{n}?timeout=10s"
        a = api_args(x, ip, 41001, cert=w["pki"]["node_client"][n], ua=c.wire_ua("kubelet"))
        a.update(interval=10, duration=x.sc.duration - 4, requests=[
            {"method": "GET", "path": lease, "headers": [("Accept", f"{c.PROTOBUF}, */*")]},
            {"method": "PUT", "path": lease, "lease": n,
             "headers": [("Accept", f"{c.PROTOBUF}, */*"), ("Content-Type", c.PROTOBUF)]}],
            repeat=[{"method": "PUT", "path": lease, "lease": n,
                     "headers": [("Accept", f"{c.PROTOBUF}, */*"), ("Content-Type", c.PROTOBUF)]}])
        r.act(n, "http", a, [x.expect(f"lease-{n}", n, 41001, c.CP, 6443, "node-to-apiserver", "node",
                                      AP, cert=True, op="lease")], background=True)
        a = api_args(x, ip, 41002, cert=w["pki"]["node_client"][n], ua=c.wire_ua("kubelet"))
        a["requests"] = [
            {"method": "GET", "path": f"/api/v1/nodes/{n}?resourceVersion=0&timeout=10s"},
            {"method": "PATCH", "path": f"/api/v1/nodes/{n}/status?timeout=10s",
             "headers": [("Content-Type", "application/strategic-merge-patch+json")],
             "body": '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}'},
            {"method": "GET", "path": f"/api/v1/pods?fieldSelector=spec.nodeName%3D{n}&limit=500"}]
        r.act(n, "http", a, [x.expect(f"node-status-{n}", n, 41002, c.CP, 6443, "node-to-apiserver",
                                      "node", AP, cert=True, op="node-status")])
    a = api_args(x, c.IP[c.N1], 41003, cert=w["pki"]["node_client"][c.N1], ua=c.wire_ua("kube-proxy"))
    a.update(path="/api/v1/services?allowWatchBookmarks=true&resourceVersion=48213&timeoutSeconds=480"
                  "&watch=true", duration=x.sc.duration - 6)
    r.act(c.N1, "watch", a, [x.expect("kube-proxy-watch", c.N1, 41003, c.CP, 6443, "node-to-apiserver",
                                      "node", AP, cert=True, op="watch")], background=True)


def pod_api(x: Ctx) -> None:
    """A pod with its service-account token: directly to the apiserver, then via the VIP."""
    r = x.run
    p = c.CLIENT_POD
    reqs = [{"method": "GET", "path": "/api/v1/namespaces/default/pods?limit=500",
             "headers": [("Accept", "application/json")]},
            {"method": "GET", "path": "/api/v1/namespaces/default/configmaps/app-config"}]
    a = api_args(x, p.ip, 42001, token=c.SA_TOKEN, ua="agnhost/v0.0.0 (linux/amd64) kubernetes/$Format")
    a["requests"] = reqs
    r.act(p.ref, "http", a, [x.expect("pod-sa-direct", p.ref, 42001, c.CP, 6443, "pod-to-apiserver",
                                      "pod", AP, op="list")])
    a = api_args(x, p.ip, 42002, token=c.SA_TOKEN, ip=c.VIP, port=443,
                 ua="agnhost/v0.0.0 (linux/amd64) kubernetes/$Format")
    a["requests"], a["host"], a["sni"] = reqs, "kubernetes.default.svc", "kubernetes.default.svc"
    r.act(p.ref, "http", a, [x.expect("pod-sa-vip", p.ref, 42002, c.CP, 6443, "pod-to-apiserver", "pod",
                                      AP, op="list", vip=(c.VIP, 443), vip_name="default/kubernetes")])


def kubectl(x: Ctx) -> None:
    """Real kubectl from the workstation with kubeadm's admin.conf (client certificate)."""
    r = x.run
    kc = c.kubeconfig(r.work, r.world, f"https://{c.IP[c.CP]}:6443")
    env = {"HOME": str(r.work / "home"), "PATH": "/usr/bin:/bin"}
    web = c.WEB1.name
    for i, (args, op) in enumerate([
            (["get", "nodes", "-o", "wide"], "list"),
            (["get", "pods", "-n", "default"], "list"),
            (["logs", "-n", "default", web, "-c", "nginx"], "logs")]):
        e = x.expect(f"kubectl-{i}-{args[0]}", c.WS, None, c.CP, 6443, "client-to-apiserver", "client",
                     AP, cert=True, op=op, count=None)
        legs = [x.kubelet_leg("apiserver-kubelet-logs", c.N1, "logs")] if op == "logs" else []
        r.cmd(c.WS, ["kubectl", "--kubeconfig", str(kc), "--request-timeout", "10s", *args], [e, *legs],
              env=env)


def streams(x: Ctx) -> None:
    """exec / attach / port-forward / node proxy through the apiserver (kubectl-shaped client)."""
    r, w = x.run, x.run.world
    web = c.WEB1.name
    plan = [("exec", f"/api/v1/namespaces/default/pods/{web}/exec?command=id&container=nginx&stdin=true"
                     "&stdout=true&tty=true", "exec", {}),
            ("attach", f"/api/v1/namespaces/default/pods/{web}/attach?container=nginx&stdin=true&stdout=true"
                       "&tty=true", "attach", {}),
            ("port-forward", f"/api/v1/namespaces/default/pods/{web}/portforward", "port-forward",
             {"portforward": True, "proto": "portforward.k8s.io"})]
    for i, (name, path, op, extra) in enumerate(plan):
        a = api_args(x, c.IP[c.WS], 43001 + i, cert=w["pki"]["admin"])
        a.update(path=path, **extra)
        r.act(c.WS, "exec", a, [
            x.expect(f"kubectl-{name}", c.WS, 43001 + i, c.CP, 6443, "client-to-apiserver", "client", AP,
                     cert=True, op=op),
            x.kubelet_leg(f"apiserver-kubelet-{name}", c.N1, op)])
    a = api_args(x, c.IP[c.WS], 43004, cert=w["pki"]["admin"])
    a["requests"] = [{"method": "GET", "path": "/api/v1/nodes/node-2/proxy/stats/summary"}]
    r.act(c.WS, "http", a, [
        x.expect("kubectl-node-proxy", c.WS, 43004, c.CP, 6443, "client-to-apiserver", "client", AP,
                 cert=True, op="proxy"),
        x.kubelet_leg("apiserver-kubelet-node-proxy", c.N2, "stats")])


def proxy(x: Ctx) -> None:
    """apiserver proxy → pod and → service endpoint: the legs are plain HTTP by design."""
    r, w = x.run, x.run.world
    for i, (path, target, name) in enumerate([
            (f"/api/v1/namespaces/default/pods/{c.WEB1.name}:8080/proxy/", c.WEB1, "pod"),
            ("/api/v1/namespaces/default/services/web:80/proxy/index.html", c.WEB2, "service")]):
        a = api_args(x, c.IP[c.WS], 43010 + i, cert=w["pki"]["admin"])
        a["requests"] = [{"method": "GET", "path": path}]
        r.act(c.WS, "http", a, [
            x.expect(f"kubectl-proxy-{name}", c.WS, 43010 + i, c.CP, 6443, "client-to-apiserver", "client",
                     AP, cert=True, op="proxy"),
            x.expect(f"apiserver-proxy-{name}", c.CP, None, target.ref, 8080, "apiserver-proxy", AP, "pod",
                     plaintext=True, auth="none", op="proxy", findings=("PLAINTEXT_PROXY",))])


def noise(x: Ctx) -> None:
    """DNS through the kube-dns VIP, NTP from the nodes, pod-to-pod HTTP via a service VIP."""
    r = x.run
    p = c.CLIENT_POD
    for i, q in enumerate(("kubernetes.default.svc.cluster.local", "web.default.svc.cluster.local")):
        r.cmd(p.ref, ["dig", "+tries=1", "+time=2", "-b", f"{p.ip}#{45053 + i}", f"@{c.DNS_VIP}", q, "A"], [
            x.expect(f"dns-{i}", p.ref, 45053 + i, c.DNS_POD.ref, 53, "other", "pod", "dns",
                     transport="udp", plaintext=True, auth="none", vip=(c.DNS_VIP, 53),
                     vip_name="kube-system/kube-dns", vip_role="dns")])
    for n in (c.N1, c.N2):
        r.act(n, "ntp", {"src": [c.IP[n], 123], "ip": c.IP[c.CP], "port": 123, "count": 2, "interval": 0.2},
              [x.expect(f"ntp-{n}", n, 123, c.CP, 123, "other", "node", AP, transport="udp",
                        plaintext=True, auth="none")])
    a = {"ip": c.WEB_VIP, "port": 80, "src": [p.ip, 45080], "ua": "curl/7.88.1", "tls": None,
         "host": "web.default.svc.cluster.local", "requests": [{"method": "GET", "path": "/"}]}
    r.act(p.ref, "http", a, [x.expect("pod-to-pod", p.ref, 45080, c.WEB2.ref, 8080, "other", "pod", "pod",
                                      plaintext=True, auth="none", vip=(c.WEB_VIP, 80),
                                      vip_name="default/web")])
