"""UNAUTH_KUBELET_ACCESS: a client reached the kubelet API (10250) without credentials."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

from classifier.rules.base import (
    DOC_CPNC,
    KUBELET_PATHS,
    SUCCESS,
    Context,
    Finding,
    Severity,
    by_subject,
    established,
    is_false,
    on_paths,
    pair,
    requests_of,
    rows,
    val,
)
from classifier.rules.evidence import flow_evidence, request_evidence

CREDENTIALED: Final = frozenset({"mtls", "bearer", "basic"})
"""Values of flows.auth that mean a credential was presented."""


class UnauthKubeletAccess:
    """A client reached the kubelet API on 10250 with no client certificate and no token.

    The kubelet authenticates with x509 client certificates or webhook bearer tokens; with
    ``--anonymous-auth=true`` (the legacy flag default) and ``AlwaysAllow`` authorization, an
    anonymous caller can list pods, read logs and run commands in every container
    (``/run``, ``/exec`` — kubeletctl ``scan rce``, kube-hunter KHV036/KHV039/KHV040).
    How it is seen, and the variants:

    - **critical** — in plaintext, a request without credentials was served (2xx / 101);
    - **high** — in TLS ≤ 1.2 the client answered the kubelet's CertificateRequest with an
      empty Certificate (or none was requested) and no token is visible; a bearer token may
      still ride inside the encrypted stream, so this proves "no client certificate";
    - **medium** — a request without credentials was refused with 401/403 (someone tried;
      the kubelet's authentication held).

    On apiserver→kubelet flows the same evidence means the apiserver has no kubelet client
    certificate (CIS 1.2.4). Under TLS 1.3 nothing of this is visible (UNVERIFIED_TLS_PEER).
    """

    id: ClassVar[str] = "UNAUTH_KUBELET_ACCESS"
    severity: ClassVar[Severity] = Severity.HIGH
    title: ClassVar[str] = "Kubelet API reached without a client certificate or token"
    references: ClassVar[tuple[str, ...]] = (
        f"{DOC_CPNC} §API server to kubelet",
        "Kubernetes docs: Kubelet authentication/authorization", "CIS 4.2.1", "CIS 4.2.2",
        "CIS 1.2.4", "KHV036", "KHV052")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Kubelet-API flows with visible missing credentials → one finding per host pair."""
        f = ctx.flows
        sel = f[on_paths(f, KUBELET_PATHS) & established(f)]
        verdict: dict[str, str] = {}
        keep: list[int] = []
        for i, row in enumerate(rows(sel)):
            v = _verdict(row, requests_of(ctx, row))
            if v is not None:
                verdict[str(row["uid"])] = v
                keep.append(i)
        chosen = sel.iloc[keep]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            reqs = [r for r in requests_of(ctx, row) if not r.get("auth_kind")]
            if not reqs:
                yield flow_evidence(row, "client_role", "client_name", "server_name",
                                    "tls_version", "client_cert_requested",
                                    "client_cert_presented", "auth", verdict=verdict[row["uid"]])
            for r in reqs:
                yield request_evidence(row, r) | {"verdict": verdict[row["uid"]]}

        def variant(members: list[dict[str, Any]]) -> tuple[Severity | None, str | None]:
            kinds = {verdict[str(m["uid"])] for m in members}
            if "served" in kinds:
                return Severity.CRITICAL, "Kubelet API served a request without credentials"
            if "no-client-cert" in kinds:
                return None, None
            return Severity.MEDIUM, "Kubelet API request without credentials refused (401/403)"

        return by_subject(chosen, pair, evidence, variant)


def _verdict(row: dict[str, Any], reqs: list[dict[str, Any]]) -> str | None:
    """A kubelet flow → served / no-client-cert / refused, or None when credentials were
    presented or cannot be judged."""
    auth = val(row, "auth")
    if auth in CREDENTIALED:
        return None
    anon = [r for r in reqs if not r.get("auth_kind") and r.get("method") is not None]
    statuses = {int(r["status_code"]) for r in anon if r.get("status_code") is not None}
    if anon and statuses & SUCCESS:
        return "served"
    tls_visible_no_cert = val(row, "tls_version") not in (None, "TLSv1.3") and (
        is_false(val(row, "client_cert_presented")) or is_false(val(row, "client_cert_requested")))
    if tls_visible_no_cert or (auth == "none" and not anon):
        return "no-client-cert"
    if anon and statuses & {401, 403}:
        return "refused"
    if anon and (auth == "none" or val(row, "plaintext") is True):
        return "no-client-cert"
    return None
