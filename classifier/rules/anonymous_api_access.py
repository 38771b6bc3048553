"""ANONYMOUS_API_ACCESS: requests to the apiserver or a kubelet without credentials, and their
outcome."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

from classifier.rules.base import (
    APISERVER_PATHS,
    KUBELET_PATHS,
    SUCCESS,
    Context,
    Finding,
    Severity,
    by_subject,
    flag,
    on_paths,
    pair,
    requests_of,
    rows,
)
from classifier.rules.evidence import request_evidence

PUBLIC_INFO_PATHS: Final = ("/healthz", "/livez", "/readyz", "/version",
                            "/.well-known/openid-configuration", "/openid/v1/jwks")
"""Non-resource paths the default RBAC role system:public-info-viewer (and the service
account issuer discovery role) grants to system:unauthenticated (Kubernetes RBAC docs,
'Discovery roles')."""

JUDGED_PATHS: Final = APISERVER_PATHS | KUBELET_PATHS | {"kubelet-readonly"}
"""Where an anonymous request is judged: the apiserver and the kubelet APIs."""


class AnonymousApiAccess:
    """A request reached the apiserver or a kubelet API without any credential, visible on a
    plaintext leg, and was served.

    Anonymous requests run as ``system:anonymous`` / ``system:unauthenticated``
    (``--anonymous-auth`` defaults to true; CIS 1.2.1 for the apiserver, 4.2.1 for the
    kubelet, ask for false); the kubelet read-only port 10255 and the legacy insecure
    apiserver port 8080 serve everyone without any authentication. Variants, by what the
    server answered:

    - **high** — served (2xx, or 101 upgrade) on a path beyond the apiserver's public
      discovery ones: the anonymous caller has real API access (kube-hunter KHV005, KHV052).
    - **low** — served, but only ``/healthz``, ``/livez``, ``/readyz``, ``/version`` or the
      OIDC discovery documents, which default RBAC opens to everyone (version disclosure,
      KHV002/KHV007-style information).
    - **info** — refused with 403: anonymous authentication is enabled, authorization denied.
    - A 401 is not reported: anonymous authentication is disabled, as CIS 1.2.1 wants.

    Only plaintext legs are judged: under TLS the request and its outcome cannot be seen
    (UNAUTH_KUBELET_ACCESS reports a kubelet reached without a client certificate,
    UNVERIFIED_TLS_PEER what TLS 1.3 hides).
    """

    id: ClassVar[str] = "ANONYMOUS_API_ACCESS"
    severity: ClassVar[Severity] = Severity.HIGH
    title: ClassVar[str] = "Anonymous request served by the apiserver or a kubelet"
    references: ClassVar[tuple[str, ...]] = (
        "Kubernetes docs: Authenticating §Anonymous requests",
        "Kubernetes docs: Kubelet authentication/authorization", "CIS 1.2.1", "CIS 4.2.1",
        "KHV005", "KHV007", "KHV052")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Plaintext apiserver/kubelet flows with credential-less requests → one per pair."""
        f = ctx.flows
        sel = f[on_paths(f, JUDGED_PATHS) & flag(f, "plaintext")]
        keep: list[int] = []
        outcome: dict[str, str] = {}
        for i, (uid, row) in enumerate(zip(sel["uid"], rows(sel), strict=True)):
            o = _outcome(requests_of(ctx, row), apiserver=row["path"] in APISERVER_PATHS)
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
                kubelet = all(m["path"] not in APISERVER_PATHS for m in members)
                return None, ("Anonymous request served by a kubelet API" if kubelet
                              else "Anonymous request served by the apiserver")
            if "served-public" in kinds:
                return Severity.LOW, "Anonymous request served (public discovery paths only)"
            return Severity.INFO, "Anonymous request refused (403): anonymous authentication is on"

        return by_subject(chosen, pair, evidence, variant)


def _anonymous(reqs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in reqs if not r.get("auth_kind") and r.get("method") is not None]


def _public(uri: str) -> bool:
    u = uri.rstrip("/")
    return u in PUBLIC_INFO_PATHS or u.startswith(("/healthz/", "/livez/", "/readyz/"))


def _outcome(reqs: list[dict[str, Any]], *, apiserver: bool) -> str | None:
    """A flow's requests → served / served-public / refused, or None when not reportable."""
    kinds = set()
    for r in _anonymous(reqs):
        status = r.get("status_code")
        if status is None:
            continue
        if int(status) in SUCCESS:
            uri = str(r.get("uri") or "")
            kinds.add("served-public" if apiserver and _public(uri) else "served")
        elif int(status) == 403:
            kinds.add("refused")
    for k in ("served", "served-public", "refused"):
        if k in kinds:
            return k
    return None
