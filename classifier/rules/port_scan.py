"""PORT_SCAN: one source probing control-plane ports across hosts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, Final

from classifier.rules.base import (
    FAILED_STATES,
    Context,
    Finding,
    Severity,
    endpoint,
    rows,
)
from classifier.rules.evidence import flow_evidence

CONTROL_PLANE_PORTS: Final = frozenset({
    22,  # apiserver→node SSH tunnels (deprecated)
    443, 6443,  # apiserver (kubeadm KubeAPIServerPort 6443; Service port 443)
    8080,  # legacy insecure apiserver port
    8001,  # kubectl proxy (kube-hunter discovery/proxy.py)
    2379, 2380, 2381,  # etcd client / peer / metrics (kubeadm constants)
    10248, 10249, 10250, 10251, 10252, 10255, 10256, 10257, 10258, 10259,  # pkg/cluster/ports
    8132, 8133, 8134,  # Konnectivity agent / admin / health (kubernetes.io example yaml)
    8090, 8091, 8092, 8095,  # Konnectivity proxy-server binary defaults
    4244, 4245,  # Cilium Hubble server / relay
})
"""Kubernetes control-plane ports (../shared/reference/k8s-signatures.md §1) plus the
kube-hunter discovery list [8001, 8080, 10250, 10255, 30000, 443, 6443, 2379]."""

MIN_TARGETS: Final = 5
"""Distinct host:port targets a source must probe (kube-hunter probes 8 ports per host)."""
MIN_FAILED: Final = 3
"""Of which at least this many were refused or unanswered (REJ/S0/...)."""
MIN_PORTS: Final = 2
WIDE_HOSTS: Final = 8
"""A single-port sweep (kubeletctl ``scan --cidr`` on 10250) needs this many hosts instead."""


class PortScan:
    """One source probed control-plane ports on several hosts (kube-hunter / kubeletctl /
    nmap style), most attempts refused or unanswered.

    A probe is a TCP connection to a control-plane port that carried no request bytes from
    the client; the source is reported when it probed at least 5 distinct host:port targets,
    at least 3 of them refused (Zeek conn_state REJ) or unanswered (S0, half-open), over at
    least 2 distinct ports — or one port across at least 8 hosts (except from the apiserver,
    which redials unreachable kubelets on 10250). Legitimate clients connect
    to a few fixed endpoints and send requests, so they stay below these thresholds; the
    apiserver dialing many kubelets sends requests and is not counted. Reported once per
    source with every probed host:port; follow-up requests are other findings'
    (UNAUTH_KUBELET_ACCESS, POD_TO_KUBELET, ...).
    """

    id: ClassVar[str] = "PORT_SCAN"
    severity: ClassVar[Severity] = Severity.HIGH
    title: ClassVar[str] = "Port scan of control-plane ports"
    references: ClassVar[tuple[str, ...]] = (
        "kube-hunter discovery/ports.py (default_ports)", "kubeletctl scan")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Flows → one finding per scanning source, listing the probed host:ports."""
        f = ctx.flows
        proto = f["proto"].astype("string").fillna("") == "tcp"
        port = f["resp_p"].astype("Int64").isin(list(CONTROL_PLANE_PORTS)).fillna(False)
        no_req = f["orig_bytes"].astype("UInt64").fillna(0).astype("int64") == 0
        probes = f[proto & port.astype(bool) & no_req].sort_values(["ts", "uid"], kind="stable")
        # the probes' rows made once, then grouped by source (in time order within a source)
        by_source: dict[str, list[dict[str, Any]]] = {}
        for src, r in zip(probes["orig_h"].astype(str).tolist(), rows(probes), strict=True):
            by_source.setdefault(src, []).append(r)
        out: list[Finding] = []
        for src in sorted(by_source):
            finding = _judge(src, by_source[src])
            if finding is not None:
                out.append(finding)
        return out


def _judge(src: str, probes: list[dict[str, Any]]) -> Finding | None:
    """One source's probe rows (in time order) → its finding, or None when not a scan."""
    targets: dict[str, list[dict[str, Any]]] = {}
    for r in probes:
        targets.setdefault(endpoint(r), []).append(r)
    failed = [t for t, rs in targets.items()
              if all(str(r["conn_state"]) in FAILED_STATES for r in rs)]
    ports = {int(rs[0]["resp_p"]) for rs in targets.values()}
    hosts = {str(rs[0]["resp_h"]) for rs in targets.values()}
    # the apiserver redialling many unreachable kubelets on one port is not a sweep
    apiserver = all(str(r.get("client_role")) == "apiserver" for rs in targets.values() for r in rs)
    wide = len(ports) == 1 and len(hosts) >= WIDE_HOSTS and not apiserver
    if len(targets) < MIN_TARGETS or len(failed) < MIN_FAILED or (
            len(ports) < MIN_PORTS and not wide):
        return None
    open_targets = sorted(set(targets) - set(failed))
    summary: dict[str, Any] = {
        "source": src, "probed": sorted(targets), "refused_or_unanswered": sorted(failed),
        "accepted": open_targets, "ports": sorted(ports), "hosts": len(hosts),
    }
    evidence = [summary] + [flow_evidence(rs[0], "conn_state", "client_role", "client_name")
                            for rs in targets.values()]
    return Finding(subject=src, uids=tuple(str(r["uid"]) for r in probes),
                   evidence=tuple(evidence))
