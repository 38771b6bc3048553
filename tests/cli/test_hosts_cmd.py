"""`kubewire hosts`: terminal table, -o csv/json/parquet, filters, errors (CLI plumbing over a
Result built from hand-made flows; end to end once the capture stages have landed)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from classifier import api, schema
from classifier.k8s import tag_paths
from tests.cli.helpers import patch_analyze, run_main
from tests.k8s.util import frame, tls

CP, W1 = "192.168.56.10", "192.168.56.11"
ROOT = Path(__file__).resolve().parents[2]


def _result(*_: Any, **kw: Any) -> api.Result:
    rows = [tls(W1, CP, 6443, "TLSv1.2", client_cert_presented=True,
                client_cert_subject="CN=system:node:worker1,O=system:nodes",
                server_cert_subject="CN=kube-apiserver"),
            tls("10.9.9.9", "10.9.9.8", 8443)]
    t = tag_paths(frame(rows))
    flows = t.flows
    if kw.get("filters") is not None and kw["filters"].hosts:
        flows = flows[flows["orig_h"].isin(kw["filters"].hosts)]
    e = {n: schema.empty(getattr(schema, n.upper())) for n in
         ("findings", "tls", "certificates", "http", "stats", "inputs")}
    return api.Result(flows=flows, hosts=t.hosts, **e)


@pytest.fixture
def fake_analyze(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    return patch_analyze(monkeypatch, _result)


_run = run_main


def test_terminal_table(fake_analyze: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(["hosts", "x.pcap", "--inventory", "inv.json"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split()[:4] == ["IP", "ROLE", "NAME", "NODE"]
    cp = next(line for line in lines if line.startswith(CP))
    assert "apiserver" in cp and "certificate" in cp
    w1 = next(line for line in lines if line.startswith(W1))
    assert "node" in w1 and "worker1" in w1
    assert fake_analyze[0]["args"] == (["x.pcap"], ["inv.json"])


@pytest.mark.parametrize("suffix", [".csv", ".json", ".parquet"])
def test_output_files(fake_analyze: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
                      tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"hosts{suffix}"
    code, stdout, err = _run(["hosts", "x.pcap", "-o", str(out)], capsys)
    assert code == 0 and stdout == "" and "hosts written" in err
    if suffix == ".json":
        rows = json.loads(out.read_text())
        assert {r["ip"]: r["role"] for r in rows}[CP] == "apiserver"
        assert set(rows[0]) == set(schema.HOSTS.names)
    else:
        df = pd.read_csv(out) if suffix == ".csv" else pd.read_parquet(out)
        assert list(df.columns) == schema.HOSTS.names
        assert df.set_index("ip").loc[W1, "name"] == "worker1"


def test_quiet_and_filters(fake_analyze: list[dict[str, Any]], capsys: pytest.CaptureFixture[str],
                           tmp_path: Path) -> None:
    code, out, err = _run(["hosts", "x.pcap", "-q", "--host", W1], capsys)
    assert code == 0 and out == "" and err == ""
    out_file = tmp_path / "h.json"
    _run(["hosts", "x.pcap", "--host", W1, "-o", str(out_file)], capsys)
    assert {r["ip"] for r in json.loads(out_file.read_text())} == {W1, CP}


def test_bad_output_suffix(fake_analyze: list[dict[str, Any]], capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["hosts", "x.pcap", "-o", "hosts.xlsx"], capsys)
    assert code == 2 and "hosts.xlsx" in err and not fake_analyze


def test_bad_inventory_is_a_user_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    inv = tmp_path / "cluster.json"
    inv.write_text('{"kind": "List", "items": [{"kind": "Node", "metadata": {"name": "a"}, '
                   '"status": {"addresses": 7}}]}')
    code, _, err = _run(["hosts", str(ROOT / "README.md"), "--inventory", str(inv)], capsys)
    assert code == 2
    assert f"{inv}: items[0].status.addresses: expected a list" in err


LAB = ROOT / "captures" / "cluster-tls12.pcap"


@pytest.mark.skipif(not LAB.exists(), reason="lab captures not generated")
def test_end_to_end_on_a_lab_capture(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = tmp_path / "hosts.json"
    code, _, err = _run(["hosts", str(LAB), "--inventory", str(LAB.with_name("cluster-tls12.inventory.json")),
                         "-o", str(out)], capsys)
    assert code == 0, err
    rows = {r["ip"]: r for r in json.loads(out.read_text())}
    assert (rows["192.168.10.10"]["role"], rows["192.168.10.10"]["name"]) == ("apiserver", "cp-1")
    assert rows["192.168.10.11"]["role"] == "node" and rows["192.168.10.11"]["source"] == "both"
    assert rows["10.244.2.2"]["role"] == "dns"
    code, _, _ = _run(["hosts", str(LAB), "--path", "ssh-tunnel", "-q"], capsys)
    assert code == 0
