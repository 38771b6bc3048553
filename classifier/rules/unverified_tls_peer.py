"""UNVERIFIED_TLS_PEER (info): TLS 1.3 control-plane flows whose authentication is hidden."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

from classifier.rules.base import (
    APISERVER_PATHS,
    ETCD_PATHS,
    KUBELET_PATHS,
    Context,
    Finding,
    Severity,
    by_subject,
    on_paths,
    pair,
)
from classifier.rules.evidence import flow_evidence

AUTHENTICATED_PATHS: Final = APISERVER_PATHS | KUBELET_PATHS | ETCD_PATHS | {"konnectivity"}
"""Paths whose peers are meant to authenticate each other (Control Plane-Node Communication);
apiserver proxy legs (unauthenticated by design, PLAINTEXT_PROXY), the read-only port and
component ports are left out."""

CAN_CONCLUDE: Final = ("the application bytes are encrypted (TLS 1.3)",
                       "SNI and ALPN offered by the client")
CANNOT_CONCLUDE: Final = (
    "whether the server asked for a client certificate (CertificateRequest is encrypted)",
    "whether the client presented a certificate or a bearer token",
    "which certificate the server presented, and whether the client verified it")


class UnverifiedTlsPeer:
    """Information: a TLS 1.3 control-plane flow whose authentication cannot be observed.

    TLS 1.3 encrypts everything after the ServerHello, including the server Certificate, the
    CertificateRequest and the client's Certificate (RFC 8446 §2). A passive observer knows
    the flow is encrypted but cannot tell whether the peers authenticated each other — for
    apiserver→kubelet that is exactly the question the docs raise (the apiserver does not
    verify the kubelet's certificate unless ``--kubelet-certificate-authority`` is set).
    Raised on the paths whose peers are meant to authenticate each other: to the apiserver,
    to the kubelet, etcd client and peer, Konnectivity. Reported so that silence is not
    mistaken for a clean bill: check the component flags
    (CIS 1.2.4/1.2.5, 4.2.1/4.2.3) or capture with TLS 1.2 / key logs to confirm.
    """

    id: ClassVar[str] = "UNVERIFIED_TLS_PEER"
    severity: ClassVar[Severity] = Severity.INFO
    title: ClassVar[str] = "TLS 1.3 control-plane flow: peer authentication not visible"
    references: ClassVar[tuple[str, ...]] = (
        "Kubernetes docs: Control Plane-Node Communication §API server to kubelet",
        "RFC 8446 §2", "CIS 1.2.4", "CIS 1.2.5")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """TLS 1.3 flows on authenticated paths with auth unknown → one per host pair."""
        cp = ctx.control_plane
        cp = cp[on_paths(cp, AUTHENTICATED_PATHS)]
        v13 = cp["tls_version"].astype("string").fillna("") == "TLSv1.3"
        auth = cp["auth"].astype("string")
        hidden = auth.isna() | (auth.fillna("") == "unknown")
        sel = cp[v13 & hidden]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            yield flow_evidence(row, "path", "client_role", "server_role", "sni",
                                hidden=row.get("tls_hidden"), alpn=row.get("tls_alpn"),
                                can_conclude=list(CAN_CONCLUDE),
                                cannot_conclude=list(CANNOT_CONCLUDE))

        return by_subject(sel, pair, evidence)
