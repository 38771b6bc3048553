"""CREDENTIALS_IN_PLAINTEXT: tokens, Basic credentials or cookies sent unencrypted."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from classifier.rules.base import (
    DOC_CPNC,
    Context,
    Finding,
    Severity,
    by_subject,
    flag,
    pair,
    requests_of,
    rows,
    val,
)
from classifier.rules.evidence import flow_evidence, request_evidence


class CredentialsInPlaintext:
    """A credential (bearer token, Basic user/password, cookie, ...) crossed a Kubernetes
    control-plane path unencrypted.

    Anyone on the path can replay it: a ServiceAccount or bootstrap token sent in clear is as
    good as the identity it names (see also TOKEN_REUSE). The Kubernetes docs require API
    usage over "a secure HTTPS port … with one or more forms of client authentication enabled"
    (Control Plane-Node Communication, Node to Control Plane). Scoped to control-plane paths:
    plaintext credentials between ordinary workloads are outside this tool's remit.
    Evidence names the kind and a 12-hex SHA-256 fingerprint, never the value.
    """

    id: ClassVar[str] = "CREDENTIALS_IN_PLAINTEXT"
    severity: ClassVar[Severity] = Severity.HIGH
    title: ClassVar[str] = "Credentials sent in plaintext on a control-plane path"
    references: ClassVar[tuple[str, ...]] = (
        f"{DOC_CPNC} §Node to Control Plane", "Kubernetes docs: Authenticating")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Plaintext control-plane flows with a credential → one finding per host pair."""
        cp = ctx.control_plane
        sel = cp[flag(cp, "plaintext")]
        keep = [i for i, row in enumerate(rows(sel)) if _has_credential(ctx, row)]
        chosen = sel.iloc[keep]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            reqs = [r for r in requests_of(ctx, row) if r.get("auth_kind")]
            if not reqs:
                yield flow_evidence(row, "path", "auth", "auth_kind", "auth_fingerprint")
            for r in reqs:
                yield request_evidence(row, r) | {"path": val(row, "path")}

        return by_subject(chosen, pair, evidence)


def _has_credential(ctx: Context, row: dict[str, Any]) -> bool:
    if val(row, "auth_kind") or val(row, "auth") in ("bearer", "basic"):
        return True
    return any(r.get("auth_kind") for r in requests_of(ctx, row))
