"""ETCD_EXPOSED_TO_PODS: a pod opened a connection to etcd."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from classifier.rules.base import (
    Context,
    Finding,
    Severity,
    answered,
    by_subject,
    established,
    on_paths,
    pair,
)
from classifier.rules.evidence import flow_evidence


class EtcdExposedToPods:
    """A pod reached etcd's client port and etcd answered.

    Only the apiserver needs etcd: "Access to etcd is equivalent to root permission in the
    cluster so ideally only the API server should have access to it" (Kubernetes docs,
    Operating etcd clusters for Kubernetes). A pod that can open a connection to etcd means
    the network does not isolate it; with weak etcd authentication (UNAUTH_ETCD) it can dump
    every Secret (kube-hunter KHV031/KHV032 from inside a pod). Raised whatever the TLS state:
    the exposure is the reachability.
    """

    id: ClassVar[str] = "ETCD_EXPOSED_TO_PODS"
    severity: ClassVar[Severity] = Severity.HIGH
    title: ClassVar[str] = "A pod reached etcd"
    references: ClassVar[tuple[str, ...]] = (
        "Kubernetes docs: Operating etcd clusters for Kubernetes §Securing etcd clusters",
        "KHV031", "KHV032")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """etcd flows from a pod that etcd answered → one finding per host pair."""
        f = ctx.flows
        pod = f["client_role"].astype("string").fillna("") == "pod"
        sel = f[on_paths(f, ["etcd"]) & pod & established(f) & answered(f)]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            yield flow_evidence(row, "client_name", "tls_version", "app_proto", "grpc_method",
                                "client_cert_presented")

        return by_subject(sel, pair, evidence)
