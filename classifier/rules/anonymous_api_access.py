"""ANONYMOUS_API_ACCESS: requests to the apiserver without credentials, and their outcome."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

from classifier.rules.base import (
    APISERVER_PATHS,
    SUCCESS,
    Context,
    Finding,
    Severity,
    by_subject,
    flag,
    on_paths,
    pair,
    request_evidence,
    requests_of,
)

PUBLIC_INFO_PATHS: Final = ("/healthz", "/livez", "/readyz", "/version",
                            "/.well-known/openid-configuration", "/openid/v1/jwks")
"""Non-resource paths the default RBAC role system:public-info-viewer (and the service
account issuer discovery role) grants to system:unauthenticated (Kubernetes RBAC docs,
'Discovery roles')."""


class AnonymousApiAccess:
    """A request reached the apiserver without any credential, visible on a plaintext leg.

    Anonymous requests run as ``system:anonymous`` / ``system:unauthenticated``
    (``--anonymous-auth`` defaults to true; CIS 1.2.1 asks for false). Variants, by what the
    apiserver answered:

    - **high** — served (2xx, or 101 upgrade) on a path beyond the public discovery ones:
      RBAC grants the anonymous user real API access (kube-hunter KHV005).
    - **low** — served, but only ``/healthz``, ``/livez``, ``/readyz``, ``/version`` or the
      OIDC discovery documents, which default RBAC opens to everyone (version disclosure,
      KHV002/KHV007-style information).
    - **info** — refused with 403: anonymous authentication is enabled, authorization denied.
    - A 401 is not reported: anonymous authentication is disabled, as CIS 1.2.1 wants.

    Only plaintext legs are judged; under TLS the credential cannot be seen (see
    UNVERIFIED_TLS_PEER). The kubelet's anonymous access is UNAUTH_KUBELET_ACCESS.
    """

    id: ClassVar[str] = "ANONYMOUS_API_ACCESS"
    severity: ClassVar[Severity] = Severity.HIGH
    title: ClassVar[str] = "Anonymous request served by the apiserver"
    references: ClassVar[tuple[str, ...]] = (
        "Kubernetes docs: Authenticating §Anonymous requests", "CIS 1.2.1", "KHV005", "KHV007")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Plaintext apiserver flows with credential-less requests → one finding per pair."""
        f = ctx.flows
        sel = f[on_paths(f, APISERVER_PATHS) & flag(f, "plaintext")]
        keep: list[int] = []
        outcome: dict[str, str] = {}
        for i, (uid, row) in enumerate(zip(sel["uid"], sel.to_dict("records"), strict=True)):
            o = _outcome(requests_of(ctx, row))
            if o is not None:
                keep.append(i)
                outcome[str(uid)] = o
        chosen = sel.iloc[keep]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            for r in _anonymous(requests_of(ctx, row)):
                yield request_evidence(row, r)

        def variant(members: list[dict[str, Any]]) -> tuple[Severity | None, str | None]:
            kinds = {outcome[str(m["uid"])] for m in members}
            if "served" in kinds:
                return None, None
            if "served-public" in kinds:
                return Severity.LOW, "Anonymous request served (public discovery paths only)"
            return Severity.INFO, "Anonymous request refused (403): anonymous auth is enabled"

        return by_subject(chosen, pair, evidence, variant)


def _anonymous(reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in reqs if not r.get("auth_kind") and r.get("method") is not None]


def _public(uri: str) -> bool:
    u = uri.rstrip("/")
    return u in PUBLIC_INFO_PATHS or u.startswith(("/healthz/", "/livez/", "/readyz/"))


def _outcome(reqs: list[dict[str, Any]]) -> str | None:
    """A flow's requests → served / served-public / refused, or None when not reportable."""
    kinds = set()
    for r in _anonymous(reqs):
        status = r.get("status_code")
        if status is None:
            continue
        if int(status) in SUCCESS:
            uri = str(r.get("uri") or "")
            kinds.add("served-public" if _public(uri) else "served")
        elif int(status) == 403:
            kinds.add("refused")
    for k in ("served", "served-public", "refused"):
        if k in kinds:
            return k
    return None
