"""KONNECTIVITY_PLAINTEXT: Konnectivity traffic without TLS."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from classifier.rules.base import (
    DOC_CPNC,
    Context,
    Finding,
    Severity,
    by_subject,
    established,
    flag,
    on_paths,
    pair,
)
from classifier.rules.evidence import flow_evidence


class KonnectivityPlaintext:
    """Konnectivity traffic (HTTP-CONNECT from the apiserver, or agent↔server gRPC) without
    TLS.

    The Konnectivity service carries every control-plane→cluster connection (kubelet logs,
    exec, proxy). The apiserver's egress selector speaks HTTP-CONNECT to the proxy server
    over a Unix socket or over TCP with mTLS, and agents dial the server with TLS
    (Control Plane-Node Communication, Konnectivity service; Set up Konnectivity service).
    A plaintext ``CONNECT node:10250`` on the network exposes the tunnel set-up — which node
    and port the apiserver reaches — and, for non-TLS inner traffic, the payload; nothing
    authenticates either end.
    """

    id: ClassVar[str] = "KONNECTIVITY_PLAINTEXT"
    severity: ClassVar[Severity] = Severity.HIGH
    title: ClassVar[str] = "Konnectivity tunnel traffic without TLS"
    references: ClassVar[tuple[str, ...]] = (
        f"{DOC_CPNC} §Konnectivity service", "Kubernetes docs: Set up Konnectivity service")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Konnectivity flows in plaintext, or whose CONNECT request was readable → one
        finding per host pair."""
        f = ctx.flows
        # a readable CONNECT target means the tunnel set-up itself crossed the wire in clear,
        # even when the tunnelled bytes are TLS to the kubelet (TLS inside a plain CONNECT)
        visible_connect = f["connect_target"].astype("string").fillna("") != ""
        sel = f[on_paths(f, ["konnectivity"]) & (flag(f, "plaintext") | visible_connect)
                & established(f)]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            yield flow_evidence(row, "client_role", "app_proto", "connect_target", "status",
                                "grpc_method", "tunnel_proto")

        return by_subject(sel, pair, evidence)
