"""Evidence: the observed facts of a flow or request, as JSON-ready dicts (never a secret)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import pandas as pd

from classifier.rules.base import endpoint, val

_SECRET_PARAM: Final = re.compile(
    r"(?i)(^|[&;])([^=&;]*(?:token|passw|secret|auth|credential|key|sig|session)[^=&;]*)=[^&;]*")


def redact_query(query: str) -> str:
    """A query string → the same with values of secret-looking parameters replaced by '…'."""
    return _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}=<redacted>", query)


def request_line(method: Any, path: Any, query: Any) -> str | None:
    """Method, path, query → ``"GET /pods?x=1"`` with secret-looking values redacted."""
    if method is None and path is None:
        return None
    q = f"?{redact_query(str(query))}" if query else ""
    return f"{method or '?'} {path or ''}{q}".strip()


_FLOW_FACTS: Final[tuple[tuple[str, str], ...]] = (
    ("path", "path"), ("client_role", "client_role"), ("server_role", "server_role"),
    ("client_name", "client_name"), ("server_name", "server_name"),
    ("app_proto", "app_proto"), ("conn_state", "conn_state"),
    ("tls_version", "tls_version"), ("tls_cipher", "tls_cipher"), ("sni", "tls_sni"),
    ("server_cert_subject", "server_cert_subject"), ("server_cert_issuer", "server_cert_issuer"),
    ("client_cert_requested", "client_cert_requested"),
    ("client_cert_presented", "client_cert_presented"),
    ("client_cert_subject", "client_cert_subject"),
    ("status", "http_status"), ("user_agent", "http_user_agent"),
    ("upgrade", "http_upgrade"), ("stream_protocol", "http_stream_protocol"),
    ("forwarded_uri", "http_forwarded_uri"), ("k8s_status_reason", "k8s_status_reason"),
    ("auth", "auth"), ("auth_kind", "auth_kind"), ("auth_fingerprint", "auth_fingerprint"),
    ("grpc_method", "grpc_method"), ("connect_target", "connect_target"),
    ("ssh_client", "ssh_client"), ("ssh_server", "ssh_server"),
    ("k8s_operation", "k8s_operation"), ("path_note", "path_note"),
)


def flow_evidence(row: Mapping[str, Any], *keys: str, **extra: Any) -> dict[str, Any]:
    """Flow row + fact names (see _FLOW_FACTS) → an evidence dict: capture, frame, uid,
    time, the flow, the request line, and the named facts that are present."""
    ev: dict[str, Any] = {
        "capture": val(row, "capture"), "frame": val(row, "first_frame"), "uid": row["uid"],
        "ts": _iso(val(row, "ts")), "flow": f"{row['proto']} {row['orig_h']}:{row['orig_p']} -> "
                                            f"{endpoint(row)}",
    }
    req = request_line(val(row, "http_method"), val(row, "http_path"), val(row, "http_query"))
    if req is not None:
        ev["request"] = req
    names = dict(_FLOW_FACTS)
    for k in keys:
        v = val(row, names.get(k, k))
        if v is not None and v != "":
            ev[k] = v
    ev.update({k: v for k, v in extra.items() if v is not None})
    return ev


def request_evidence(flow: Mapping[str, Any], req: Mapping[str, Any]) -> dict[str, Any]:
    """Flow row + one http-table row → evidence for that request (no secret values)."""
    ev: dict[str, Any] = {
        "capture": val(flow, "capture"), "frame": val(flow, "first_frame"), "uid": flow["uid"],
        "ts": _iso(val(flow, "ts")),
        "flow": f"{flow['proto']} {flow['orig_h']}:{flow['orig_p']} -> {endpoint(flow)}",
        "request": request_line(val(req, "method"), val(req, "uri"), val(req, "query")),
        "trans_depth": val(req, "trans_depth"),
    }
    for k, col in (("status", "status_code"), ("user_agent", "user_agent"),
                   ("auth_kind", "auth_kind"), ("auth_fingerprint", "auth_fingerprint"),
                   ("k8s_status_reason", "k8s_status_reason"), ("upgrade", "upgrade"),
                   ("stream_protocol", "stream_protocol"), ("forwarded_uri", "x_forwarded_uri"),
                   ("grpc_method", "grpc_method"), ("connect_target", "connect_target")):
        v = val(req, col)
        if v is not None and v != "":
            ev[k] = v
    return ev


def _iso(ts: Any) -> str | None:
    if ts is None:
        return None
    return str(ts.isoformat() if isinstance(ts, pd.Timestamp) else pd.Timestamp(ts).isoformat())
