"""Packet accounting vocabulary: numeric reason codes used by the numba kernels → names.

Codes below 256 are fixed reasons; ``PROTO_BASE + n`` means "IP protocol n, out of scope".
"""

from __future__ import annotations

from typing import Final

# decoded
TCP: Final = 0
UDP: Final = 1
# skipped: damaged or undecodable records
TRUNCATED_RECORD: Final = 2
CORRUPT_RECORD_HEADER: Final = 3
UNSUPPORTED_LINK_TYPE: Final = 4
LINK_TRUNCATED: Final = 5
IPV4_TRUNCATED: Final = 6
IPV4_BAD_HEADER: Final = 7
IPV6_TRUNCATED: Final = 8
IPV6_BAD_HEADER: Final = 9
TCP_TRUNCATED: Final = 10
TCP_BAD_HEADER: Final = 11
UDP_TRUNCATED: Final = 12
IPV4_FRAGMENT: Final = 13
IPV6_FRAGMENT: Final = 14
TUNNEL_TRUNCATED: Final = 15
TUNNEL_TOO_DEEP: Final = 16
PCAPNG_UNKNOWN_BLOCK: Final = 17
PCAPNG_BAD_INTERFACE: Final = 18
IP_BAD_VERSION: Final = 19
# out of scope: well-formed traffic kubewire does not analyze
NON_IP: Final = 40
ARP: Final = 41
LLDP: Final = 42
IPV6_NO_NEXT_HEADER: Final = 43
ESP: Final = 44
PROTO_BASE: Final = 256

_NAMES: Final = {
    TCP: "tcp", UDP: "udp",
    TRUNCATED_RECORD: "truncated_record",
    CORRUPT_RECORD_HEADER: "corrupt_record_header",
    UNSUPPORTED_LINK_TYPE: "unsupported_link_type",
    LINK_TRUNCATED: "link_header_truncated",
    IPV4_TRUNCATED: "ipv4_header_truncated",
    IPV4_BAD_HEADER: "ipv4_bad_header",
    IPV6_TRUNCATED: "ipv6_header_truncated",
    IPV6_BAD_HEADER: "ipv6_bad_header",
    TCP_TRUNCATED: "tcp_header_truncated",
    TCP_BAD_HEADER: "tcp_bad_header",
    UDP_TRUNCATED: "udp_header_truncated",
    IPV4_FRAGMENT: "ipv4_fragment",
    IPV6_FRAGMENT: "ipv6_fragment",
    TUNNEL_TRUNCATED: "tunnel_header_truncated",
    TUNNEL_TOO_DEEP: "tunnel_too_deep",
    PCAPNG_UNKNOWN_BLOCK: "pcapng_unknown_block",
    PCAPNG_BAD_INTERFACE: "pcapng_bad_interface_id",
    IP_BAD_VERSION: "ip_bad_version",
    NON_IP: "non_ip",
    ARP: "arp",
    LLDP: "lldp",
    IPV6_NO_NEXT_HEADER: "ipv6_no_next_header",
    ESP: "esp",
}

# IANA protocol numbers (https://www.iana.org/assignments/protocol-numbers)
_IP_PROTOS: Final = {
    1: "icmp", 2: "igmp", 47: "gre", 50: "esp", 51: "ah", 58: "icmpv6", 89: "ospf",
    103: "pim", 112: "vrrp", 132: "sctp", 136: "udplite",
}


MALFORMED: Final = frozenset({
    TRUNCATED_RECORD, CORRUPT_RECORD_HEADER, LINK_TRUNCATED, IPV4_TRUNCATED, IPV4_BAD_HEADER,
    IPV6_TRUNCATED, IPV6_BAD_HEADER, TCP_TRUNCATED, TCP_BAD_HEADER, UDP_TRUNCATED,
    TUNNEL_TRUNCATED, PCAPNG_BAD_INTERFACE, IP_BAD_VERSION,
})
"""Reasons that mean damaged input (``strict=True`` raises at the first one)."""


def reason_name(code: int) -> str:
    """Reason code → snake_case name."""
    if code >= PROTO_BASE:
        p = code - PROTO_BASE
        return _IP_PROTOS.get(p, f"ip_proto_{p}")
    return _NAMES.get(code, f"reason_{code}")


def outcome(code: int) -> str:
    """Reason code → 'decoded', 'skipped' or 'out_of_scope'."""
    if code in (TCP, UDP):
        return "decoded"
    if code >= NON_IP:
        return "out_of_scope"
    return "skipped"
