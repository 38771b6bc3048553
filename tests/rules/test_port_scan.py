from __future__ import annotations

from classifier.rules.port_scan import PortScan
from tests.rules.frames import flow, run

R = PortScan()
SCANNER = "10.244.3.3"


def _probe(host: str, port: int, state: str = "REJ") -> dict[str, object]:
    return flow(orig_h=SCANNER, resp_h=host, resp_p=port, conn_state=state, orig_bytes=0,
                resp_bytes=0, path="other")


def test_sweep_is_one_finding_with_probed_targets() -> None:
    probes = [_probe(f"10.0.0.{h}", p) for h in (11, 12) for p in (6443, 2379, 10255)]
    probes.append(_probe("10.0.0.11", 10250, state="SF"))  # open port: connect, no request
    request = flow(orig_h=SCANNER, resp_h="10.0.0.11", resp_p=10250, path="kubelet-direct")
    out = run(R, [*probes, request])
    assert len(out) == 1
    row = out.iloc[0]
    assert row["subject"] == SCANNER and row["count"] == len(probes)
    assert request["uid"] not in row["uids"]
    summary = row["evidence"][0]
    assert "10.0.0.11:10250" in summary["accepted"]
    assert "10.0.0.12:2379" in summary["refused_or_unanswered"]
    assert len(summary["probed"]) == 7


def test_single_port_wide_sweep_counts() -> None:
    probes = [_probe(f"10.0.1.{h}", 10250, state="S0") for h in range(1, 9)]
    assert len(run(R, probes)) == 1


def test_normal_clients_and_few_failures_are_not_scans() -> None:
    kubelet = [flow(orig_h="10.0.0.21", resp_p=6443, path="node-to-apiserver") for _ in range(20)]
    retries = [_probe("10.0.0.11", 6443) for _ in range(10)]  # one target refused repeatedly
    few = [_probe(f"10.0.0.{h}", p) for h, p in ((11, 6443), (12, 2379))]
    non_cp = [_probe("10.0.0.11", p) for p in (1, 2, 3, 4, 5, 6, 7, 8)]
    assert run(R, [*kubelet, *retries, *few, *non_cp]).empty


def test_apiserver_redialling_down_kubelets_is_not_a_sweep() -> None:
    dials = [flow(orig_h="10.0.0.1", client_role="apiserver", resp_h=f"10.0.1.{h}",
                  resp_p=10250, conn_state="S0", orig_bytes=0, resp_bytes=0,
                  path="apiserver-to-kubelet") for h in range(1, 12)]
    assert run(R, dials).empty
