"""What a flow does on the Kubernetes API, where visible: logs, exec, watch, lease, ...

A data table of (operation, where to look, pattern), evaluated in order over every request of
the flow; the first row any request matches names the operation. Paths are the apiserver's
subresources and the kubelet handlers (k8s-signatures §3.2, §3.3, §9, §11).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

from classifier.k8s import ports as P
from classifier.k8s.facts import FlowFacts, Request

Field = Literal["path", "query", "forwarded_uri", "grpc", "method", "upgrade"]


@dataclass(frozen=True, slots=True)
class OperationRule:
    """One row: requests whose ``field`` matches ``pattern`` are ``operation``."""

    operation: str
    field: Field
    pattern: re.Pattern[str]
    port: int | None = None
    """Only on this server port (None: any)."""


def _r(op: str, field: Field, pattern: str, port: int | None = None) -> OperationRule:
    return OperationRule(op, field, re.compile(pattern), port)


_POD_SUB = r"^/api/v1/namespaces/[^/]+/pods/[^/]+/"

OPERATIONS: Final[Sequence[OperationRule]] = (
    # streaming first: they are what an incident responder looks for
    _r("exec", "path", r"^/exec/|" + _POD_SUB + r"exec/?$"),
    _r("attach", "path", r"^/attach/|" + _POD_SUB + r"attach/?$"),
    _r("port-forward", "path", r"^/portForward/|" + _POD_SUB + r"portforward/?$"),
    _r("run", "path", r"^/run/"),
    _r("logs", "path", r"^/containerLogs/|" + _POD_SUB + r"log/?$"),
    _r("proxy", "forwarded_uri", r"/proxy(/|$)"),
    _r("proxy", "path", r"^/api/v1/(namespaces/[^/]+/(pods|services)|nodes)/[^/]+/proxy(/|$)"),
    _r("read-only-pods", "path", r"^/pods/?$", port=P.KUBELET_READONLY_PORT),
    _r("pods", "path", r"^/(pods|runningpods)/?$"),
    _r("stats", "path", r"^/stats(/|$)"),
    _r("metrics", "path", r"^/metrics(/|$)"),
    _r("node-logs", "path", r"^/logs(/|$)"),
    _r("configz", "path", r"^/configz$"),
    _r("pprof", "path", r"^/debug/pprof"),
    _r("lease", "path", r"/leases(/|$)"),
    _r("watch", "query", r"(^|&)watch=(true|1)(&|$)"),
    _r("watch", "path", r"^/apis?/.*/watch/"),
    _r("etcd-range", "grpc", r"^/etcdserverpb\.KV/Range$"),
    _r("etcd-put", "grpc", r"^/etcdserverpb\.KV/Put$"),
    _r("etcd-txn", "grpc", r"^/etcdserverpb\.KV/Txn$"),
    _r("etcd-delete", "grpc", r"^/etcdserverpb\.KV/DeleteRange$"),
    _r("etcd-watch", "grpc", r"^/etcdserverpb\.Watch/"),
    _r("etcd-lease", "grpc", r"^/etcdserverpb\.Lease/"),
    _r("etcd-member", "grpc", r"^/etcdserverpb\.(Cluster|Maintenance)/"),
    _r("etcd-auth", "grpc", r"^/etcdserverpb\.Auth/"),
    _r("tunnel", "grpc", r"^/(AgentService/Connect|ProxyService/Proxy)$"),
    _r("connect", "method", r"^CONNECT$"),
    _r("node-status", "path", r"^/api/v1/nodes/[^/]+/status$"),
    _r("health", "path", r"^/(healthz|livez|readyz)(/|$)"),
    _r("version", "path", r"^/version/?$"),
    _r("discovery", "path", r"^/(api|apis)/?$|^/openapi/"),
    _r("api", "path", r"^/(api/v1|apis/[^/]+)(/|$)"),
)


def _value(req: Request, field: Field) -> str | None:
    return {"path": req.path, "query": req.query, "forwarded_uri": req.forwarded_uri,
            "grpc": req.grpc_method, "method": (req.method or "").upper() or None,
            "upgrade": req.upgrade}[field]


def operation_of(f: FlowFacts) -> str | None:
    """Flow facts → the most telling operation over all its visible requests, or None."""
    if "app_ssh" in f.flags and f.resp_p == P.SSH_PORT:
        return None
    for rule in OPERATIONS:
        if rule.port is not None and rule.port != f.resp_p:
            continue
        for req in f.requests:
            v = _value(req, rule.field)
            if v and rule.pattern.search(v):
                return rule.operation
    return None
