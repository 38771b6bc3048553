"""merge_points on synthetic flow tables: one flow per connection across capture points."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from classifier import schema
from classifier.flows.merge import merge_points, merge_views

T0 = pd.Timestamp("2024-05-01T12:00:00Z")
SKEW = pd.Timedelta(seconds=3.2)  # point b's clock runs 3.2 s ahead


def _flow(uid: str, t: pd.Timestamp, orig: tuple[str, int], resp: tuple[str, int], *,
          proto: str = "tcp", isn: tuple[int | None, int | None] = (None, None),
          pkts: tuple[int, int] = (5, 5), point: str, duration: float = 1.0,
          guessed: bool = False, tunnel: str | None = None) -> dict[str, object]:
    return dict(uid=uid, ts=t, duration=duration, orig_h=orig[0], orig_p=orig[1],
                resp_h=resp[0], resp_p=resp[1], proto=proto, orig_pkts=pkts[0],
                resp_pkts=pkts[1], orig_guessed=guessed, orig_isn=isn[0], resp_isn=isn[1],
                capture=f"{point}.pcap", captures=f"{point}.pcap", capture_points=point,
                first_frame=1, last_frame=10, tunnel=tunnel, orig_burst_interval=float("nan"))


def _frame(rows: list[dict[str, object]]) -> pd.DataFrame:
    return schema.conform(rows, schema.FLOW_BASE)


def _pair() -> tuple[pd.DataFrame, pd.DataFrame]:
    kubelet = (("10.0.0.1", 50000), ("10.0.0.5", 10250))
    a = _frame([
        _flow("Ca1", T0, *kubelet, isn=(1000, 2000), pkts=(4, 3), point="a"),
        _flow("Ca2", T0 + pd.Timedelta(seconds=5), ("10.0.0.1", 50001), ("10.0.0.9", 6443),
              isn=(7, 8), point="a"),
        _flow("Ca3", T0 + pd.Timedelta(seconds=1), ("10.0.0.7", 5353), ("10.96.0.10", 53),
              proto="udp", point="a", duration=0.01),
        # Port reuse: same 5-tuple, new connection 100 s later.
        _flow("Ca4", T0 + pd.Timedelta(seconds=100), *kubelet, isn=(3000, 4000), point="a"),
        # NAT'ed view of Cb5 (client side sees the service VIP): never merged.
        _flow("Ca5", T0 + pd.Timedelta(seconds=7), ("10.0.0.1", 50003), ("10.96.0.1", 443),
              isn=(55, 66), point="a"),
        # Same tuple and time as Cb6 but a different ISN: a different connection.
        _flow("Ca6", T0 + pd.Timedelta(seconds=9), ("10.0.0.1", 50004), ("10.0.0.5", 10255),
              isn=(70, 80), point="a"),
    ])
    b = _frame([
        _flow("Cb1", T0 + SKEW + pd.Timedelta(milliseconds=1), *kubelet, isn=(1000, 2000),
              pkts=(6, 5), point="b", tunnel="vxlan"),
        _flow("Cb3", T0 + SKEW + pd.Timedelta(seconds=1.002), ("10.96.0.10", 53),
              ("10.0.0.7", 5353), proto="udp", point="b", guessed=True, duration=0.01),
        _flow("Cb4", T0 + SKEW + pd.Timedelta(seconds=100), *kubelet, isn=(3000, 4000),
              point="b"),
        _flow("Cb5", T0 + SKEW + pd.Timedelta(seconds=7), ("10.0.0.1", 50003),
              ("10.0.0.5", 6443), isn=(55, 66), point="b"),
        _flow("Cb6", T0 + SKEW + pd.Timedelta(seconds=9), ("10.0.0.1", 50004),
              ("10.0.0.5", 10255), isn=(71, 80), point="b"),
        _flow("Cb7", T0 + SKEW + pd.Timedelta(seconds=20), ("10.0.0.5", 40000),
              ("10.0.0.1", 6443), isn=(9, 10), point="b"),
    ])
    return a, b


def test_one_flow_per_connection() -> None:
    a, b = _pair()
    m = merge_views([a, b])
    out = m.flows
    assert list(out.columns) == schema.FLOW_BASE.names
    assert {k: str(v) for k, v in out.dtypes.items()} == {k: str(v) for k, v in a.dtypes.items()}
    assert abs(m.skew["b"] - SKEW.total_seconds()) < 0.01
    by_uid = out.set_index("uid")
    # Seen at both points: one flow, both files and points listed.
    for uid in ("Cb1", "Ca3", "Ca4"):
        assert by_uid.loc[uid, "capture_points"] == "a|b", uid
        assert by_uid.loc[uid, "captures"] == "a.pcap|b.pcap", uid
    # Seen at one point only.
    for uid, point in (("Ca2", "a"), ("Ca5", "a"), ("Cb5", "b"), ("Ca6", "a"), ("Cb6", "b"),
                       ("Cb7", "b")):
        assert by_uid.loc[uid, "capture_points"] == point, uid
    assert len(out) == 9
    assert out["ts"].is_monotonic_increasing


def test_primary_view_counts_and_gap_filling() -> None:
    a, b = _pair()
    by_uid = merge_points([a, b]).set_index("uid")
    # b saw more packets of the kubelet connection: its counters, its capture file and frames.
    row = by_uid.loc["Cb1"]
    assert (row["orig_pkts"], row["resp_pkts"]) == (6, 5)
    assert row["capture"] == "b.pcap"
    assert row["tunnel"] == "vxlan"
    # The UDP conversation: a saw its first packet from the real client (b guessed wrong),
    # so a's orientation wins although b's clock and packets are the same.
    dns = by_uid.loc["Ca3"]
    assert (dns["orig_h"], dns["orig_p"]) == ("10.0.0.7", 5353)


def test_aliases_map_every_input_flow() -> None:
    a, b = _pair()
    aliases = merge_views([a, b]).aliases
    assert len(aliases) == len(a) + len(b)
    mapping = dict(zip(aliases["uid"], aliases["merged_uid"], strict=True))
    assert mapping["Ca1"] == "Cb1" and mapping["Cb1"] == "Cb1"
    assert mapping["Cb3"] == "Ca3"
    assert mapping["Ca5"] == "Ca5" and mapping["Cb5"] == "Cb5"


def test_no_skew_estimate_without_handshakes_still_matches_close_flows() -> None:
    a = _frame([_flow("Ca", T0, ("10.0.0.1", 1), ("10.0.0.2", 2), point="a", guessed=True)])
    b = _frame([_flow("Cb", T0 + pd.Timedelta(seconds=0.5), ("10.0.0.1", 1), ("10.0.0.2", 2),
                      point="b", guessed=True)])
    out = merge_points([a, b])
    assert len(out) == 1 and out["capture_points"].iloc[0] == "a|b"
    far = _frame([_flow("Cc", T0 + pd.Timedelta(seconds=30), ("10.0.0.1", 1), ("10.0.0.2", 2),
                        point="c", guessed=True)])
    assert len(merge_points([a, far])) == 2


def test_single_and_empty_inputs() -> None:
    a, _ = _pair()
    assert len(merge_points([a])) == len(a)
    empty = schema.empty(schema.FLOW_BASE)
    out = merge_points([empty, empty])
    assert len(out) == 0 and list(out.columns) == schema.FLOW_BASE.names
    assert len(merge_points([a, empty])) == len(a)


def test_three_points() -> None:
    a, b = _pair()
    c = b.copy()
    c["uid"] = c["uid"].str.replace("Cb", "Cc")
    c["captures"] = "c.pcap"
    c["capture_points"] = "c"
    c["ts"] = c["ts"] - pd.Timedelta(seconds=10)
    out = merge_points([a, b, c]).set_index("uid")
    assert len(out) == 9
    assert out.loc["Cb1", "capture_points"] == "a|b|c"


def test_crafted_two_point_captures(tmp_path: Path) -> None:
    """Real assembly of one connection captured at two nodes, the second clock 2.5 s ahead."""
    from classifier.flows import assemble
    from tests.forensics import crafted

    a, b = crafted.write_pair(tmp_path)
    flows = assemble([str(a), str(b)]).flows
    assert len(flows) == 3
    points = dict(zip(flows["resp_p"].astype(int), flows["capture_points"], strict=True))
    assert points[crafted.SERVER[1]] == f"{a}|{b}"
    assert points[53] == str(a)  # seen only at the client's node
    assert points[10250] == str(b)  # seen only at the server's node
    kubelet = flows[flows["resp_p"] == crafted.SERVER[1]].iloc[0]
    assert kubelet["captures"] == f"{a}|{b}"
    assert (kubelet["orig_isn"], kubelet["resp_isn"]) == (crafted.ISN_C, crafted.ISN_S)
    assert kubelet["orig_pkts"] + kubelet["resp_pkts"] == 10  # not summed over the points


def _lab_pairs() -> list[tuple[Path, Path]]:
    """The lab's simultaneous capture pairs: (point-a capture, point-b capture) per scenario."""
    import json

    from tests.conftest import CAPTURES

    by_scenario: dict[str, dict[str, Path]] = {}
    for labels in sorted(CAPTURES.glob("*.labels.json")):
        meta = json.loads(labels.read_text())
        if meta.get("variant") in ("point-a", "point-b"):
            by_scenario.setdefault(meta["scenario"], {})[meta["variant"]] = \
                CAPTURES / meta["capture"]
    return [(v["point-a"], v["point-b"]) for _, v in sorted(by_scenario.items())
            if len(v) == 2]


