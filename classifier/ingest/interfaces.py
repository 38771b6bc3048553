"""pcapng Interface Description Blocks → link type, snaplen, timestamp resolution, name."""

from __future__ import annotations

import struct
from dataclasses import dataclass

IF_NAME = 2
IF_TSRESOL = 9
IF_TSOFFSET = 14
"""Option codes (draft-ietf-opsawg-pcapng §4.2)."""


@dataclass(frozen=True, slots=True)
class Interface:
    """One capture interface: how to read its records' link layer and timestamps."""

    linktype: int
    snaplen: int = 0
    name: str = ""
    mul: int = 1000
    """Timestamp units → ns when units are 10^-n with n <= 9 (default microseconds)."""
    div: int = 1
    """Timestamp units → ns by division when n > 9."""
    shift: int = 0
    """Timestamp units are 2^-shift seconds when > 0."""
    offset_ns: int = 0


def parse_idb(block: bytes, swapped: bool) -> Interface:
    """A whole IDB (header to trailing length) → Interface; bad options are ignored."""
    e = ">" if swapped else "<"
    linktype, _, snaplen = struct.unpack(e + "HHI", block[8:16])
    name = ""
    mul, div, shift, offset = 1000, 1, 0, 0
    p, end = 16, len(block) - 4
    while p + 4 <= end:
        code, length = struct.unpack(e + "HH", block[p:p + 4])
        if code == 0:
            break
        val = block[p + 4:p + 4 + length]
        if code == IF_NAME:
            name = val.decode("utf-8", "replace").rstrip("\x00")
        elif code == IF_TSRESOL and length >= 1:
            r = val[0]
            if r & 0x80:
                shift, mul = min(r & 0x7F, 63), 1
                if shift == 0:
                    mul = 1_000_000_000
            elif (r & 0x7F) <= 9:
                mul = 10 ** (9 - r)
            else:
                mul, div = 1, 10 ** (min(r, 19) - 9)
        elif code == IF_TSOFFSET and length >= 8:
            offset = struct.unpack(e + "q", val[:8])[0] * 1_000_000_000
        p += 4 + length + (-length % 4)
    return Interface(linktype, snaplen, name, mul, div, shift, offset)
