"""KUBELET_READONLY_PORT: the kubelet's unauthenticated read-only port answered."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

from classifier.rules.base import (
    Context,
    Finding,
    Severity,
    answered,
    by_subject,
    endpoint,
    on_paths,
    requests_of,
    val,
)
from classifier.rules.evidence import flow_evidence, request_evidence

READONLY_PORT: Final = 10255
"""Kubelet --read-only-port default in the legacy CLI flags (pkg/cluster/ports KubeletReadOnlyPort);
the KubeletConfiguration file default is 0 (disabled)."""


class KubeletReadonlyPort:
    """Something was answered on the kubelet read-only port (10255).

    The read-only server has no authentication and no authorization: anyone who reaches it
    can list every pod on the node with its spec (``/pods``: images, env values, volume
    sources, service accounts), node stats and metrics. CIS 4.2.4 asks for
    ``--read-only-port=0``; kube-hunter reports it as KHV052 "Exposed Pods" after a ``GET
    /pods`` on 10255. A refused or unanswered connection is not reported here (see PORT_SCAN).
    """

    id: ClassVar[str] = "KUBELET_READONLY_PORT"
    severity: ClassVar[Severity] = Severity.MEDIUM
    title: ClassVar[str] = "Kubelet read-only port 10255 answered (no authentication)"
    references: ClassVar[tuple[str, ...]] = (
        "Kubernetes docs: Kubelet authentication/authorization", "CIS 4.2.4", "KHV052")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """kubelet-readonly flows (or 10255 flows) the server answered → one per kubelet."""
        f = ctx.flows
        port = f["resp_p"].astype("Int64").fillna(0) == READONLY_PORT
        sel = f[(on_paths(f, ["kubelet-readonly"]) | (port & on_paths(f, _KUBELET_ANY)))
                & answered(f)]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            reqs = requests_of(ctx, row)
            if not reqs:
                yield flow_evidence(row, "client_role", "client_name", "server_name",
                                    "app_proto")
            for r in reqs:
                yield request_evidence(row, r) | {"client_role": val(row, "client_role")}

        return by_subject(sel, endpoint, evidence)


_KUBELET_ANY: Final = ("kubelet-direct", "apiserver-to-kubelet", "kubelet-readonly")
