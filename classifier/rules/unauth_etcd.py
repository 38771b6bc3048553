"""UNAUTH_ETCD: etcd reached without a client certificate."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from classifier.rules.base import (
    ETCD_PATHS,
    Context,
    Finding,
    Severity,
    by_subject,
    established,
    flag,
    is_na_false,
    on_paths,
    pair,
    val,
)
from classifier.rules.evidence import flow_evidence


class UnauthEtcd:
    """A client (or peer) talked to etcd without presenting a client certificate.

    etcd authenticates Kubernetes' apiserver by client certificate (``--client-cert-auth=true``,
    CIS 2.2; peers ``--peer-client-cert-auth=true``, CIS 2.5). Seen on the wire as: plaintext
    etcd (no TLS, so no certificate can be presented — unless etcd's own username/password
    token is visible), or a TLS ≤ 1.2 handshake where etcd sent no CertificateRequest or the
    client answered with an empty Certificate. Anyone who reaches such an etcd can read and
    write every key, Secrets included (kube-hunter KHV031 remote write, KHV032 remote read).
    Under TLS 1.3 this cannot be seen (UNVERIFIED_TLS_PEER).
    """

    id: ClassVar[str] = "UNAUTH_ETCD"
    severity: ClassVar[Severity] = Severity.CRITICAL
    title: ClassVar[str] = "etcd reached without a client certificate"
    references: ClassVar[tuple[str, ...]] = (
        "Kubernetes docs: Operating etcd clusters for Kubernetes §Securing etcd clusters",
        "CIS 2.2", "CIS 2.5", "KHV031", "KHV032")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """etcd flows with no client certificate visible → one finding per host pair."""
        f = ctx.flows
        sel = f[on_paths(f, ETCD_PATHS) & established(f)]
        credential = sel["auth"].astype("string").isin(["mtls", "basic", "bearer", "token"])
        no_tls = flag(sel, "plaintext") & ~credential.fillna(False).astype(bool)
        v13 = sel["tls_version"].astype("string").fillna("") == "TLSv1.3"
        no_cert = (~flag(sel, "plaintext") & ~v13
                   & (is_na_false(sel, "client_cert_presented")
                      | is_na_false(sel, "client_cert_requested")))
        chosen = sel[no_tls | no_cert]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            why = ("plaintext: no TLS, no client certificate" if val(row, "plaintext")
                   else "TLS handshake without a client certificate")
            yield flow_evidence(row, "path", "client_role", "tls_version",
                                "client_cert_requested", "client_cert_presented",
                                "grpc_method", "auth", why=why)

        return by_subject(chosen, pair, evidence)
