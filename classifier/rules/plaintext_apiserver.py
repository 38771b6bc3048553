"""PLAINTEXT_APISERVER: API calls to the apiserver in plain HTTP."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

from classifier.rules.base import (
    APISERVER_PATHS,
    DOC_CPNC,
    Context,
    Finding,
    Severity,
    by_subject,
    flag,
    on_paths,
    pair,
)
from classifier.rules.evidence import flow_evidence

INSECURE_PORT: Final = 8080
"""Legacy --insecure-port default: HTTP with no authentication or authorization; serving
removed in Kubernetes 1.20 (kubernetes PR #95856)."""


class PlaintextApiserver:
    """The apiserver was called in plain HTTP.

    "All API usage from nodes (or the pods they run) terminates at the API server … on a
    secure HTTPS port" (Control Plane-Node Communication, Node to Control Plane). A plaintext
    leg exposes every request and response — objects, Secrets, tokens — to anyone on the path,
    and lets them be altered. On the legacy insecure port 8080 the apiserver performs no
    authentication or authorization at all: whoever reaches it is cluster-admin (critical
    variant). kube-hunter KHV006 "Insecure (HTTP) access to API"; CIS 1.2.19 (cis-1.6)
    "--insecure-port=0".
    """

    id: ClassVar[str] = "PLAINTEXT_APISERVER"
    severity: ClassVar[Severity] = Severity.HIGH
    title: ClassVar[str] = "Plaintext HTTP to the apiserver"
    references: ClassVar[tuple[str, ...]] = (
        f"{DOC_CPNC} §Node to Control Plane", "CIS 1.2.19 (cis-1.6: --insecure-port=0)",
        "CIS 1.2.18 (cis-1.6: --insecure-bind-address not set)", "KHV006")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Plaintext flows on node/pod/client-to-apiserver paths → one finding per host pair."""
        f = ctx.flows
        sel = f[on_paths(f, APISERVER_PATHS) & flag(f, "plaintext")]
        return by_subject(sel, pair, _evidence, _variant)


def _evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield flow_evidence(row, "path", "client_role", "client_name", "status", "user_agent",
                        "auth", "auth_kind", "auth_fingerprint", "k8s_operation")


def _variant(members: list[dict[str, Any]]) -> tuple[Severity | None, str | None]:
    if any(int(m["resp_p"]) == INSECURE_PORT for m in members):
        return (Severity.CRITICAL,
                "Legacy insecure apiserver port 8080: HTTP, no authentication or authorization")
    return None, None
