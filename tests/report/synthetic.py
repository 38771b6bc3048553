"""Synthetic but schema-exact Results for report tests (every table via schema.conform).

A small cluster: one apiserver, one etcd, N nodes with pods, a workstation and an attacker pod;
flows on the main control-plane paths with findings covering the risky ones. ``hostile`` puts
an HTML/Markdown/mathtext payload in every capture-derived string.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from classifier import schema
from classifier.api import Result

HOSTILE_SNI = "<script>alert(1)</script>"
HOSTILE_PATH = "/<img src=x onerror=alert(1)>"
HOSTILE_NAME = "evil/$x$ | `rm` *bold* [a](javascript:alert(1)) </td><script>alert(2)</script>"

T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=UTC)


def make_result(*, nodes: int = 3, pods_per_node: int = 2, hostile: bool = False,
                findings: bool = True) -> Result:
    """Cluster size (+ hostile strings) → a Result with flows, hosts, findings, stats, inputs."""
    flows: list[dict[str, Any]] = []
    hosts: list[dict[str, Any]] = []
    api, etcd, ws, attacker = "10.0.0.10", "10.0.0.11", "192.168.1.50", "10.244.9.9"
    hosts += [
        _host(api, "apiserver", "control-1" if not hostile else HOSTILE_NAME, "control-1"),
        _host(etcd, "etcd", "", "control-1"),
        _host(ws, "client", "", ""),
        _host(attacker, "pod", "attack/shell" if not hostile else HOSTILE_NAME, "node-0"),
    ]
    n = 0

    def flow(o: str, r: str, rp: int, path: str, **kw: Any) -> str:
        nonlocal n
        n += 1
        uid = f"C{n:017d}"
        row = {
            "uid": uid, "ts": T0 + timedelta(seconds=5 * n), "duration": 1.5 + n % 7,
            "orig_h": o, "orig_p": 40000 + n, "resp_h": r, "resp_p": rp, "proto": "tcp",
            "orig_pkts": 10, "resp_pkts": 8, "orig_bytes": 1000 * n, "resp_bytes": 500 * n,
            "orig_ip_bytes": 1500 * n, "resp_ip_bytes": 900 * n, "conn_state": "SF",
            "history": "ShADadFf", "orig_guessed": False, "capture": "synthetic.pcap",
            "first_frame": 10 * n, "last_frame": 10 * n + 9, "captures": "synthetic.pcap",
            "path": path, "plaintext": False, "auth": "mtls", "path_confidence": 0.9,
            "orig_burst_interval": float("nan"),  # conform cannot NA-fill float64 columns
            "app_proto": "tls", "tls_version": "TLSv1.2",
        }
        row.update(kw)
        flows.append(row)
        return uid

    for i in range(nodes):
        nip = f"10.0.1.{i + 1}"
        nname = f"node-{i}"
        hosts.append(_host(nip, "node", nname, nname))
        flow(nip, api, 6443, "node-to-apiserver", client_role="node", server_role="apiserver",
             client_name=nname, k8s_operation="lease")
        flow(api, nip, 10250, "apiserver-to-kubelet", client_role="apiserver", server_role="node",
             server_name=nname, k8s_operation="logs")
        for j in range(pods_per_node):
            pip = f"10.244.{i}.{j + 2}"
            ns = "kube-system" if j % 2 else "default"
            hosts.append(_host(pip, "pod", f"{ns}/app-{i}-{j}", nname))
            flow(pip, api, 443, "pod-to-apiserver", auth="bearer", client_role="pod")
            if j == 0 and i + 1 < nodes:
                flow(pip, f"10.244.{i + 1}.2", 8080, "other", plaintext=True, auth="none",
                     app_proto="http", tls_version=pd.NA)
    flow(api, etcd, 2379, "etcd", client_role="apiserver", server_role="etcd")
    flow(ws, api, 6443, "client-to-apiserver", auth="bearer", tls_version="TLSv1.3",
         tls_sni=HOSTILE_SNI if hostile else "kubernetes")
    ro = flow(attacker, "10.0.1.1", 10255, "kubelet-readonly", plaintext=True, auth="none",
              app_proto="http", tls_version=pd.NA, http_method="GET",
              http_path=HOSTILE_PATH if hostile else "/pods")
    direct = flow(attacker, "10.0.1.1", 10250, "kubelet-direct", auth="none",
                  http_path=HOSTILE_PATH if hostile else "/run/default/x/c")
    proxy = flow(api, "10.244.0.2", 8080, "apiserver-proxy", plaintext=True, auth="none",
                 app_proto="http", tls_version=pd.NA)
    found: list[dict[str, Any]] = []
    if findings:
        ev_path = HOSTILE_PATH if hostile else "/pods"
        found = [
            _finding("KUBELET_READONLY_PORT", "high", f"{attacker} -> 10.0.1.1:10255", [ro],
                     {"request": f"GET {ev_path}", "status": 200}, flows),
            _finding("UNAUTH_KUBELET_ACCESS", "critical", f"{attacker} -> 10.0.1.1:10250",
                     [direct], {"request": f"POST {ev_path}", "sni": HOSTILE_SNI if hostile
                                else "node-0"}, flows),
            _finding("PLAINTEXT_PROXY", "medium", f"{api} -> 10.244.0.2:8080", [proxy],
                     {"request": "GET /metrics"}, flows),
            _finding("POD_TO_KUBELET", "high", f"{attacker} -> 10.0.1.1", [ro, direct],
                     {"ports": "10250,10255"}, flows, suppressed=True),
        ]
    stats = [
        {"capture": "synthetic.pcap", "outcome": "decoded", "reason": "", "packets": 1000},
        {"capture": "synthetic.pcap", "outcome": "skipped", "reason": "ipv4_fragment",
         "packets": 3},
        {"capture": "synthetic.pcap", "outcome": "out_of_scope", "reason": "arp", "packets": 12},
    ]
    inputs = [{"capture": "synthetic.pcap" if not hostile else "<b>syn</b>.pcap",
               "format": "pcap", "size": 123456,
               "sha256": "ab" * 32, "link_types": "ethernet", "packets": 1015,
               "first_ts": T0, "last_ts": T0 + timedelta(seconds=5 * n + 8)}]
    return Result(
        flows=schema.conform(flows, schema.FLOWS),
        hosts=schema.conform(hosts, schema.HOSTS),
        findings=schema.conform(found, schema.FINDINGS) if found else schema.empty(schema.FINDINGS),
        tls=schema.conform(_tls_rows(flows), schema.TLS),
        certificates=schema.empty(schema.CERTIFICATES),
        http=schema.conform(_http_rows(flows), schema.HTTP),
        stats=schema.conform(stats, schema.STATS),
        inputs=schema.conform(inputs, schema.INPUTS),
        filters={"paths": ["kubelet-direct"]} if hostile else {},
    )


def empty_result() -> Result:
    """A Result with every table empty (a capture with nothing in it)."""
    return Result(**{name: schema.empty(t) for name, t in (
        ("flows", schema.FLOWS), ("hosts", schema.HOSTS), ("findings", schema.FINDINGS),
        ("tls", schema.TLS), ("certificates", schema.CERTIFICATES), ("http", schema.HTTP),
        ("stats", schema.STATS), ("inputs", schema.INPUTS))})


def _tls_rows(flows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"uid": f["uid"], "ts": f["ts"], "orig_h": f["orig_h"], "resp_h": f["resp_h"],
             "resp_p": f["resp_p"], "version": f["tls_version"], "server_name": f.get("tls_sni"),
             "client_cert_presented": f["auth"] == "mtls", "established": True}
            for f in flows if f["app_proto"] == "tls"]


def _http_rows(flows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"uid": f["uid"], "ts": f["ts"], "orig_h": f["orig_h"], "resp_h": f["resp_h"],
             "resp_p": f["resp_p"], "trans_depth": 1, "version": "HTTP/1.1",
             "method": f.get("http_method") or "GET", "uri": f.get("http_path") or "/",
             "status_code": 200} for f in flows if f["app_proto"] == "http"]


def _host(ip: str, role: str, name: str, node: str) -> dict[str, Any]:
    return {"ip": ip, "role": role, "name": name or pd.NA, "node": node or pd.NA,
            "confidence": 1.0, "source": "inventory", "evidence": "inventory", "flows": 1,
            "bytes": 1}


def _finding(fid: str, sev: str, subject: str, uids: list[str], facts: dict[str, Any],
             flows: list[dict[str, Any]], suppressed: bool = False) -> dict[str, Any]:
    rows = [f for f in flows if f["uid"] in uids]
    ts = [r["ts"] for r in rows]
    return {
        "id": fid, "severity": sev, "title": f"{fid.replace('_', ' ').lower()} seen",
        "subject": subject, "count": len(uids), "first_seen": min(ts), "last_seen": max(ts),
        "uids": uids,
        "evidence": [{"capture": r["capture"], "frame": r["first_frame"], "uid": r["uid"], **facts}
                     for r in rows],
        "references": ["Kubernetes: Control Plane-Node Communication § node to control plane",
                       "CIS 4.2.4", "KHV045"],
        "suppressed": suppressed, "suppress_reason": "accepted in lab" if suppressed else pd.NA,
    }
