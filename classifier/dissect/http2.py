"""HTTP/2 (RFC 9113) cleartext and gRPC: preface, frames, HEADERS decoded with HPACK (RFC 7541).

Captures may start mid-connection: without the preface and the peers' earlier header blocks,
HPACK dynamic-table references cannot be resolved; such blocks are counted, not fatal.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Final

import hpack

from classifier.dissect import k8s_payload, secrets
from classifier.dissect.facts import Facts, Malformed

log = logging.getLogger("kubewire.dissect.http2")

# hpack logs every decoded header at DEBUG, Authorization values included: never let it speak.
for _name in ("hpack", "hpack.hpack", "hpack.table", "hpack.huffman"):
    logging.getLogger(_name).disabled = True

NAME: Final = "http2"
GRPC: Final = "grpc"
PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # RFC 9113 §3.4
FRAME_HEADER: Final = 9
MAX_FRAME: Final = 2**24 - 1
# Frame types (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, \
    CONTINUATION = range(10)
END_STREAM, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x4, 0x8, 0x20
MAX_FRAMES: Final = 4096
DATA_KEEP: Final = 65536
HPACK_TABLE_LIMIT: Final = 1 << 16
"""Largest dynamic table we let a peer announce (RFC 7541 §6.3), a bound on memory."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One HTTP/2 frame."""

    type: int
    flags: int
    stream: int
    payload: bytes


def parse_frame(data: bytes, pos: int = 0) -> Frame | None:
    """Bytes at pos → the frame there, None when incomplete; Malformed for an invalid header."""
    if len(data) - pos < FRAME_HEADER:
        return None
    length = int.from_bytes(data[pos:pos + 3], "big")
    ftype, flags = data[pos + 3], data[pos + 4]
    stream = int.from_bytes(data[pos + 5:pos + 9], "big") & 0x7FFFFFFF
    if ftype in (SETTINGS, PING, GOAWAY) and stream != 0:
        raise Malformed("http2_bad_frame")
    if ftype in (DATA, HEADERS, PRIORITY, RST_STREAM, CONTINUATION, PUSH_PROMISE) and stream == 0:
        raise Malformed("http2_bad_frame")
    if ftype == SETTINGS and length % 6:
        raise Malformed("http2_bad_settings")
    if len(data) - pos < FRAME_HEADER + length:
        return None
    return Frame(ftype, flags, stream, data[pos + 9:pos + 9 + length])


FIRST_BYTES: Final = frozenset({0, PREFACE[0]})
"""The first bytes ``sniff`` can score above 0: the preface's 'P', or a first frame's length
high byte (0 for the SETTINGS and HEADERS lengths it accepts)."""


def sniff(data: bytes) -> float:
    """First bytes → 1.0 for the client preface, 0.55–0.7 for a plausible first frame; never raises."""
    if data.startswith(PREFACE) or (len(data) < len(PREFACE) and PREFACE.startswith(data)
                                    and len(data) >= 4):
        return 1.0
    if len(data) < FRAME_HEADER:
        return 0.0
    length = int.from_bytes(data[:3], "big")
    ftype, flags = data[3], data[4]
    stream = int.from_bytes(data[5:9], "big")
    if ftype == SETTINGS and stream == 0 and length % 6 == 0 and length <= 60 and flags in (0, 1):
        return 0.7  # a server's first frame (RFC 9113 §3.4)
    if ftype == HEADERS and stream & 1 and stream < 1 << 20 and length <= 16384 \
            and not flags & ~0x2D:
        return 0.55  # mid-connection capture starting with a request's HEADERS
    return 0.0


def frames(data: bytes) -> tuple[list[Frame], bool]:
    """One direction's bytes (preface optional) → (frames, True when the walk stopped early).

    An invalid frame after the first valid one ends the walk (counted as stopped early);
    an invalid first frame raises Malformed.
    """
    pos = len(PREFACE) if data.startswith(PREFACE) else 0
    out: list[Frame] = []
    while pos < len(data) and len(out) < MAX_FRAMES:
        try:
            fr = parse_frame(data, pos)
        except Malformed:
            if not out and pos == 0:
                raise
            return out, True
        if fr is None:
            return out, True
        out.append(fr)
        pos += FRAME_HEADER + len(fr.payload)
    return out, False


def _strip(fr: Frame) -> bytes:
    """HEADERS / PUSH_PROMISE / DATA payload → the fragment without padding and priority."""
    p = fr.payload
    start, end = 0, len(p)
    if fr.flags & PADDED and fr.type in (DATA, HEADERS, PUSH_PROMISE):
        if not p:
            raise Malformed("http2_bad_padding")
        start, end = 1, len(p) - p[0]
    if fr.type == HEADERS and fr.flags & PRIORITY_FLAG:
        start += 5
    if fr.type == PUSH_PROMISE:
        start += 4
    if end < start:
        raise Malformed("http2_bad_padding")
    return p[start:end]


@dataclass(slots=True)
class Side:
    """One direction: decoded header blocks by stream, DATA prefix, HPACK failures."""

    blocks: list[tuple[int, list[tuple[str, str]]]] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    hpack_errors: int = 0
    frames: int = 0
    truncated: bool = False


