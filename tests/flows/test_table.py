"""Finishing flows during the read (FlowTable.finish, FlowStream): memory follows the live
flows, and handing flows on early never changes a result."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import classifier.flows.reading as flows_pkg
from classifier import schema
from classifier.flows import FlowStream, assemble, packet_index
from tests.flows.longcap import hand_on_often, long_capture
from tests.flows.test_assemble import T0, C, S, run, session, tcp
from tests.ingest.accounting import balanced


def _never_finish(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flows_pkg, "FINISH_LOOK_PACKETS", 1 << 62)


def test_finishing_early_changes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = str(long_capture(tmp_path))
    with monkeypatch.context() as m:
        _never_finish(m)
        whole = assemble([path])
        whole_index = packet_index([path])
    hand_on_often(monkeypatch)
    stream = FlowStream([path])
    frames = list(stream)
    assert len(frames) > 10  # flows were handed on while reading
    early = assemble([path])
    balanced(early)
    pd.testing.assert_frame_equal(early.flows, whole.flows)
    pd.testing.assert_frame_equal(early.stats, whole.stats)
    pd.testing.assert_frame_equal(packet_index([path]), whole_index)
    streamed = schema.conform(pd.concat(frames, ignore_index=True), schema.FLOW_BASE).sort_values(
        "uid", ignore_index=True)
    pd.testing.assert_frame_equal(streamed, whole.flows.sort_values("uid", ignore_index=True))
    pd.testing.assert_frame_equal(stream.stats, whole.stats)
    pd.testing.assert_frame_equal(stream.inputs, whole.inputs)
    f = whole.flows
    assert len(f) == 300 + 200 + 1 + 1
    assert f["uid"].is_unique
    assert (f["first_frame"].diff().dropna() > 0).all()  # creation order
    # reused client ports: six sessions each, told apart by their ordinals
    assert (f[(f["resp_p"] == 80) & (f["conn_state"] == "SF")].groupby("orig_p").size() == 6).all()
    assert int(f.loc[f["resp_p"] == 6443, "orig_pkts"].iloc[0]) == 21


def test_first_frames_come_before_the_read_ends(tmp_path: Path, finish_often: None) -> None:
    path = long_capture(tmp_path)
    seen: list[int] = []
    stream = FlowStream([str(path)], progress=lambda done, total: seen.append(done))
    first = next(iter(stream))
    assert len(first) > 0 and seen and seen[-1] < path.stat().st_size


def test_closed_connection_quiet_past_timeout_then_a_packet_is_a_new_flow(tmp_path: Path) -> None:
    late = 70.0
    recs = [*session(), (T0 + late, tcp(C, S, 40000, 80, "A", 1020, 5021))]
    f = run(tmp_path, recs)
    assert len(f) == 2
    assert list(f["orig_pkts"]) == [5, 1] and bool(f.iloc[1]["orig_guessed"])


def test_late_ack_within_timeout_joins_the_closed_connection(tmp_path: Path) -> None:
    recs = [*session(), (T0 + 50.0, tcp(C, S, 40000, 80, "A", 1020, 5021))]
    f = run(tmp_path, recs)
    assert len(f) == 1 and int(f.iloc[0]["orig_pkts"]) == 6


def test_half_closed_connection_does_not_time_out(tmp_path: Path) -> None:
    recs = [*session()[:7], (T0 + 200.0, tcp(S, C, 80, 40000, "PA", 5020, 1020, b"more"))]
    f = run(tmp_path, recs)
    assert len(f) == 1 and int(f.iloc[0]["resp_pkts"]) == 4
