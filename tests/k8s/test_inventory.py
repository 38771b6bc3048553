"""Inventory import: real kubectl shapes (JSON, YAML, typed lists, single objects), kubewire YAML,
and malformed files that must name the file and the field."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest
import yaml

from classifier.errors import InventoryError
from classifier.k8s import load_inventory

FIX = Path(__file__).parent / "fixtures"
CLUSTER = FIX / "cluster.json"


def test_kubectl_list_json() -> None:
    inv = load_inventory([str(CLUSTER)])
    assert inv.nodes == {"192.168.56.10": "cp1", "192.168.56.11": "worker1"}
    assert inv.pods["10.244.1.5"].ref == "default/web-1"
    assert inv.pods["10.244.1.5"].node == "worker1"
    assert inv.pods["10.244.0.2"].component == "kube-dns"
    # hostNetwork pods live on their node's address
    assert inv.pods["192.168.56.11"].host_network
    assert inv.apiservers == {"192.168.56.10"}  # default/kubernetes endpoints + static pod
    assert inv.etcd == {"192.168.56.10"}
    assert inv.kubernetes_vips == {"10.96.0.1"}
    assert inv.dns == {"10.96.0.10"}
    assert inv.services["10.96.12.34"].ports == (80,)
    assert "None" not in inv.services and len(inv.services) == 3
    assert inv.endpoints["10.244.1.5"] == {"default/web"}
    assert inv.pod_cidrs == [ipaddress.ip_network("10.244.0.0/24"), ipaddress.ip_network("10.244.1.0/24")]
    assert inv.knows("10.244.1.200") and not inv.knows("192.168.56.1")


def test_yaml_variant_equals_json(tmp_path: Path) -> None:
    y = tmp_path / "cluster.yaml"
    y.write_text(yaml.safe_dump(json.loads(CLUSTER.read_text())))
    a, b = load_inventory([str(CLUSTER)]), load_inventory([str(y)])
    assert (a.nodes, a.pods, a.services, a.endpoints, a.apiservers) == \
           (b.nodes, b.pods, b.services, b.endpoints, b.apiservers)


def test_endpointslices_and_merge() -> None:
    inv = load_inventory([str(CLUSTER), str(FIX / "endpointslices.yaml")])
    assert inv.apiservers == {"192.168.56.10", "192.168.56.20"}
    assert inv.endpoints["10.244.1.9"] == {"default/web"}
    assert inv.files == [str(CLUSTER), str(FIX / "endpointslices.yaml")]


def test_kubewire_yaml() -> None:
    inv = load_inventory([str(FIX / "cluster.kubewire.yaml")])
    assert inv.apiservers == {"192.168.56.10"} and inv.clients == {"192.168.56.1"}
    assert inv.konnectivity_servers == {"192.168.56.10"}
    assert inv.in_pod_cidr("10.244.7.7") and inv.in_service_cidr("10.96.0.1")
    assert not inv.in_pod_cidr("192.168.56.10")


def test_single_object_and_typed_list(tmp_path: Path) -> None:
    node = tmp_path / "node.json"
    node.write_text(json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n9"},
                                "status": {"addresses": [{"type": "InternalIP", "address": "10.1.1.9"}]}}))
    pods = tmp_path / "pods.yaml"  # the API's typed list: items carry no kind
    pods.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "PodList", "items": [
        {"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n9"},
         "status": {"podIP": "10.2.0.4"}}]}))
    inv = load_inventory([str(node), str(pods)])
    assert inv.nodes["10.1.1.9"] == "n9" and inv.pods["10.2.0.4"].ref == "ns/p"


def test_ipv6_addresses_are_canonical(tmp_path: Path) -> None:
    p = tmp_path / "kw.yaml"
    p.write_text("apiservers: ['fd00:0::0010']\npod_cidrs: ['fd00:10::/64']\n")
    inv = load_inventory([str(p)])
    assert inv.apiservers == {"fd00::10"} and inv.in_pod_cidr("fd00:10::5")


@pytest.mark.parametrize(("content", "field"), [
    ({"kind": "List", "items": [{"kind": "Node", "metadata": {"name": "a"}},
                                {"kind": "Node", "metadata": {"name": "b"}},
                                {"kind": "Node", "metadata": {"name": "c"}},
                                {"kind": "Node", "metadata": {"name": "d"}, "status": {"addresses": "x"}}]},
     "items[3].status.addresses: expected a list"),
    ({"kind": "List", "items": {"a": 1}}, "items: expected a list"),
    ({"kind": "List", "items": [{"kind": "Pod", "metadata": {"name": "p"},
                                 "status": {"podIP": "10.0.0.300"}}]},
     "items[0].status.podIP: not an IP address"),
    ({"kind": "List", "items": [{"kind": "Pod", "metadata": {}}]}, "items[0].metadata.name: missing"),
    ({"kind": "Service", "metadata": {"name": "s"}, "spec": {"ports": [{"port": "https"}]}},
     "spec.ports[0].port: expected a port number"),
    ({"kind": "List", "items": ["x"]}, "items[0]: expected a mapping"),
    ({"apiservers": "10.0.0.1", "podcidrs": ["10.0.0.0/8"]}, "podcidrs: unknown key"),
    ({"pod_cidrs": ["10.0.0.0/33"]}, "pod_cidrs[0]: not a CIDR"),
    ({"apiservers": {"a": 1}}, "apiservers: expected a list"),
])
def test_malformed_names_file_and_field(tmp_path: Path, content: object, field: str) -> None:
    p = tmp_path / "cluster.json"
    p.write_text(json.dumps(content))
    with pytest.raises(InventoryError) as exc:
        load_inventory([str(p)])
    assert str(exc.value).startswith(f"{p}: ")
    assert field in str(exc.value)


@pytest.mark.parametrize(("text", "what"), [
    ('{"kind": "List", "items": [}', "invalid JSON"),
    ("apiservers: [1.2.3.4\n", "invalid YAML"),
    ("", "empty file"),
    ("- 1\n- 2\n", "expected a mapping"),
])
def test_unparseable(tmp_path: Path, text: str, what: str) -> None:
    p = tmp_path / "inv.yaml"
    p.write_text(text)
    with pytest.raises(InventoryError, match=what) as exc:
        load_inventory([str(p)])
    assert str(p) in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="no such file"):
        load_inventory([str(tmp_path / "nope.json")])
