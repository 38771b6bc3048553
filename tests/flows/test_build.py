"""flows.build helpers: address text per flow and uids from fact columns."""

from __future__ import annotations

import ipaddress

import numpy as np

from classifier.flows.build import format_addr, format_addrs, make_uid, make_uids


def _words(addr: str) -> tuple[int, int]:
    ip = ipaddress.ip_address(addr)
    v = int(ip if ip.version == 6 else ipaddress.IPv6Address(f"::ffff:{addr}"))
    return v >> 64, v & (2**64 - 1)


def test_format_addrs_mixes_ipv4_and_ipv6_and_repeats() -> None:
    addrs = ["10.0.0.1", "fd00::1", "10.0.0.1", "::ffff:0:1", "255.255.255.255", "fd00::1",
             "0.0.0.0", "::", "2001:db8::8a2e:370:7334"]
    hi, lo = (np.array(w, dtype=np.uint64) for w in zip(*map(_words, addrs), strict=True))
    got = format_addrs(hi, lo)
    assert got == [format_addr(h, l_) for h, l_ in zip(hi.tolist(), lo.tolist(), strict=True)]
    assert got[:3] == ["10.0.0.1", "fd00::1", "10.0.0.1"] and got[4] == "255.255.255.255"
    assert format_addrs(np.empty(0, np.uint64), np.empty(0, np.uint64)) == []


def test_make_uids_hashes_each_rows_facts_as_text() -> None:
    facts = (1_700_000_000_000_000_000, "tcp", "10.0.0.1", 40000, "10.0.0.2", 443, None, None,
             "", "", -1, 0)
    uid = make_uid(*facts)
    # pinned: a change in how facts become text would change every uid users have recorded
    assert uid == make_uids([[f] for f in facts])[0] == "C8h4HdqmdkmLi1KQmI"
    assert uid.startswith("C") and len(uid) == 18
    cols = [[f, f] for f in facts]
    cols[-1] = [0, 1]  # the ordinal separates a reused 5-tuple
    a, b = make_uids(cols)
    assert a == uid and b != uid
    assert make_uids([[], []]) == []
