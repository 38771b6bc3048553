"""PLAINTEXT_PROXY: apiserver proxy legs to pods, services or nodes in plain HTTP."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from classifier.rules.base import (
    DOC_CPNC,
    Context,
    Finding,
    Severity,
    by_subject,
    flag,
    on_paths,
    pair,
    requests_of,
    val,
)
from classifier.rules.evidence import flow_evidence, request_evidence


class PlaintextProxy:
    """The apiserver proxied a request to a pod, service endpoint or node over plain HTTP.

    "The connections from the apiserver to a node, pod, or service default to plain HTTP
    connections and are therefore neither authenticated nor encrypted. They can be run over a
    secure HTTPS connection by prefixing https: to the node, pod, or service name in the API
    URL, but they will not validate the certificate provided by the HTTPS endpoint nor provide
    client credentials. … These connections are not currently safe to run over untrusted or
    public networks." (Control Plane-Node Communication, apiserver to nodes, pods, and
    services). The backend sees the ``X-Forwarded-Uri`` proxy prefix; anyone on the path sees
    and can alter request and response.
    """

    id: ClassVar[str] = "PLAINTEXT_PROXY"
    severity: ClassVar[Severity] = Severity.MEDIUM
    title: ClassVar[str] = "Apiserver proxy traffic in plain HTTP (neither authenticated nor encrypted)"
    references: ClassVar[tuple[str, ...]] = (
        f"{DOC_CPNC} §apiserver to nodes, pods, and services",)

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Plaintext apiserver-proxy flows → one finding per host pair."""
        f = ctx.flows
        sel = f[on_paths(f, ["apiserver-proxy"]) & flag(f, "plaintext")]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            reqs = requests_of(ctx, row)
            if not reqs:
                yield flow_evidence(row, "server_role", "server_name", "app_proto")
            for r in reqs:
                yield request_evidence(row, r) | {"server_name": val(row, "server_name")}

        return by_subject(sel, pair, evidence)
