"""TOKEN_REUSE: one credential presented from several source addresses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from classifier.rules.base import (
    MAX_EVIDENCE_FLOWS,
    Context,
    Finding,
    requests_of,
    rows,
)
from classifier.rules.base import Severity as Sev
from classifier.rules.evidence import request_evidence


class TokenReuse:
    """The same credential (by fingerprint) was presented to the control plane from more
    than one source address.

    ServiceAccount tokens are mounted into one pod and node credentials belong to one node;
    the same bearer token arriving from two addresses is the stolen-token pattern (a token
    read from a neighbouring container via the kubelet, from a node's filesystem, or sniffed
    off a plaintext leg and replayed). Legitimate exceptions — a shared static token, a
    client behind NAT moving addresses — belong in a baseline. Only visible where the
    credential is visible (plaintext legs); fingerprints only, never values.
    """

    id: ClassVar[str] = "TOKEN_REUSE"
    severity: ClassVar[Sev] = Sev.HIGH
    title: ClassVar[str] = "Same credential used from several source addresses"
    references: ClassVar[tuple[str, ...]] = (
        "Kubernetes docs: Managing Service Accounts §Bound service account tokens",
        "Kubernetes docs: Authenticating §Service account tokens")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Control-plane requests grouped by credential fingerprint → one finding per
        fingerprint seen from ≥ 2 sources."""
        cp = ctx.control_plane
        h = ctx.http
        with_cred = set(h.loc[h["auth_kind"].notna() & h["auth_fingerprint"].notna(), "uid"])
        cp = cp[cp["auth_fingerprint"].notna() | cp["uid"].isin(list(with_cred))]
        uses: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
        for row in rows(cp.sort_values(["ts", "uid"], kind="stable")):
            for r in requests_of(ctx, row):
                fp, kind = r.get("auth_fingerprint"), r.get("auth_kind")
                if fp and kind:
                    uses.setdefault(f"{kind} {fp}", []).append((row, r))
        out: list[Finding] = []
        for subject, seen in sorted(uses.items()):
            sources = sorted({str(f["orig_h"]) for f, _ in seen})
            if len(sources) < 2:
                continue
            uids = tuple(dict.fromkeys(str(f["uid"]) for f, _ in seen))
            ev = [{"credential": subject, "sources": sources}]
            ev += [request_evidence(f, r) | {"source": str(f["orig_h"])}
                   for f, r in seen[:MAX_EVIDENCE_FLOWS]]
            out.append(Finding(subject=subject, uids=uids, evidence=tuple(ev),
                               more=max(0, len(seen) - MAX_EVIDENCE_FLOWS)))
        return out
