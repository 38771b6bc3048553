"""HTTP/1.x (RFC 9112): every request and response in the first bytes → flow facts + rows.

Bodies are walked by Content-Length or chunked coding to reach the next message. CONNECT and
protocol upgrades hand the bytes that follow to ``Facts.tunnel`` for the engine to dissect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from classifier.dissect import k8s_payload, secrets
from classifier.dissect.facts import Facts, Malformed

NAME: Final = "http"
METHODS: Final = frozenset({
    b"GET", b"POST", b"PUT", b"DELETE", b"HEAD", b"OPTIONS", b"PATCH", b"CONNECT", b"TRACE",
    b"PROPFIND", b"PROPPATCH", b"MKCOL", b"COPY", b"MOVE", b"LOCK", b"UNLOCK", b"REPORT",
})
MAX_HEADER_BYTES: Final = 65536
MAX_MESSAGES: Final = 256
BODY_KEEP: Final = 65536
"""Body bytes kept per message for payload hints and Status reasons."""
CREDENTIAL_HEADERS: Final = ("authorization", "proxy-authorization", "cookie", "x-auth-token",
                             "x-api-key")
_STATUS_REASON: Final = re.compile(rb'"reason"\s*:\s*"([A-Za-z0-9_.-]{1,64})"')
_STATUS_KIND: Final = re.compile(rb'"kind"\s*:\s*"Status"')


_TOKEN_METHOD: Final = re.compile(rb"[A-Z][A-Z_-]{1,19}")
"""Extension methods (RFC 9110 §9.1: a token; in practice upper-case letters)."""


def _method_ok(method: bytes) -> bool:
    return method in METHODS or _TOKEN_METHOD.fullmatch(method) is not None


FIRST_BYTES: Final = frozenset(range(ord("A"), ord("Z") + 1))
"""The first bytes ``sniff`` can score above 0 ('HTTP/1.' or an upper-case method)."""


def sniff(data: bytes) -> float:
    """First bytes → 0.9 for an HTTP/1.x request or status line start, else 0; never raises."""
    if data.startswith(b"HTTP/1."):
        return 0.9
    sp = data.find(b" ", 0, 21)
    if sp > 0 and data[:sp] in METHODS:
        return 0.9
    if sp > 0 and _TOKEN_METHOD.fullmatch(data[:sp]) and data[sp + 1:sp + 2] in (b"/", b"h", b"*"):
        return 0.6
    return 0.0


def _is_request(data: bytes) -> bool:
    return not data.startswith(b"HTTP/") and sniff(data) > 0


def reversed_roles(orig: bytes, resp: bytes) -> bool:
    """True when the responder sent the request (the flow's direction was guessed wrong)."""
    return _is_request(resp) and not _is_request(orig)


@dataclass(slots=True)
class Message:
    """One request or response: its start line split, headers, body prefix, where it ends."""

    first: tuple[str, str, str]
    """(method, target, version) for requests; (version, code, reason) for responses."""
    headers: list[tuple[str, str]]
    """(lower-case name, value) in order."""
    body: bytes = b""
    end: int | None = None
    """Offset just past the message; None when the body runs past the captured bytes."""
    _first: dict[str, str] | None = None

    def get(self, name: str) -> str | None:
        """First value of a header (lower-case name)."""
        first = self._first
        if first is None:
            first = self._first = {}
            for k, v in self.headers:
                first.setdefault(k, v)
        return first.get(name)

    def all(self, name: str) -> list[str]:
        """Every value of a header, in order."""
        return [v for k, v in self.headers if k == name]


def _head(data: bytes, pos: int) -> tuple[bytes, int] | None:
    """Bytes at pos → (the header block without its empty line, body offset); None when
    incomplete."""
    end = data.find(b"\r\n\r\n", pos, pos + MAX_HEADER_BYTES)
    sep = 4
    if end < 0:
        alt = data.find(b"\n\n", pos, pos + MAX_HEADER_BYTES)
        if alt < 0:
            if len(data) - pos > MAX_HEADER_BYTES:
                raise Malformed("http_header_too_long")
            return None
        end, sep = alt, 2
    return data[pos:end], end + sep


@dataclass(frozen=True, slots=True)
class _Head:
    """A parsed header block: start line, headers, first value per name, or the error."""

    start: bytes
    headers: list[tuple[str, str]]
    first: dict[str, str]
    error: str | None


@lru_cache(maxsize=4096)
def _parse_head(block: bytes) -> _Head:
    """Header block bytes → _Head (cached: clients and servers repeat the same heads; the
    lists and dicts are shared, read only)."""
    lines = block.replace(b"\r\n", b"\n").split(b"\n")
    try:
        headers = _headers(lines[1:])
    except Malformed as exc:
        return _Head(lines[0], [], {}, exc.reason)
    first: dict[str, str] = {}
    for k, v in headers:
        first.setdefault(k, v)
    return _Head(lines[0], headers, first, None)


def _headers(lines: list[bytes]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for raw in lines:
        if raw[:1] in (b" ", b"\t") and out:  # obs-fold (RFC 9112 §5.2)
            out[-1] = (out[-1][0], out[-1][1] + " " + raw.strip().decode("latin-1"))
            continue
        name, colon, value = raw.partition(b":")
        if not colon or not name or name != name.strip():
            raise Malformed("http_bad_header")
        out.append((name.decode("latin-1").lower(), value.strip().decode("latin-1")))
    return out


def _chunked(data: bytes, pos: int) -> tuple[bytes, int | None]:
    """Chunked body at pos → (decoded prefix, end offset or None when incomplete)."""
    body = bytearray()
    while True:
        eol = data.find(b"\n", pos, pos + 1024)
        if eol < 0:
            if len(data) - pos >= 1024:
                raise Malformed("http_bad_chunk")
            return bytes(body), None
        size_txt = data[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_txt, 16)
        except ValueError as exc:
            raise Malformed("http_bad_chunk") from exc
        pos = eol + 1
        if size == 0:
            while True:  # trailer section up to the empty line
                eol = data.find(b"\n", pos)
                if eol < 0:
                    return bytes(body), None
                line = data[pos:eol].strip()
                pos = eol + 1
                if not line:
                    return bytes(body), pos
        if len(body) < BODY_KEEP:
            body += data[pos:min(pos + size, len(data))][:BODY_KEEP - len(body)]
        if pos + size + 2 > len(data):
            return bytes(body), None
        pos += size
        pos += 2 if data[pos:pos + 2] == b"\r\n" else 1


def _body(msg: Message, data: bytes, pos: int, *, has_body: bool, to_close: bool) -> None:
    if not has_body:
        msg.end = pos
        return
    te = (msg.get("transfer-encoding") or "").lower()
    cl = msg.get("content-length")
    if "chunked" in te:
        msg.body, msg.end = _chunked(data, pos)
    elif cl is not None:
        try:
            n = int(cl.split(",")[0].strip())
        except ValueError as exc:
            raise Malformed("http_bad_content_length") from exc
        if n < 0:
            raise Malformed("http_bad_content_length")
        msg.body = data[pos:min(pos + n, pos + BODY_KEEP)]
        msg.end = pos + n if pos + n <= len(data) else None
    elif to_close:
        msg.body = data[pos:pos + BODY_KEEP]
        msg.end = None  # body runs to the end of the connection (RFC 9112 §6.3 item 8)
    else:
        msg.end = pos


def _simple_request(data: bytes, pos: int) -> Message | None:
    """HTTP/0.9 'GET /path' CRLF (RFC 1945 §4.1) → a Message; None when it is not one."""
    eol = data.find(b"\n", pos, pos + 8192)
    if eol < 0:
        return None
    parts = data[pos:eol].rstrip(b"\r").split(b" ")
    if len(parts) != 2 or parts[0] != b"GET":
        return None
    msg = Message(("GET", parts[1].decode("latin-1"), "HTTP/0.9"), [])
    msg.end = eol + 1
    return msg


def parse_request(data: bytes, pos: int = 0) -> Message | None:
    """Bytes at pos → the request there (None when the header is incomplete); Malformed if not."""
    simple = _simple_request(data, pos)
    if simple is not None:
        return simple
    found = _head(data, pos)
    if found is None:
        return None
    head = _parse_head(found[0])
    parts = head.start.split(b" ")
    if len(parts) != 3 or not _method_ok(parts[0]) or not parts[2].startswith(b"HTTP/1."):
        raise Malformed("http_bad_request_line")
    if head.error is not None:
        raise Malformed(head.error)
    method, target, version = (p.decode("latin-1") for p in parts)
    msg = Message((method, target, version), head.headers, _first=head.first)
    body_pos = found[1]
    _body(msg, data, body_pos, has_body=True, to_close=False)
    return msg


def parse_response(data: bytes, pos: int = 0, method: str | None = None) -> Message | None:
    """Bytes at pos (answer to ``method``) → the response (None when incomplete); Malformed if not."""
    found = _head(data, pos)
    if found is None:
        return None
    head = _parse_head(found[0])
    parts = head.start.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit() \
            or len(parts[1]) != 3:
        raise Malformed("http_bad_status_line")
    if head.error is not None:
        raise Malformed(head.error)
    version, code = parts[0].decode("latin-1"), parts[1].decode("latin-1")
    reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
    msg = Message((version, code, reason), head.headers, _first=head.first)
    body_pos = found[1]
    status = int(code)
    no_body = (status < 200 or status in (204, 304) or method == "HEAD"
               or (method == "CONNECT" and 200 <= status < 300))
    _body(msg, data, body_pos, has_body=not no_body, to_close=True)
    return msg


def _guarded(parse: Any, out: list[Message], errors: list[str], *args: Any) -> Message | None:
    """Parse the next message; after the first one an invalid message only stops the walk."""
    try:
        msg: Message | None = parse(*args)
    except Malformed as exc:
        if not out:
            raise
        errors.append(exc.reason)
        return None
    return msg


def requests(data: bytes, errors: list[str]) -> tuple[list[Message], int]:
    """Originator bytes → (requests, offset where HTTP/1.x stops: CONNECT/Upgrade or the end)."""
    out: list[Message] = []
    pos = 0
    while pos < len(data) and len(out) < MAX_MESSAGES:
        msg = _guarded(parse_request, out, errors, data, pos)
        if msg is None or msg.end is None:
            if msg is not None:
                out.append(msg)
            return out, len(data)
        out.append(msg)
        pos = msg.end
        if msg.first[0] == "CONNECT" or msg.get("upgrade"):
            return out, pos
    return out, pos


def responses(data: bytes, methods: list[str], errors: list[str]) -> tuple[list[Message], int]:
    """Responder bytes (+ request methods in order) → (responses, offset where HTTP/1.x stops)."""
    out: list[Message] = []
    pos = 0
    i = 0
    while pos < len(data) and len(out) < MAX_MESSAGES:
        msg = _guarded(parse_response, out, errors, data, pos,
                       methods[i] if i < len(methods) else None)
        if msg is None or msg.end is None:
            if msg is not None:
                out.append(msg)
            return out, len(data)
        out.append(msg)
        pos = msg.end
        status = int(msg.first[1])
        if status == 101 or (i < len(methods) and methods[i] == "CONNECT" and 200 <= status < 300):
            return out, pos
        if status >= 200:
            i += 1
    return out, pos


_redact_target = lru_cache(maxsize=4096)(secrets.redact_target)
"""secrets.redact_target, cached: probes and clients request the same few targets."""


def forget() -> None:
    """Drop the caches that hold request bytes (header blocks carry credentials): dissect()
    calls this when it is done, so no secret outlives the call in memory."""
    _parse_head.cache_clear()
    _redact_target.cache_clear()


def credentials(req: Message) -> list[tuple[str, str]]:
    """A request → [(kind, fingerprint)] of every credential it carries (never the values)."""
    out: list[tuple[str, str]] = []
    for name in CREDENTIAL_HEADERS:
        if req.get(name) is not None:
            out.extend(secrets.classify(name, value) for value in req.all(name))
    out.extend(_redact_target(req.first[1])[2])
    if req.get("sec-websocket-protocol") is not None:
        for value in req.all("sec-websocket-protocol"):
            _, wfps = secrets.redact_stream_protocols(value)
            out.extend(("bearer", fp) for fp in wfps)
    return out


def _stream_protocol(req: Message, resp: Message | None) -> str | None:
    values: list[str] = []
    for m in (resp, req):
        if m is None or (m.get("x-stream-protocol-version") is None
                         and m.get("sec-websocket-protocol") is None):
            continue
        values = m.all("x-stream-protocol-version") + m.all("sec-websocket-protocol")
        if values:
            break
    if not values:
        return None
    text, _ = secrets.redact_stream_protocols(",".join(values))
    return text


def status_reason(resp: Message) -> str | None:
    """A response → the reason of a Kubernetes Status JSON body (metav1.Status), if any."""
    ctype = (resp.get("content-type") or "").lower()
    if "json" not in ctype or not _STATUS_KIND.search(resp.body):
        return None
    m = _STATUS_REASON.search(resp.body)
    return m.group(1).decode("ascii") if m else None


def _row(i: int, req: Message, resp: Message | None) -> dict[str, Any]:
    method, target, version = req.first
    path, query, _ = _redact_target(target)
    creds = credentials(req)
    fwd_uri = req.get("x-forwarded-uri")
    if fwd_uri is not None:
        p, q, _ = _redact_target(fwd_uri)
        fwd_uri = f"{p}?{q}" if q else p
    row: dict[str, Any] = {
        "trans_depth": i + 1, "version": version, "method": method,
        "host": req.get("host"), "uri": path if method != "CONNECT" else None,
        "query": query or None, "user_agent": req.get("user-agent"),
        "content_type": req.get("content-type"), "upgrade": req.get("upgrade"),
        "stream_protocol": _stream_protocol(req, resp),
        "x_forwarded_for": req.get("x-forwarded-for"), "x_forwarded_uri": fwd_uri,
        "x_forwarded_host": req.get("x-forwarded-host"),
        "x_forwarded_proto": req.get("x-forwarded-proto"),
        "auth_kind": ",".join(dict.fromkeys(k for k, _ in creds)) or None,
        "auth_fingerprint": creds[0][1] if creds else None,
        "connect_target": target if method == "CONNECT" else None,
    }
    bodies = [req.body]
    if resp is not None:
        bodies.append(resp.body)
        row.update(status_code=int(resp.first[1]) if resp.first[1] else None,
                   status_msg=resp.first[2] or None,
                   resp_content_type=resp.get("content-type"),
                   k8s_status_reason=status_reason(resp))
        if resp.get("upgrade") and not row["upgrade"]:
            row["upgrade"] = resp.get("upgrade")
    row["payload_hint"] = k8s_payload.join(k8s_payload.hints(*bodies))
    return row


def _pair(reqs: list[Message], resps: list[Message]) -> list[tuple[Message, Message | None]]:
    finals = [r for r in resps
              if not r.first[1].startswith("1") or r.first[1] == "101"]
    return [(q, finals[i] if i < len(finals) else None) for i, q in enumerate(reqs)]


def dissect_flow(orig: bytes, resp: bytes) -> Facts:
    """Both directions' first bytes → HTTP/1.x facts and one row per request.

    Raises Malformed when the originator's first bytes are not an HTTP/1.x request.
    """
    errors: list[str] = []
    reqs, req_end = requests(orig, errors)
    rsps, resp_end = responses(resp, [r.first[0] for r in reqs], errors) if resp.startswith(
        b"HTTP/1.") else ([], 0)
    if reqs and reqs[0].first[2] == "HTTP/0.9" and not rsps and resp:
        simple = Message(("HTTP/0.9", "", ""), [], resp[:BODY_KEEP], None)
        rsps, resp_end = [simple], len(resp)
    facts = Facts(flow={"app_proto": NAME})
    if not reqs:
        if rsps:
            facts.flow["http_status"] = int(rsps[0].first[1])
        facts.flow["dissect_error"] = "http_request_truncated" if orig else "http_request_not_seen"
        return facts
    rows = [_row(i, q, r) for i, (q, r) in enumerate(_pair(reqs, rsps))]
    facts.http.extend(rows)
    first = rows[0]
    kinds = [k for row in rows if row["auth_kind"] for k in row["auth_kind"].split(",")]
    fps = [row["auth_fingerprint"] for row in rows if row["auth_fingerprint"]]
    reasons = [row["k8s_status_reason"] for row in rows if row.get("k8s_status_reason")]
    facts.flow.update(
        http_method=first["method"], http_path=first["uri"], http_query=first["query"],
        http_host=first["host"], http_user_agent=first["user_agent"],
        http_status=first.get("status_code"), http_upgrade=first["upgrade"],
        http_stream_protocol=first["stream_protocol"],
        http_forwarded_uri=first["x_forwarded_uri"], http_requests=len(rows),
        k8s_status_reason=reasons[0] if reasons else None,
        auth_kind=",".join(dict.fromkeys(kinds)) or None,
        auth_fingerprint=fps[0] if fps else None,
        payload_hint=k8s_payload.join(
            [h for row in rows if row["payload_hint"] for h in row["payload_hint"].split(",")]),
    )
    last_req, last_resp = reqs[-1], (rsps[-1] if rsps else None)
    switched = last_resp is not None and (
        last_resp.first[1] == "101"
        or (last_req.first[0] == "CONNECT" and last_resp.first[1].startswith("2")))
    if last_req.first[0] == "CONNECT":
        facts.flow.update(app_proto="connect", connect_target=last_req.first[1])
    if switched or (last_req.get("upgrade") and req_end < len(orig)):
        facts.tunnel = (orig[req_end:], resp[resp_end:] if switched else b"")
        up = (last_resp.get("upgrade") if last_resp is not None else None) or last_req.get("upgrade")
        if up and up.lower() not in ("h2c",):
            facts.flow["tunnel_proto"] = up.lower()
    if errors:
        facts.flow["dissect_error"] = errors[0]
    return facts
