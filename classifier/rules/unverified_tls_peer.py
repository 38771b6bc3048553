"""UNVERIFIED_TLS_PEER (info): TLS 1.3 control-plane flows whose authentication is hidden."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

from classifier.rules.base import Context, Finding, Severity, by_subject, flow_evidence, pair

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
    Reported so that silence is not mistaken for a clean bill: check the component flags
    (CIS 1.2.4/1.2.5, 4.2.1/4.2.3) or capture with TLS 1.2 / key logs to confirm.
    """

    id: ClassVar[str] = "UNVERIFIED_TLS_PEER"
    severity: ClassVar[Severity] = Severity.INFO
    title: ClassVar[str] = "TLS 1.3 control-plane flow: peer authentication not visible"
    references: ClassVar[tuple[str, ...]] = (
        "Kubernetes docs: Control Plane-Node Communication §API server to kubelet",
        "RFC 8446 §2", "CIS 1.2.4", "CIS 1.2.5")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """TLS 1.3 control-plane flows with auth unknown → one finding per host pair."""
        cp = ctx.control_plane
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
