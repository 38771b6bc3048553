"""Credentials seen on the wire → kind + short fingerprint; the value itself is never kept."""

from __future__ import annotations

import hashlib
import re
from typing import Final
from urllib.parse import quote, unquote

FINGERPRINT_HEX: Final = 12
"""First 12 hex chars (48 bits) of SHA-256: enough to correlate reuse, useless to replay."""

SECRET_HEADERS: Final = frozenset({
    "authorization", "proxy-authorization", "cookie", "set-cookie", "x-auth-token",
    "x-api-key", "x-amz-security-token",
})
"""Headers whose values must never be stored (lower-case names)."""

SECRET_QUERY_PARAMS: Final = frozenset({
    "access_token", "token", "id_token", "refresh_token", "auth", "authorization",
    "password", "passwd", "pwd", "secret", "client_secret", "api_key", "apikey",
    "x-amz-signature", "x-amz-credential", "x-amz-security-token", "sig", "signature",
    "code", "session", "sessionid",
})
"""Query parameter names whose values are credentials (compared lower-case)."""

# Kubernetes WebSocket clients may carry a bearer token as a sub-protocol:
# "base64url.bearer.authorization.k8s.io.<token>" (k8s.io/apiserver
# pkg/authentication/request/websocket/protocol.go, bearerProtocolPrefix).
WEBSOCKET_BEARER_PREFIX: Final = "base64url.bearer.authorization.k8s.io."

_SCHEMES: Final = {
    "bearer": "bearer",
    "basic": "basic",
    "negotiate": "negotiate",
    "ntlm": "ntlm",
    "digest": "digest",
    "aws4-hmac-sha256": "aws4",
}


def fingerprint(value: bytes | str) -> str:
    """A secret value → the first 12 hex chars of its SHA-256 (never the value)."""
    data = value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value
    return hashlib.sha256(data).hexdigest()[:FINGERPRINT_HEX]


def classify(header: str, value: str) -> tuple[str, str]:
    """A credential header (lower-case name) and its value → (kind, fingerprint of the credential).

    Kinds: bearer, basic, negotiate, ntlm, digest, cookie, aws4, other. For schemes the
    fingerprint covers the credential after the scheme name, so the same token fingerprints
    identically in a header, a query parameter or gRPC metadata.
    """
    value = value.strip()
    if header in ("cookie", "set-cookie"):
        return "cookie", fingerprint(value)
    if header in ("x-auth-token", "x-api-key"):
        return "bearer", fingerprint(value)
    scheme, _, cred = value.partition(" ")
    kind = _SCHEMES.get(scheme.lower())
    if kind is None:
        return "other", fingerprint(value)
    return kind, fingerprint(cred.strip())


_QUERY_SPLIT: Final = re.compile(r"([&;])")


def redact_query(query: str) -> tuple[str, list[str]]:
    """A query string → (query with credential values replaced by '<redacted:fp>', their fps)."""
    if not query:
        return query, []
    out: list[str] = []
    fps: list[str] = []
    for part in _QUERY_SPLIT.split(query):
        name, eq, val = part.partition("=")
        if eq and val and unquote(name).lower() in SECRET_QUERY_PARAMS:
            fp = fingerprint(unquote(val))
            fps.append(fp)
            part = f"{name}=<redacted:{fp}>"
        out.append(part)
    return "".join(out), fps


def redact_target(target: str) -> tuple[str, str, list[tuple[str, str]]]:
    """A request target → (path, redacted query, [(kind, fingerprint)] of its credentials).

    userinfo in an absolute URI ('http://user:pass@host/') counts as basic, token query
    parameters as bearer; both are replaced by '<redacted:fp>'.
    """
    creds: list[tuple[str, str]] = []
    path, _, query = target.partition("?")
    scheme, sep, rest = path.partition("://")
    if sep:
        authority, slash, tail = rest.partition("/")
        userinfo, at, hostport = authority.rpartition("@")
        if at:
            creds.append(("basic", fingerprint(userinfo)))
            authority = f"<redacted:{creds[-1][1]}>@{hostport}"
        path = f"{scheme}://{authority}{slash}{tail}"
    q, qfps = redact_query(query)
    return path, q, creds + [("bearer", fp) for fp in qfps]


def redact_stream_protocols(value: str) -> tuple[str, list[str]]:
    """Sec-WebSocket-Protocol list → (list with bearer sub-protocols redacted, their fps)."""
    fps: list[str] = []
    parts = []
    for p in value.split(","):
        p = p.strip()
        if p.startswith(WEBSOCKET_BEARER_PREFIX):
            fps.append(fingerprint(p[len(WEBSOCKET_BEARER_PREFIX):]))
            p = f"{WEBSOCKET_BEARER_PREFIX}<redacted:{fps[-1]}>"
        parts.append(p)
    return ",".join(parts), fps


def quote_safe(text: str) -> str:
    """Arbitrary decoded text → printable ASCII (non-printables percent-escaped)."""
    return quote(text, safe="".join(chr(c) for c in range(0x20, 0x7F)))
