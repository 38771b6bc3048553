"""PLAINTEXT_ETCD: etcd client or peer traffic without TLS."""

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
    on_paths,
    pair,
)
from classifier.rules.evidence import flow_evidence


class PlaintextEtcd:
    """etcd was spoken to over plain HTTP/gRPC (no TLS).

    etcd holds every object of the cluster, Secrets included: "Access to etcd is equivalent
    to root permission in the cluster" (Kubernetes docs, Operating etcd clusters for
    Kubernetes). Without TLS the keys and values under ``/registry`` travel in clear and can
    be altered. CIS 2.1 asks for ``--cert-file``/``--key-file`` (and 2.4 for the peer
    equivalents); kube-hunter KHV034 "Etcd is accessible using insecure connection (HTTP)".
    """

    id: ClassVar[str] = "PLAINTEXT_ETCD"
    severity: ClassVar[Severity] = Severity.HIGH
    title: ClassVar[str] = "etcd traffic in plaintext"
    references: ClassVar[tuple[str, ...]] = (
        "Kubernetes docs: Operating etcd clusters for Kubernetes §Securing etcd clusters",
        "CIS 2.1", "CIS 2.4", "CIS 1.2.23", "KHV034")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Plaintext etcd / etcd-peer flows → one finding per host pair."""
        f = ctx.flows
        sel = f[on_paths(f, ETCD_PATHS) & flag(f, "plaintext") & established(f)]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            yield flow_evidence(row, "path", "client_role", "app_proto", "grpc_method",
                                "status", payload_hint=row.get("payload_hint"))

        return by_subject(sel, pair, evidence)
