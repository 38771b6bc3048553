"""A minimal pcapng writer: SHB with comments, one IDB per source interface, EPBs with comments.

Block layouts follow draft-ietf-opsawg-pcapng (sections 4.1 SHB, 4.2 IDB, 4.3 EPB, 3.5 options).
Timestamps are written in nanoseconds (if_tsresol = 9), so any source resolution down to 1 ns
is kept exactly. Little-endian, one section.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO, Final

SHB: Final = 0x0A0D0D0A
IDB: Final = 0x00000001
EPB: Final = 0x00000006
BYTE_ORDER_MAGIC: Final = 0x1A2B3C4D
OPT_ENDOFOPT: Final = 0
OPT_COMMENT: Final = 1
SHB_HARDWARE: Final = 2
SHB_OS: Final = 3
SHB_USERAPPL: Final = 4
IF_NAME: Final = 2
IF_DESCRIPTION: Final = 3
IF_TSRESOL: Final = 9
TSRESOL_NS: Final = 9
"""if_tsresol value 9: timestamps in units of 10^-9 s."""
MAX_OPTION: Final = 0xFFFF
"""An option's length field is 16 bits."""


def _pad(n: int) -> int:
    return (4 - n % 4) % 4


def option(code: int, value: bytes) -> bytes:
    """Option code + value → the TLV padded to 32 bits (value cut to 65535 bytes)."""
    value = value[:MAX_OPTION]
    return struct.pack("<HH", code, len(value)) + value + b"\0" * _pad(len(value))


def _options(opts: list[tuple[int, bytes]]) -> bytes:
    if not opts:
        return b""
    return b"".join(option(c, v) for c, v in opts) + struct.pack("<HH", OPT_ENDOFOPT, 0)


def _block(block_type: int, body: bytes) -> bytes:
    total = 12 + len(body)
    return struct.pack("<II", block_type, total) + body + struct.pack("<I", total)


@dataclass(frozen=True, slots=True)
class InterfaceSpec:
    """An interface to declare: link type, snap length (0 = none), name, description."""

    linktype: int
    snaplen: int = 0
    name: str = ""
    description: str = ""


class PcapngWriter:
    """Writes one pcapng section to a binary stream; interfaces are declared before use."""

    def __init__(self, stream: BinaryIO, *, comments: list[str], userappl: str,
                 os_name: str = "", hardware: str = "") -> None:
        self._out = stream
        self._ifaces: dict[InterfaceSpec, int] = {}
        self.packets = 0
        opts = [(OPT_COMMENT, c.encode()) for c in comments]
        if hardware:
            opts.append((SHB_HARDWARE, hardware.encode()))
        if os_name:
            opts.append((SHB_OS, os_name.encode()))
        opts.append((SHB_USERAPPL, userappl.encode()))
        # Section length -1: not computed (allowed by the spec, section 4.1).
        body = struct.pack("<IHHq", BYTE_ORDER_MAGIC, 1, 0, -1) + _options(opts)
        self._out.write(_block(SHB, body))

    def interface(self, spec: InterfaceSpec) -> int:
        """Interface spec → its interface id in this section (an IDB is written the first time)."""
        if spec in self._ifaces:
            return self._ifaces[spec]
        opts: list[tuple[int, bytes]] = []
        if spec.name:
            opts.append((IF_NAME, spec.name.encode()))
        if spec.description:
            opts.append((IF_DESCRIPTION, spec.description.encode()))
        opts.append((IF_TSRESOL, bytes([TSRESOL_NS])))
        body = struct.pack("<HHI", spec.linktype & 0xFFFF, 0, spec.snaplen) + _options(opts)
        self._out.write(_block(IDB, body))
        self._ifaces[spec] = len(self._ifaces)
        return self._ifaces[spec]

    def packet(self, iface: int, ts_ns: int, data: bytes, orig_len: int,
               comments: list[str]) -> None:
        """One Enhanced Packet Block: interface id, ns timestamp, captured bytes, comments."""
        ts = max(ts_ns, 0)
        body = (struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(data),
                            max(orig_len, len(data)))
                + data + b"\0" * _pad(len(data))
                + _options([(OPT_COMMENT, c.encode()) for c in comments]))
        self._out.write(_block(EPB, body))
        self.packets += 1
