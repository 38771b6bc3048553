"""INSECURE_COMPONENT_PORT: plaintext serving ports of control-plane components answered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from classifier.rules.base import (
    Context,
    Finding,
    Severity,
    answered,
    by_subject,
    endpoint,
    flag,
    on_paths,
)
from classifier.rules.evidence import flow_evidence


@dataclass(frozen=True, slots=True)
class ComponentPort:
    """A plaintext component port: who serves it, how bad its exposure is, why."""

    component: str
    severity: Severity
    why: str


COMPONENT_PORTS: Final[dict[int, ComponentPort]] = {
    10251: ComponentPort("kube-scheduler (legacy insecure port)", Severity.MEDIUM,
                         "HTTP /metrics,/healthz without authn; removed (kubernetes PR #85043)"),
    10252: ComponentPort("kube-controller-manager (legacy insecure port)", Severity.MEDIUM,
                         "HTTP without authn; insecure serving disabled 1.22 (PR #96216)"),
    10249: ComponentPort("kube-proxy metrics", Severity.LOW,
                         "HTTP /metrics; default bind 127.0.0.1, so exposed by configuration"),
    10248: ComponentPort("kubelet healthz", Severity.LOW,
                         "HTTP /healthz; default bind 127.0.0.1, so exposed by configuration"),
    2381: ComponentPort("etcd metrics", Severity.LOW,
                        "HTTP /metrics,/health; kubeadm binds it to 127.0.0.1"),
    8133: ComponentPort("konnectivity admin", Severity.MEDIUM, "HTTP /metrics and /debug/pprof"),
    8095: ComponentPort("konnectivity-server admin", Severity.MEDIUM,
                        "HTTP /metrics and /debug/pprof (binary default, bind 127.0.0.1)"),
    8094: ComponentPort("konnectivity-agent admin", Severity.MEDIUM,
                        "HTTP /metrics and /debug/pprof (binary default, bind 127.0.0.1)"),
    10256: ComponentPort("kube-proxy healthz", Severity.INFO,
                         "HTTP /healthz on 0.0.0.0 by design (load-balancer health checks)"),
    8134: ComponentPort("konnectivity health", Severity.INFO, "HTTP /healthz,/readyz"),
    8092: ComponentPort("konnectivity-server health", Severity.INFO, "HTTP /healthz,/readyz"),
    8093: ComponentPort("konnectivity-agent health", Severity.INFO, "HTTP /healthz,/readyz"),
}
"""Plaintext component ports (k8s-signatures.md §1, §13): pkg/cluster/ports, kube-proxy and
kubelet v1beta1 defaults, kubeadm constants, apiserver-network-proxy options.go."""


class InsecureComponentPort:
    """A control-plane component answered on a plaintext serving port.

    The legacy insecure ports of kube-scheduler (10251) and kube-controller-manager (10252)
    served ``/metrics`` and ``/healthz`` over HTTP with no authentication (replaced by the
    secure 10259/10257; kubernetes PR #85043, #96216). Loopback-by-default ports seen on the
    network (kube-proxy metrics 10249, kubelet healthz 10248, etcd metrics 2381, Konnectivity
    admin with pprof) were exposed by configuration. Severity follows the port (table in
    docs/findings.md); by-design health ports (kube-proxy 10256, Konnectivity health) are info.
    """

    id: ClassVar[str] = "INSECURE_COMPONENT_PORT"
    severity: ClassVar[Severity] = Severity.MEDIUM
    title: ClassVar[str] = "Plaintext control-plane component port answered"
    references: ClassVar[tuple[str, ...]] = (
        "CIS 1.3.7 / 1.4.2 (cis-1.6: --bind-address=127.0.0.1 for controller-manager, scheduler)",
        "kubernetes PR #85043", "kubernetes PR #96216")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Plaintext, answered control-plane-other flows → one finding per server port."""
        f = ctx.flows
        sel = f[on_paths(f, ["control-plane-other"]) & flag(f, "plaintext") & answered(f)]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            cp = COMPONENT_PORTS.get(int(row["resp_p"]))
            yield flow_evidence(row, "client_role", "server_role", "server_name", "status",
                                "user_agent", component=cp.component if cp else None,
                                why=cp.why if cp else None)

        def variant(members: list[dict[str, Any]]) -> tuple[Severity | None, str | None]:
            cp = COMPONENT_PORTS.get(int(members[0]["resp_p"]))
            if cp is None:
                return Severity.LOW, "Plaintext control-plane port answered"
            return cp.severity, f"Plaintext {cp.component} port answered"

        return by_subject(sel, endpoint, evidence, variant)
