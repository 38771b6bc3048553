"""POD_TO_KUBELET: a pod talked to a kubelet API directly."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from classifier.rules.base import (
    Context,
    Finding,
    Severity,
    by_subject,
    established,
    on_paths,
    pair,
)
from classifier.rules.evidence import flow_evidence


class PodToKubelet:
    """A pod sent requests to a kubelet API (10250 or the read-only 10255) itself.

    Normal kubelet clients are the apiserver (logs, exec, attach, port-forward, node proxy)
    and monitoring agents (metrics-server, Prometheus node scrapes — accept those in a
    baseline). A pod that calls the kubelet directly is the lateral-movement pattern of
    kubeletctl and kube-hunter (``/pods`` to find targets, ``/run`` / ``/exec`` for code
    execution in neighbouring containers, KHV036/KHV039/KHV040). Connection attempts that
    were never accepted count toward PORT_SCAN, not here.
    """

    id: ClassVar[str] = "POD_TO_KUBELET"
    severity: ClassVar[Severity] = Severity.MEDIUM
    title: ClassVar[str] = "A pod talked to a kubelet API directly"
    references: ClassVar[tuple[str, ...]] = (
        "Kubernetes docs: Kubelet authentication/authorization", "KHV036", "KHV039", "KHV040")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Accepted pod → kubelet connections with request bytes → one finding per pair."""
        f = ctx.flows
        pod = f["client_role"].astype("string").fillna("") == "pod"
        sent = f["orig_bytes"].astype("UInt64").fillna(0).astype("int64") > 0
        sel = f[on_paths(f, ["kubelet-direct", "kubelet-readonly"]) & pod & established(f)
                & sent]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            yield flow_evidence(row, "path", "client_name", "server_name", "tls_version",
                                "status", "user_agent", "client_cert_presented", "auth")

        return by_subject(sel, pair, evidence)
