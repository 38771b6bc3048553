"""Writing crafted captures for tests: classic pcap (any byte order/resolution) and pcapng."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from pathlib import Path

Record = tuple[float, bytes]
"""(timestamp in seconds, frame bytes)."""


def pcap_bytes(records: Sequence[Record], *, linktype: int = 1, big_endian: bool = False,
               nanos: bool = False, snaplen: int = 262144) -> bytes:
    """Records → a classic pcap file (frames longer than snaplen are cut to it)."""
    e = ">" if big_endian else "<"
    magic = 0xA1B23C4D if nanos else 0xA1B2C3D4
    out = [struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)]
    for ts, frame in records:
        sec = int(ts)
        frac = round((ts - sec) * (1e9 if nanos else 1e6))
        cap = frame[:snaplen]
        out.append(struct.pack(e + "IIII", sec, frac, len(cap), len(frame)) + cap)
    return b"".join(out)


def write_pcap(path: Path, records: Sequence[Record], **kw: object) -> Path:
    """Records → a pcap file at path (see pcap_bytes for options)."""
    path.write_bytes(pcap_bytes(records, **kw))  # type: ignore[arg-type]
    return path


def _block(e: str, btype: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    n = len(body) + 12
    return struct.pack(e + "II", btype, n) + body + struct.pack(e + "I", n)


def _opt(e: str, code: int, val: bytes) -> bytes:
    return struct.pack(e + "HH", code, len(val)) + val + b"\0" * (-len(val) % 4)


def shb(e: str = "<") -> bytes:
    """A section header block in byte order e."""
    return _block(e, 0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(linktype: int, *, e: str = "<", tsresol: int | None = None, name: str = "",
        snaplen: int = 0) -> bytes:
    """An interface description block (tsresol byte as in if_tsresol)."""
    opts = b""
    if name:
        opts += _opt(e, 2, name.encode())
    if tsresol is not None:
        opts += _opt(e, 9, bytes([tsresol]))
    if opts:
        opts += _opt(e, 0, b"")
    return _block(e, 1, struct.pack(e + "HHI", linktype, 0, snaplen) + opts)


def epb(iface: int, ts_units: int, frame: bytes, *, e: str = "<") -> bytes:
    """An enhanced packet block; ts_units in the interface's resolution."""
    return _block(e, 6, struct.pack(e + "IIIII", iface, ts_units >> 32, ts_units & 0xFFFFFFFF,
                                    len(frame), len(frame)) + frame)


def spb(frame: bytes, *, e: str = "<") -> bytes:
    """A simple packet block (interface 0, no timestamp)."""
    return _block(e, 3, struct.pack(e + "I", len(frame)) + frame)


def opb(iface: int, ts_units: int, frame: bytes, *, e: str = "<") -> bytes:
    """An obsolete packet block (type 2)."""
    return _block(e, 2, struct.pack(e + "HHIIII", iface, 0, ts_units >> 32,
                                    ts_units & 0xFFFFFFFF, len(frame), len(frame)) + frame)


def unknown_block(btype: int = 0x0BADBEEF, *, e: str = "<") -> bytes:
    """A block of a type no reader knows."""
    return _block(e, btype, b"\x01\x02\x03\x04")