@pytest.mark.parametrize("pair", _lab_pairs(), ids=lambda p: p[0].name)
def test_lab_capture_pair(pair: tuple[Path, Path]) -> None:
    """Each labelled connection is one flow; its capture points are the files that saw it."""
    import json

    from classifier.flows import assemble

    seen: dict[tuple[str, int, str, int], set[str]] = {}
    for capture in pair:
        labels = json.loads(Path(str(capture).rsplit(".pcap", 1)[0] + ".labels.json").read_text())
        for c in labels["connections"]:
            if c.get("client_port") is None:
                continue
            key = (c["client"], int(c["client_port"]), c["server"], int(c["server_port"]))
            seen.setdefault(key, set()).add(str(capture))
    flows = assemble([str(p) for p in pair]).flows
    assert {s for v in seen.values() for s in v} == {str(p) for p in pair}
    for (ch, cp, sh, sp), captures in seen.items():
        rows = flows[(flows["orig_h"] == ch) & (flows["orig_p"] == cp)
                     & (flows["resp_h"] == sh) & (flows["resp_p"] == sp)]
        assert len(rows) == 1, (ch, cp, sh, sp)
        assert set(rows["capture_points"].iloc[0].split("|")) == captures, (ch, cp, sh, sp)
        assert set(rows["captures"].iloc[0].split("|")) == captures, (ch, cp, sh, sp)


def test_nat_views_are_reported_not_merged() -> None:
    a, b = _pair()
    m = merge_views([a, b])
    pairs = set(zip(m.translated["uid"], m.translated["other_uid"], strict=True))
    assert pairs == {("Ca5", "Cb5")}
    by_uid = m.flows.set_index("uid")
    assert by_uid.loc["Ca5", "capture_points"] == "a" and by_uid.loc["Cb5", "capture_points"] == "b"
