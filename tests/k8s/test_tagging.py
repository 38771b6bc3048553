"""tag_paths on hand-built dissected flows: one scenario per path, role, auth and operation."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from classifier import schema
from classifier.k8s import PATHS, ROLES, load_inventory, tag_paths
from classifier.k8s.paths import RULES
from tests.k8s.util import flow, frame, http, tls

FIX = Path(__file__).parent / "fixtures"
CP, W1, W2 = "192.168.56.10", "192.168.56.11", "192.168.56.12"
POD, POD2, WS = "10.244.1.5", "10.244.1.9", "192.168.56.1"
APISERVER_CERT = dict(server_cert_subject="CN=kube-apiserver", server_cert_issuer="CN=kubernetes",
                      server_cert_sans="cp1,kubernetes,kubernetes.default,kubernetes.default.svc,"
                                       "kubernetes.default.svc.cluster.local,10.96.0.1,192.168.56.10")
KUBELET_CERT = dict(server_cert_subject="CN=worker1@1764237000",
                    server_cert_issuer="CN=worker1-ca@1764237000", server_cert_self_signed=True)


def _tls12(orig_h: str, resp_h: str, port: int, client_cn: str | None = None, **kw: object) -> dict:
    extra: dict[str, object] = dict(client_cert_requested=True,
                                    client_cert_presented=client_cn is not None)
    if client_cn:
        extra["client_cert_subject"] = client_cn
    extra.update(kw)
    return tls(orig_h, resp_h, port, "TLSv1.2", **extra)


def cluster_rows() -> list[dict]:
    return [
        _tls12(W1, CP, 6443, "O=system:nodes,CN=system:node:worker1", uid="node_api", **APISERVER_CERT),
        _tls12(CP, W1, 10250, "O=kubeadm:cluster-admins,CN=kube-apiserver-kubelet-client",
               uid="api_kubelet", **KUBELET_CERT),
        tls(POD, "10.96.0.1", 443, uid="pod_vip", tls_sni="kubernetes.default.svc"),
        http(POD, W1, 10255, path="/pods", uid="ro_pods"),
        http(POD, W1, 10250, method="POST", path="/run/default/web-1/web", status=200,
             uid="direct_run", app_proto="http"),
        tls("172.30.0.9", CP, 6443, uid="ws_api"),
        http(CP, POD2, 8080, path="/healthz", uid="proxy_pod",
             http_forwarded_uri="/api/v1/namespaces/default/pods/web-2:8080/proxy/healthz"),
        flow(CP, "127.0.0.1", 2379, uid="etcd_plain", app_proto="grpc",
             grpc_method="/etcdserverpb.KV/Range"),
        tls(CP, "192.168.56.13", 2380, uid="etcd_peer", tls_alpn="h2"),
        flow(CP, W2, 22, uid="ssh", app_proto="ssh", ssh_client="SSH-2.0-Go",
             ssh_server="SSH-2.0-OpenSSH_9.2p1"),
        tls(W2, CP, 8132, uid="konn_agent", tls_alpn="h2", duration=600.0),
        tls(W2, W2, 10250, uid="agent_kubelet"),
        http(CP, W1, 10257, path="/healthz", uid="kcm"),
        flow(POD, "10.96.0.10", 53, uid="dns", proto="udp", app_proto="dns"),
        http(POD, POD2, 8080, path="/", uid="pod_pod"),
        http(WS, CP, 8080, path="/api/v1/namespaces", uid="insecure",
             http_user_agent="kubectl/v1.31.2 (linux/amd64) kubernetes/5864a46"),
        flow(CP, W1, 8090, uid="connect", app_proto="connect", http_method="CONNECT",
             connect_target="192.168.56.11:10250", tunnel_proto="tls"),
    ]


EXPECTED_PATHS = {
    "node_api": "node-to-apiserver", "api_kubelet": "apiserver-to-kubelet",
    "pod_vip": "pod-to-apiserver", "ro_pods": "kubelet-readonly", "direct_run": "kubelet-direct",
    "ws_api": "client-to-apiserver", "proxy_pod": "apiserver-proxy", "etcd_plain": "etcd",
    "etcd_peer": "etcd-peer", "ssh": "ssh-tunnel", "konn_agent": "konnectivity",
    "agent_kubelet": "apiserver-to-kubelet", "kcm": "control-plane-other", "dns": "other",
    "pod_pod": "other", "insecure": "client-to-apiserver", "connect": "konnectivity",
}


def _tag(rows: list[dict], inventory: object = None) -> pd.DataFrame:
    return tag_paths(frame(rows), inventory=inventory).flows.set_index("uid")  # type: ignore[arg-type]


def test_every_path_without_inventory() -> None:
    out = _tag(cluster_rows())
    got = out["path"].astype(str).to_dict()
    assert got == EXPECTED_PATHS
    assert set(EXPECTED_PATHS.values()) == set(PATHS)  # every contract path exercised


def test_roles_and_names_from_traffic() -> None:
    out = _tag(cluster_rows())
    r = out.loc["node_api"]
    assert (r.client_role, r.client_name, r.server_role) == ("node", "worker1", "apiserver")
    r = out.loc["api_kubelet"]
    assert (r.client_role, r.server_role, r.server_name) == ("apiserver", "node", "worker1")
    assert out.loc["pod_vip", "server_role"] == "service-vip"
    assert out.loc["pod_vip", "client_role"] == "pod"
    assert out.loc["proxy_pod", "server_name"] == "default/web-2"
    assert out.loc["ssh", "server_role"] == "node"
    assert out.loc["konn_agent", "server_role"] == "konnectivity-server"
    assert out.loc["insecure", "client_role"] == "client"
    assert out.loc["dns", "server_role"] == "dns"
    assert set(out["client_role"].astype(str)) | set(out["server_role"].astype(str)) <= set(ROLES)


def test_plaintext_and_auth() -> None:
    out = _tag(cluster_rows())
    assert out.loc["node_api", "auth"] == "mtls" and not out.loc["node_api", "plaintext"]
    assert out.loc["ws_api", "auth"] == "unknown"  # TLS 1.3 hides it
    assert out.loc["ro_pods", "auth"] == "none" and out.loc["ro_pods", "plaintext"]
    assert out.loc["etcd_plain", "auth"] == "none" and out.loc["etcd_plain", "plaintext"]
    assert out.loc["ssh", "plaintext"] == False  # noqa: E712 (pandas boolean)
    # TLS 1.2 empty client Certificate: no certificate, but a token may ride inside the TLS
    empty_cert = _tag([_tls12(POD, W1, 10250, None, uid="anon")])
    assert empty_cert.loc["anon", "auth"] == "unknown"
    refused = _tag([flow(POD, W1, 10255, uid="rej", conn_state="REJ", orig_bytes=0, resp_bytes=0)])
    assert refused.loc["rej", "plaintext"] == False  # noqa: E712 (nothing travelled in clear)
    assert refused.loc["rej", "auth"] == "unknown"
    ntp = _tag([flow(W1, CP, 123, uid="ntp", proto="udp", orig_bytes=48, resp_bytes=48)])
    assert ntp.loc["ntp", "plaintext"] and ntp.loc["ntp", "auth"] == "none"
    assert ntp.loc["ntp", "path"] == "other"
    bearer = _tag([http(POD, CP, 8080, path="/api/v1/secrets", uid="b", auth_kind="bearer",
                        auth_fingerprint="0123456789ab")])
    assert bearer.loc["b", "auth"] == "bearer"
    basic = _tag([http(WS, CP, 8080, path="/api", uid="b", auth_kind="basic")])
    assert basic.loc["b", "auth"] == "basic"


@pytest.mark.parametrize(("row", "op"), [
    (http(CP, W1, 10250, path="/containerLogs/default/web-1/web", http_query="follow=true"), "logs"),
    (http(CP, W1, 10250, method="POST", path="/exec/default/web-1/web", http_query="command=sh&input=1",
          http_upgrade="SPDY/3.1", http_stream_protocol="v4.channel.k8s.io"), "exec"),
    (http(CP, W1, 10250, method="POST", path="/attach/default/web-1/web"), "attach"),
    (http(CP, W1, 10250, method="POST", path="/portForward/default/web-1"), "port-forward"),
    (http(WS, CP, 8080, method="POST", path="/api/v1/namespaces/default/pods/web-1/portforward"),
     "port-forward"),
    (http(POD, W1, 10255, path="/pods"), "read-only-pods"),
    (http(POD, W1, 10250, path="/pods"), "pods"),
    (http(POD, W1, 10250, method="POST", path="/run/default/web-1/web"), "run"),
    (http(W1, CP, 8080, method="PUT",
          path="/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/worker1"), "lease"),
    (http(W1, CP, 8080, path="/api/v1/services", http_query="resourceVersion=1&watch=true"), "watch"),
    (http(CP, POD, 8080, path="/x", http_forwarded_uri="/api/v1/namespaces/d/services/web/proxy/x"),
     "proxy"),
    (flow(CP, CP, 2379, app_proto="grpc", grpc_method="/etcdserverpb.KV/Range"), "etcd-range"),
    (flow(CP, CP, 2379, app_proto="grpc", grpc_method="/etcdserverpb.KV/Put"), "etcd-put"),
    (tls(CP, W1, 10250), None),
])
def test_operations(row: dict, op: str | None) -> None:
    got = _tag([row]).iloc[0]["k8s_operation"]
    assert (None if pd.isna(got) else got) == op


def test_operation_from_later_requests_in_http_table() -> None:
    row = http(W1, CP, 8080, path="/api/v1/nodes/worker1", uid="k")
    http_t = schema.conform([
        {"uid": "k", "trans_depth": 1, "method": "GET", "uri": "/api/v1/nodes/worker1",
         "user_agent": "kubelet/v1.31.2 (linux/amd64) kubernetes/5864a46"},
        {"uid": "k", "trans_depth": 2, "method": "PUT",
         "uri": "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/worker1"}],
        schema.HTTP)
    out = tag_paths(frame([row]), http=http_t).flows.iloc[0]
    assert out["k8s_operation"] == "lease"
    assert (out["path"], out["client_role"]) == ("node-to-apiserver", "node")


def test_inventory_roles_beat_guesses() -> None:
    inv = load_inventory([str(FIX / "cluster.json"), str(FIX / "cluster.kubewire.yaml")])
    rows = [
        tls(POD, CP, 6443, uid="pod_direct"),            # TLS 1.3: only the inventory knows it is a pod
        tls(W1, CP, 6443, uid="kube_proxy"),             # hostNetwork kube-proxy: node worker1
        tls(WS, CP, 6443, uid="workstation"),
        tls("10.99.0.7", CP, 6443, uid="stranger"),
        flow("10.244.0.2", "10.96.0.10", 53, proto="udp", app_proto="dns", uid="dns"),
    ]
    out = _tag(rows, inv)
    assert out.loc["pod_direct", "path"] == "pod-to-apiserver"
    assert out.loc["pod_direct", "client_name"] == "default/web-1"
    assert out.loc["kube_proxy", "path"] == "node-to-apiserver"
    assert out.loc["kube_proxy", "client_name"] == "worker1"
    assert out.loc["workstation", "client_role"] == "client"
    assert out.loc["stranger", "client_role"] == "client"
    assert out.loc["stranger", "path"] == "client-to-apiserver"
    assert out.loc["dns", "client_name"] == "kube-system/coredns-7c65d6cfc9-4xg8w"
    assert out.loc["dns", "server_role"] == "dns"
    assert (out["path_confidence"] > 0).all()


def test_hosts_table() -> None:
    inv = load_inventory([str(FIX / "cluster.json")])
    t = tag_paths(frame(cluster_rows()), inventory=inv)
    hosts = t.hosts.set_index("ip")
    assert list(t.hosts.columns) == schema.HOSTS.names
    cp = hosts.loc[CP]
    assert (cp.role, cp["name"], cp.node, cp.source) == ("apiserver", "cp1", "cp1", "both")
    assert "also" in cp.evidence and "etcd" in cp.evidence
    assert hosts.loc[W1, "role"] == "node" and hosts.loc[W1, "source"] == "both"
    assert hosts.loc["172.30.0.9", "role"] == "client"
    assert hosts.loc[POD, "name"] == "default/web-1"
    rows = cluster_rows()  # two ends per flow, one for a flow from an address to itself
    assert int(hosts["flows"].sum()) == sum(1 if r["orig_h"] == r["resp_h"] else 2 for r in rows)
    assert hosts.loc[W2, "role"] == "node" and hosts.loc[W2, "source"] == "inferred"


def test_konnectivity_notes() -> None:
    out = _tag(cluster_rows())
    assert "konnectivity" in str(out.loc["konn_agent", "path_note"])
    assert "agent" in str(out.loc["agent_kubelet", "path_note"])
    assert pd.isna(out.loc["node_api", "path_note"])


def test_evidence_and_confidence_columns() -> None:
    out = _tag(cluster_rows())
    assert out.loc["node_api", "path_evidence"].count(";") >= 2
    assert "system:node:worker1" in out.loc["node_api", "path_evidence"]
    assert out["path_confidence"].between(0, 1).all()
    assert out.loc["pod_pod", "path_evidence"] == "no control-plane rule matched"


def test_port_alone_is_not_enough() -> None:
    """Non-Kubernetes traffic on ports shared with k8s stays 'other'."""
    rows = [
        http("10.1.1.1", "10.1.1.2", 8080, path="/index.html", uid="web8080"),
        http("10.1.1.1", "10.1.1.2", 8065, path="/api/v4/users/login", uid="mattermost",
             auth_kind="bearer"),
        _tls12("10.1.1.1", "81.2.69.160", 443, "CN=alice", uid="mtls443",
               server_cert_subject="CN=certauth.idrix.fr"),
        flow("10.1.1.1", "10.1.1.2", 22, app_proto="ssh", uid="ssh"),
        flow("10.1.1.1", "10.1.1.2", 80, app_proto="connect", http_method="CONNECT",
             connect_target="secure.newegg.com:443", uid="connect"),
        flow("10.1.1.1", "10.0.0.1", 443, app_proto="tls", tls_version="TLSv1.3", uid="router"),
    ]
    out = _tag(rows)
    assert set(out["path"].astype(str)) == {"other"}, out[["path", "path_evidence"]]


def test_empty_flows() -> None:
    t = tag_paths(schema.empty(schema.FLOW_BASE + schema.FLOW_DISSECT))
    assert list(t.flows.columns) == schema.FLOWS.names and len(t.flows) == 0
    assert list(t.hosts.columns) == schema.HOSTS.names and len(t.hosts) == 0


def test_rule_table_is_well_formed() -> None:
    assert RULES[-1].path == "other"
    assert {r.path for r in RULES} == set(PATHS)
    assert all(0 < r.confidence <= 1 for r in RULES)


def test_overlay_and_default_pod_cidr_hints() -> None:
    """Without an inventory: overlay inner ends are pods, outer ends nodes; 10.244/16 is a weak
    pod hint that never makes a control-plane path by itself."""
    rows = [
        http("10.244.1.3", "10.244.2.3", 8080, uid="vx", tunnel="vxlan", tunnel_orig_h=W1,
             tunnel_resp_h=W2, tunnel_id=1),
        tls(W1, CP, 6443, uid="lease"),
        tls("10.244.1.2", CP, 6443, uid="pod_api"),
        http("10.244.7.7", "10.244.7.8", 9000, uid="plain"),
    ]
    out = _tag(rows)
    assert (out.loc["vx", "client_role"], out.loc["vx", "server_role"]) == ("pod", "pod")
    assert (out.loc["lease", "client_role"], out.loc["lease", "path"]) == ("node", "node-to-apiserver")
    assert out.loc["pod_api", "path"] == "pod-to-apiserver"
    assert out.loc["pod_api", "path_confidence"] <= 0.45
    assert out.loc["plain", "path"] == "other"


def test_pod_side_capture_vips_keep_inventory_roles(tmp_path: Path) -> None:
    inv_file = FIX / "cluster.json"
    inv = load_inventory([str(inv_file)])
    rows = [
        flow(POD, "10.96.0.10", 53, uid="dns", proto="udp", app_proto="dns"),
        http(POD, "10.96.12.34", 80, uid="web"),
        tls(POD, "10.96.0.1", 443, uid="api"),
    ]
    out = _tag(rows, inv)
    assert out.loc["dns", "server_role"] == "dns" and out.loc["dns", "server_name"] == "kube-system/kube-dns"
    assert out.loc["web", "server_role"] == "service-vip" and out.loc["web", "path"] == "other"
    assert (out.loc["api", "server_role"], out.loc["api", "path"]) == ("service-vip", "pod-to-apiserver")


def test_connect_tunnel_headers_describe_the_far_end() -> None:
    """A plaintext CONNECT to the konnectivity server whose tunnelled request is a node-proxy
    call: the server is the konnectivity server, not the proxied node."""
    row = flow("127.0.0.1", "127.0.0.1", 8090, uid="c", app_proto="connect", http_method="CONNECT",
               connect_target="192.168.56.12:10255", tunnel_proto="http",
               http_forwarded_uri="/api/v1/nodes/worker2:10255/proxy/pods")
    out = _tag([row]).loc["c"]
    assert (out["path"], out["client_role"], out["server_role"]) == \
        ("konnectivity", "apiserver", "konnectivity-server")
    assert out["plaintext"] and out["auth"] == "none"


@pytest.mark.parametrize(("interval", "duration", "role"), [
    (10.0, 300.0, "node"),      # kubelet lease renewals every 10 s on a long TLS 1.3 flow
    (9.1, 120.0, "node"),
    (30.0, 300.0, "client"),    # another cadence: nothing says node
    (10.0, 12.0, "client"),     # too short to tell
])
def test_lease_cadence_marks_nodes(interval: float, duration: float, role: str) -> None:
    rows = [tls("172.20.0.5", CP, 6443, uid="c", duration=duration, orig_burst_interval=interval),
            _tls12(W1, CP, 6443, None, uid="cert", **APISERVER_CERT)]
    out = _tag(rows)
    assert out.loc["c", "client_role"] == role
    assert out.loc["c", "path"] == ("node-to-apiserver" if role == "node" else "client-to-apiserver")
    if role == "node":
        assert "lease cadence" in out.loc["c", "path_evidence"]