def decode_side(data: bytes) -> Side:
    """One direction's bytes → its header blocks decoded in order with one HPACK decoder."""
    side = Side()
    frs, side.truncated = frames(data)
    side.frames = len(frs)
    dec = hpack.Decoder()
    dec.max_allowed_table_size = HPACK_TABLE_LIMIT
    block = bytearray()
    block_stream = 0
    for fr in frs:
        if fr.type in (HEADERS, PUSH_PROMISE):
            block, block_stream = bytearray(_strip(fr)), fr.stream
        elif fr.type == CONTINUATION and block_stream:
            block += fr.payload
        elif fr.type == DATA:
            if len(side.data) < DATA_KEEP:
                side.data += _strip(fr)[:DATA_KEEP - len(side.data)]
            continue
        else:
            continue
        if fr.flags & END_HEADERS:
            try:
                headers = dec.decode(bytes(block))
            except (hpack.HPACKError, ValueError, IndexError, UnicodeDecodeError):
                side.hpack_errors += 1
                dec = hpack.Decoder()  # state is unknown now; later literal blocks still decode
                dec.max_allowed_table_size = HPACK_TABLE_LIMIT
            else:
                side.blocks.append((block_stream, [(str(k), str(v)) for k, v in headers]))
            block, block_stream = bytearray(), 0
    return side


def _get(headers: list[tuple[str, str]], name: str) -> str | None:
    for k, v in headers:
        if k == name:
            return v
    return None


def _request_row(headers: list[tuple[str, str]]) -> dict[str, Any]:
    path, query, target_creds = secrets.redact_target(_get(headers, ":path") or "")
    creds = [secrets.classify(k, v) for k, v in headers
             if k in secrets.SECRET_HEADERS and k != "set-cookie"]
    creds += target_creds
    ctype = _get(headers, "content-type")
    grpc = ctype is not None and ctype.startswith("application/grpc")
    return {
        "version": "HTTP/2", "method": _get(headers, ":method"),
        "host": _get(headers, ":authority") or _get(headers, "host"),
        "uri": path or None, "query": query or None,
        "user_agent": _get(headers, "user-agent"), "content_type": ctype,
        "upgrade": None, "stream_protocol": _get(headers, ":protocol"),
        "x_forwarded_for": _get(headers, "x-forwarded-for"),
        "x_forwarded_host": _get(headers, "x-forwarded-host"),
        "x_forwarded_proto": _get(headers, "x-forwarded-proto"),
        "auth_kind": ",".join(dict.fromkeys(k for k, _ in creds)) or None,
        "auth_fingerprint": creds[0][1] if creds else None,
        "grpc_method": path if grpc else None,
    }


def dissect_flow(orig: bytes, resp: bytes) -> Facts:
    """Both directions' first bytes → HTTP/2 / gRPC facts and one row per stream.

    Requests and responses are told apart by their pseudo-headers, not by direction, so a
    capture that starts mid-connection with a guessed originator still pairs correctly.
    """
    sides = [decode_side(orig), decode_side(resp)]
    reqs: dict[int, dict[str, Any]] = {}
    order: list[int] = []
    for side in sides:
        for stream, headers in side.blocks:
            if _get(headers, ":method") is not None and stream not in reqs:
                reqs[stream] = _request_row(headers)
                order.append(stream)
    for side in sides:
        for stream, headers in side.blocks:
            status = _get(headers, ":status")
            if status is None or not status.isdigit():
                continue
            if stream not in reqs:
                reqs[stream] = {"version": "HTTP/2"}
                order.append(stream)
            row = reqs[stream]
            if "status_code" not in row or row["status_code"] < 200 <= int(status):
                row.update(status_code=int(status), resp_content_type=_get(headers, "content-type"))
    rows = [reqs[s] for s in order]
    for i, row in enumerate(rows):
        row["trans_depth"] = i + 1
    hints = k8s_payload.join(k8s_payload.hints(sides[0].data, sides[1].data))
    grpc = [r["grpc_method"] for r in rows if r.get("grpc_method")]
    facts = Facts(flow={"app_proto": GRPC if grpc else NAME, "http_requests": len(rows),
                        "payload_hint": hints})
    if rows:
        first = rows[0]
        kinds = [k for r in rows if r.get("auth_kind") for k in r["auth_kind"].split(",")]
        fps = [r["auth_fingerprint"] for r in rows if r.get("auth_fingerprint")]
        facts.flow.update(
            http_method=first.get("method"), http_path=first.get("uri"),
            http_query=first.get("query"), http_host=first.get("host"),
            http_user_agent=first.get("user_agent"), http_status=first.get("status_code"),
            http_stream_protocol=first.get("stream_protocol"),
            auth_kind=",".join(dict.fromkeys(kinds)) or None, auth_fingerprint=fps[0] if fps else None,
            grpc_method=grpc[0] if grpc else None)
        for r in rows:
            r["payload_hint"] = hints
    facts.http.extend(rows)
    errors = sum(s.hpack_errors for s in sides)
    if errors and not rows:
        facts.flow["dissect_error"] = "hpack_missing_context"
    elif errors:
        facts.flow["dissect_error"] = "hpack_partial"
    elif not rows and not any(s.blocks for s in sides) and (sides[0].truncated or sides[1].truncated):
        facts.flow["dissect_error"] = "http2_truncated"
    if not (sides[0].frames or sides[1].frames or orig.startswith(PREFACE)):
        raise Malformed("http2_no_frames")
    log.debug("http2: %d streams, %d hpack errors", len(rows), errors)
    return facts
