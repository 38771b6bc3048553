"""DNS (RFC 1035 §4.1) over UDP or TCP: recognised by its header and first question."""

from __future__ import annotations

from typing import Final

from classifier.dissect.facts import Facts, Malformed

NAME: Final = "dns"
HEADER: Final = 12  # RFC 1035 §4.1.1


def _question_ok(data: bytes, pos: int) -> bool:
    """A QNAME of labels then QTYPE and QCLASS IN/CH/HS/ANY (RFC 1035 §3.2.4) fits at pos."""
    end = len(data)
    for _ in range(128):
        if pos >= end:
            return False
        ln = data[pos]
        if ln == 0:
            return pos + 5 <= end and (data[pos + 3] << 8 | data[pos + 4]) in _QCLASSES
        if ln > 63:
            return False
        pos += 1 + ln
    return False


_QCLASSES: Final = frozenset((1, 3, 4, 254, 255))
"""QCLASS values of a question: IN, CH, HS, NONE, ANY (RFC 1035 §3.2.4-3.2.5, RFC 2136)."""


_last: tuple[bytes | None, int | None] = (None, None)
"""The last bytes looked at and their offset: sniff and dissect_flow ask about the same
bytes one after the other."""


def _message_offset(data: bytes) -> int | None:
    """Where the DNS header starts: 0 (UDP) or 2 (TCP length prefix, RFC 1035 §4.2.2)."""
    global _last
    last = _last
    if data is last[0]:
        return last[1]
    off = _find_offset(data)
    if type(data) is bytes:  # immutable: the same object has the same answer
        _last = (data, off)
    return off


def _find_offset(data: bytes) -> int | None:
    n = len(data)
    for off in (0, 2):
        if n < off + HEADER + 5:
            continue
        if off == 2 and (data[0] << 8 | data[1]) < HEADER:
            continue
        flags = data[off + 2] << 8 | data[off + 3]
        qd = data[off + 4] << 8 | data[off + 5]
        opcode = (flags >> 11) & 0xF
        z = (flags >> 6) & 0x1  # reserved Z bit, must be zero
        if qd == 1 and opcode in (0, 2, 4, 5) and not z and _question_ok(data, off + HEADER):
            return off
    return None


def sniff(data: bytes) -> float:
    """First bytes → 0.9 when they hold one DNS question of a known class, else 0; never raises."""
    return 0.9 if _message_offset(data) is not None else 0.0


def dissect_flow(orig: bytes, resp: bytes) -> Facts:
    """Both directions' first bytes → app_proto dns; raises Malformed when neither is DNS."""
    if _message_offset(orig) is None and _message_offset(resp) is None:
        raise Malformed("dns_invalid")
    return Facts(flow={"app_proto": NAME})
