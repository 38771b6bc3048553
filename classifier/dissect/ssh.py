"""SSH (RFC 4253 §4.2): the identification banners of both sides."""

from __future__ import annotations

from typing import Final

from classifier.dissect.facts import Facts, Malformed

NAME: Final = "ssh"
PREFIX: Final = b"SSH-"
MAX_BANNER: Final = 255  # RFC 4253 §4.2: at most 255 characters including CR LF
MAX_PRE_LINES: Final = 16
"""Lines a server may send before its banner (RFC 4253 §4.2) that we skip at most."""


FIRST_BYTES: Final = frozenset({PREFIX[0]})
"""The first bytes ``sniff`` can score above 0."""


def sniff(data: bytes) -> float:
    """First bytes → 1.0 for an SSH banner ('SSH-1.99-' / 'SSH-2.0-'), else 0; never raises."""
    if data.startswith(PREFIX):
        return 1.0 if data[4:8] in (b"2.0-", b"1.99", b"1.5-") or len(data) < 8 else 0.6
    return 0.0


def parse_banner(data: bytes) -> str | None:
    """One direction's first bytes → its banner line, None when incomplete or absent.

    Raises Malformed('ssh_banner_too_long') when the banner line exceeds 255 bytes.
    """
    pos = 0
    for _ in range(MAX_PRE_LINES):
        end = data.find(b"\n", pos)
        line = data[pos:] if end < 0 else data[pos:end]
        if line.startswith(PREFIX):
            if end < 0:
                if len(line) > MAX_BANNER:
                    raise Malformed("ssh_banner_too_long")
                return None
            if len(line) + 1 > MAX_BANNER:
                raise Malformed("ssh_banner_too_long")
            return line.rstrip(b"\r").decode("utf-8", "replace")
        if end < 0:
            return None
        pos = end + 1
    return None


def dissect_flow(orig: bytes, resp: bytes) -> Facts:
    """Both directions' first bytes → ssh_client / ssh_server banners."""
    client = parse_banner(orig)
    server = parse_banner(resp)
    facts = Facts(flow={"app_proto": NAME, "ssh_client": client, "ssh_server": server})
    if client is None or server is None:
        facts.flow["dissect_error"] = "ssh_banner_incomplete"
    return facts
