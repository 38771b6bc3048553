"""flows.build helpers: address text per flow and uids from fact columns."""

from __future__ import annotations

import hashlib
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


def _reference_uid(facts: tuple[object, ...]) -> str:
    """The uid rule written plainly: base62 of the 128-bit BLAKE2b of str(facts) joined by '|'."""
    v = int.from_bytes(hashlib.blake2b("|".join(map(str, facts)).encode(), digest_size=16).digest())
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    return "C" + "".join(alphabet[(v // 62**k) % 62] for k in range(17))


def test_make_uids_hashes_each_rows_facts_as_text() -> None:
    facts = (1_700_000_000_000_000_000, "tcp", "10.0.0.1", 40000, "10.0.0.2", 443, None, None,
             "", "", -1, 0)
    uid = make_uid(*facts)
    # pinned: a change in how facts become text would change every uid users have recorded
    assert uid == make_uids([[f] for f in facts])[0] == "C8h4HdqmdkmLi1KQmI"
    assert uid == _reference_uid(facts)
    assert uid.startswith("C") and len(uid) == 18
    cols = [[f, f] for f in facts]
    cols[-1] = [0, 1]  # the ordinal separates a reused 5-tuple
    a, b = make_uids(cols)
    assert a == uid and b != uid
    assert make_uids([[], []]) == []


def test_uid_fact_text_is_str_of_each_value_whatever_the_column_type() -> None:
    """Integer arrays, text with None, and mixed or other values all hash as ``str`` would
    write them: the uid of a row never depends on how its column was passed."""
    rows = [(1, "a", None, 2**64 - 1, True, 0.5, b"x", -3), (2, None, None, 0, False, 1e20, b"", 7)]
    as_lists = [list(c) for c in zip(*rows, strict=True)]
    typed = [np.array(as_lists[0], np.int64), *as_lists[1:7], np.array(as_lists[7], np.int32)]
    mixed = [["1", 2], *as_lists[1:]]  # text and ints in one column: the same text
    want = [_reference_uid(r) for r in rows]
    assert make_uids(as_lists) == make_uids(typed) == want
    assert make_uids(mixed) == want


def test_group_medians_are_pandas_groupby_medians() -> None:
    import pandas as pd

    from classifier.flows.build import group_medians

    rng = np.random.default_rng(3)
    group = rng.integers(0, 40, 500)
    values = rng.integers(10**9, 10**11, 500)
    got = group_medians(group, values, 50)
    want = np.full(50, np.nan)
    med = pd.Series(values / 1e9).groupby(group).median()
    want[med.index.to_numpy()] = med.to_numpy()
    np.testing.assert_array_equal(got, want)  # NaN where a flow had no bursts
    assert np.isnan(group_medians(np.empty(0, np.int64), np.empty(0, np.int64), 3)).all()


def test_arrow_build_has_the_rows_of_the_frame_build() -> None:
    """build_arrow (no pandas) and build_flows (frames) make the same flows from one read."""
    from pathlib import Path

    import pandas as pd

    from classifier import schema
    from classifier.flows.build import build_arrow, build_flows
    from classifier.flows.reading import open_points

    cap = str(Path(__file__).resolve().parents[2] / "captures" / "attack.pcap")
    (point,) = open_points([cap], 16384, False, None)
    (done,) = list(point.finished())
    copy = type(done)(done.n, dict(done.f), done.keys, done.payloads, done.sightings,
                      done.bursts)
    frame, uids = build_flows(done, point.paths, point.paths[0])
    table, uids2 = build_arrow(copy, point.paths, point.paths[0])
    assert table.column_names == schema.FLOW_BASE.names and list(uids) == list(uids2)
    for name in schema.FLOW_BASE.names:
        want = [None if schema.is_missing(v) else v for v in frame[name].tolist()]
        got = table[name].to_pylist()
        if name == "ts":
            want = [v.value for v in frame[name]]
            got = [int(v) for v in table[name].cast("int64").to_pylist()]
        assert got == want, name
    assert isinstance(frame, pd.DataFrame)


def test_payload_arrays_take_each_prefix_from_the_buffer_tiled_or_not() -> None:
    from classifier.flows.build import payload_arrays
    from classifier.flows.table import Payloads

    def arrays(data: bytes, start: list[int], length: list[int]) -> tuple[list[bytes], ...]:
        pl = Payloads(np.frombuffer(data, np.uint8), np.array(start, np.int64),
                      np.array(length, np.int64), np.zeros(len(start), np.int64))
        orig, resp = payload_arrays(pl)
        return orig.to_pylist(), resp.to_pylist()

    # every byte once, out of order, an empty prefix whose start means nothing
    assert arrays(b"abcdef", [3, 0, 9, 5], [2, 3, 0, 1]) == ([b"de", b""], [b"abc", b"f"])
    # gaps and shared bytes: each prefix copied on its own
    assert arrays(b"abXYe", [4, 0, 1, 1], [1, 2, 1, 3]) == ([b"e", b"b"], [b"ab", b"bXY"])
    assert arrays(b"", [0, 0], [0, 0]) == ([b""], [b""])
