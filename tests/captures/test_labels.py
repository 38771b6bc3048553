"""The reference captures' labels are well-formed, and tshark sees what they claim."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import CAPTURES
from tests.tshark import fields

PATHS = {"node-to-apiserver", "pod-to-apiserver", "client-to-apiserver", "apiserver-to-kubelet",
         "apiserver-proxy", "kubelet-readonly", "kubelet-direct", "etcd", "etcd-peer", "konnectivity",
         "ssh-tunnel", "control-plane-other", "other"}
ROLES = {"apiserver", "node", "pod", "etcd", "konnectivity-server", "service-vip", "client", "dns",
         "unknown"}
AUTH = {"mtls", "bearer", "basic", "none", "unknown"}
FINDINGS = {"PLAINTEXT_APISERVER", "ANONYMOUS_API_ACCESS", "KUBELET_READONLY_PORT",
            "UNAUTH_KUBELET_ACCESS", "KUBELET_SELF_SIGNED_CERT", "PLAINTEXT_PROXY", "EXEC_OVER_PLAINTEXT",
            "CREDENTIALS_IN_PLAINTEXT", "PLAINTEXT_ETCD", "UNAUTH_ETCD", "POD_TO_KUBELET", "PORT_SCAN",
            "SSH_TUNNEL_DEPRECATED", "KONNECTIVITY_PLAINTEXT", "LEGACY_TLS", "INSECURE_COMPONENT_PORT",
            "UNVERIFIED_TLS_PEER", "ETCD_EXPOSED_TO_PODS", "TOKEN_REUSE"}
VARIANTS = {"ethernet-us", "ethernet-ns", "pcapng", "sll2", "pod-side", "vxlan", "point-a", "point-b"}
TLS = {"TLSv1.0", "TLSv1.1", "TLSv1.2", "TLSv1.3", None}
CONN_KEYS = {"id", "transport", "client", "client_port", "server", "server_port", "path", "client_role",
             "server_role", "client_name", "server_name", "plaintext", "auth", "tls_version",
             "k8s_operation", "findings"}

LABELS = sorted(CAPTURES.glob("*.labels.json"))


def _load(p: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(p.read_text())
    return data


def test_reference_captures_exist() -> None:
    """`make demo` needs cluster-tls12.pcap; other stages grade against these labels."""
    assert (CAPTURES / "cluster-tls12.pcap").is_file()
    assert len(LABELS) >= 1
    total = sum(f.stat().st_size for f in CAPTURES.iterdir() if f.is_file())
    assert total < 12 * 1024 * 1024, "captures/ should stay small"


@pytest.mark.parametrize("path", LABELS, ids=lambda p: p.name)
def test_labels_well_formed(path: Path) -> None:
    d = _load(path)
    assert set(d) >= {"capture", "scenario", "variant", "inventory", "kubewire_inventory", "connections",
                      "expected_findings", "notes"}
    assert (CAPTURES / d["capture"]).is_file()
    assert d["variant"] in VARIANTS
    ids = [c["id"] for c in d["connections"]]
    assert len(ids) == len(set(ids)), "connection ids must be unique"
    tuples = [(c["transport"], c["client"], c["client_port"], c["server"], c["server_port"])
              for c in d["connections"]]
    assert len(tuples) == len(set(tuples)), "5-tuples must be unique"
    for c in d["connections"]:
        assert set(c) == CONN_KEYS, c["id"]
        assert c["transport"] in ("tcp", "udp")
        ipaddress.ip_address(c["client"])
        ipaddress.ip_address(c["server"])
        assert 0 < c["client_port"] < 65536 and 0 < c["server_port"] < 65536
        assert c["path"] in PATHS, c
        assert c["client_role"] in ROLES and c["server_role"] in ROLES, c
        assert c["auth"] in AUTH, c
        assert c["tls_version"] in TLS, c
        assert set(c["findings"]) <= FINDINGS, c
        if c["plaintext"]:
            assert c["tls_version"] is None, c
        if c["tls_version"] == "TLSv1.3":
            assert c["auth"] == "unknown", "TLS 1.3 hides client authentication"
        if c["auth"] in ("bearer", "basic"):
            assert c["plaintext"], "bearer/basic are only observable in plaintext"
    by_id = {c["id"]: c for c in d["connections"]}
    listed: dict[str, set[str]] = {}
    for f in d["expected_findings"]:
        assert f["id"] in FINDINGS
        for cid in f["connections"]:
            assert cid in by_id, f"{f['id']} references unknown connection {cid}"
            listed.setdefault(cid, set()).add(f["id"])
    for cid, c in by_id.items():
        assert set(c["findings"]) == listed.get(cid, set()), cid


@pytest.mark.parametrize("path", LABELS, ids=lambda p: p.name)
def test_inventory_has_kubectl_shape(path: Path) -> None:
    d = _load(path)
    if d["inventory"] is None:
        return
    inv = json.loads((CAPTURES / d["inventory"]).read_text())
    assert inv["kind"] == "List" and inv["apiVersion"] == "v1"
    kinds = {i["kind"] for i in inv["items"]}
    assert kinds == {"Node", "Pod", "Service", "Endpoints"}
    for i in inv["items"]:
        assert i["apiVersion"] == "v1" and i["metadata"]["name"]
        if i["kind"] == "Node":
            assert any(a["type"] == "InternalIP" for a in i["status"]["addresses"])
        elif i["kind"] == "Pod":
            assert i["metadata"]["namespace"] and i["spec"]["nodeName"]
            assert i["status"]["podIP"] == i["status"]["podIPs"][0]["ip"]
        elif i["kind"] == "Service":
            assert i["spec"]["clusterIP"] in i["spec"]["clusterIPs"] and i["spec"]["ports"]
    eps = [i for i in inv["items"] if i["kind"] == "Endpoints" and i["metadata"]["name"] == "kubernetes"]
    assert eps and eps[0]["metadata"]["namespace"] == "default"
    kw = yaml.safe_load((CAPTURES / d["kubewire_inventory"]).read_text())
    assert set(kw) == {"apiservers", "etcd", "konnectivity_servers", "pod_cidrs", "service_cidrs", "clients"}
    assert eps[0]["subsets"][0]["addresses"][0]["ip"] in kw["apiservers"]
    for cidr in kw["pod_cidrs"] + kw["service_cidrs"]:
        ipaddress.ip_network(cidr)


def _tshark_tcp(capture: Path) -> tuple[dict[tuple[str, int, str, int], int], dict[int, str]]:
    """5-tuple of every SYN → tcp.stream, and tcp.stream → negotiated TLS version."""
    syns = {}
    for ip_src, sport, ip_dst, dport, stream in fields(
            capture, ["ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "tcp.stream"],
            display_filter="tcp.flags.syn==1 && tcp.flags.ack==0", extra=["-E", "occurrence=l"]):
        syns[(ip_src, int(sport), ip_dst, int(dport))] = int(stream)
    names = {"0x0301": "TLSv1.0", "0x0302": "TLSv1.1", "0x0303": "TLSv1.2", "0x0304": "TLSv1.3"}
    versions = {}
    for row in fields(capture, ["tcp.stream", "tls.handshake.version",
                                "tls.handshake.extensions.supported_version"],
                      display_filter="tls.handshake.type==2"):
        v = row[2] if len(row) > 2 and row[2] else row[1]
        versions.setdefault(int(row[0]), names.get(v.split(",")[0], v))
    return syns, versions


@pytest.mark.parametrize("path", LABELS, ids=lambda p: p.name)
def test_tshark_sees_every_labelled_connection(path: Path, tshark: str) -> None:
    d = _load(path)
    capture = CAPTURES / d["capture"]
    syns, versions = _tshark_tcp(capture)
    udp = {(r[0], int(r[1]), r[2], int(r[3])) for r in fields(
        capture, ["ip.src", "udp.srcport", "ip.dst", "udp.dstport"], display_filter="udp",
        extra=["-E", "occurrence=l"])}
    for c in d["connections"]:
        key = (c["client"], c["client_port"], c["server"], c["server_port"])
        if c["transport"] == "udp":
            assert key in udp, c["id"]
            continue
        assert key in syns, f"{c['id']} {key} not in {capture.name}"
        assert versions.get(syns[key]) == c["tls_version"], c["id"]
    labelled = {(c["client"], c["client_port"], c["server"], c["server_port"])
                for c in d["connections"] if c["transport"] == "tcp"}
    assert set(syns) <= labelled, f"unlabelled TCP connections: {set(syns) - labelled}"
