"""EXEC_OVER_PLAINTEXT: exec / attach / port-forward streams visible in plaintext."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar, Final

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
from classifier.rules.evidence import request_evidence

STREAM_OPERATIONS: Final = frozenset({"exec", "attach", "port-forward", "run"})
"""k8s_operation values of interactive / command streams (classifier.k8s)."""

STREAM_PATH: Final = re.compile(
    r"^/(?:exec|attach|portForward|run)/|/pods/[^/]+/(?:exec|attach|portforward)$")
"""Kubelet streaming endpoints (pkg/kubelet/server/server.go) and the apiserver pod
subresources exec/attach/portforward (pkg/registry/core/pod/rest/subresources.go)."""

STREAM_PROTOCOL: Final = re.compile(r"(?i)channel\.k8s\.io|portforward\.k8s\.io")
"""Remote-command and port-forward sub-protocols (apimachinery util/remotecommand, portforward)."""


class ExecOverPlaintext:
    """An exec, attach, port-forward (or kubelet ``/run``) stream travelled in plaintext.

    These streams carry interactive shells, command output and forwarded application bytes,
    negotiated with ``Upgrade: SPDY/3.1`` / WebSocket and ``X-Stream-Protocol-Version:
    v4.channel.k8s.io`` (or ``portforward.k8s.io``). In plaintext an observer reads every
    keystroke and output line and can inject commands into the container. The Kubernetes docs
    name logs, attach and port-forward as the apiserver→kubelet uses that must be protected
    (Control Plane-Node Communication, API server to kubelet); kube-hunter KHV039/KHV041/
    KHV042 are the exec/port-forward/attach exposures.
    """

    id: ClassVar[str] = "EXEC_OVER_PLAINTEXT"
    severity: ClassVar[Severity] = Severity.HIGH
    title: ClassVar[str] = "exec/attach/port-forward stream in plaintext"
    references: ClassVar[tuple[str, ...]] = (
        f"{DOC_CPNC} §API server to kubelet", "KHV039", "KHV041", "KHV042")

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Plaintext control-plane flows carrying a streaming operation → one per host pair."""
        cp = ctx.control_plane
        sel = cp[flag(cp, "plaintext")]
        keep = [i for i, row in enumerate(rows(sel)) if _streams(ctx, row)]
        chosen = sel.iloc[keep]

        def evidence(row: dict[str, Any]) -> Iterator[dict[str, Any]]:
            for r in _streams(ctx, row):
                yield request_evidence(row, r) | {"k8s_operation": val(row, "k8s_operation")}

        return by_subject(chosen, pair, evidence)


def _streams(ctx: Context, row: dict[str, Any]) -> list[dict[str, Any]]:
    reqs = requests_of(ctx, row)
    hits = [r for r in reqs if _is_stream(r)]
    if not hits and val(row, "k8s_operation") in STREAM_OPERATIONS and reqs:
        hits = reqs[:1]
    return hits


def _is_stream(req: dict[str, Any]) -> bool:
    proto = str(req.get("stream_protocol") or "")
    if STREAM_PROTOCOL.search(proto):
        return True
    return bool(STREAM_PATH.search(str(req.get("uri") or "")))
