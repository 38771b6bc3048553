"""apply_filter: time windows, hosts, paths and the safe --where subset."""

from __future__ import annotations

import contextlib

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classifier import schema
from classifier.errors import FilterError
from classifier.forensics.filters import FlowFilter, apply_filter, parse_duration, parse_time

T0 = pd.Timestamp("2024-05-01T12:00:00Z")


def _flows() -> pd.DataFrame:
    return _FLOWS.copy()


def _build() -> pd.DataFrame:
    rows = [
        dict(uid="C1", ts=T0, duration=1.0, orig_h="10.0.0.5", orig_p=40000, resp_h="10.0.0.1",
             resp_p=6443, proto="tcp", path="node-to-apiserver", client_role="node",
             server_role="apiserver", client_name="node-1", server_name="control-plane",
             http_user_agent=None, plaintext=False, orig_bytes=100, resp_bytes=2000),
        dict(uid="C2", ts=T0 + pd.Timedelta(seconds=40), duration=600.0, orig_h="10.244.1.7",
             orig_p=41000, resp_h="10.0.0.5", resp_p=10250, proto="tcp",
             path="pod-to-kubelet", client_role="pod", server_role="node",
             client_name="default/scanner-abc", server_name="node-1",
             http_user_agent="curl/8.5.0", plaintext=True, orig_bytes=300, resp_bytes=None),
        dict(uid="C3", ts=T0 + pd.Timedelta(minutes=20), duration=0.5, orig_h="fd00::1",
             orig_p=42000, resp_h="fd00::2", resp_p=2379, proto="tcp", path="apiserver-to-etcd",
             client_role="apiserver", server_role="etcd", client_name="control-plane",
             server_name="kube-system/etcd-0", http_user_agent=None, plaintext=True,
             orig_bytes=10, resp_bytes=5_000_000),
        dict(uid="C4", ts=T0 + pd.Timedelta(minutes=30), duration=0.1, orig_h="10.0.0.9",
             orig_p=53, resp_h="10.96.0.10", resp_p=53, proto="udp", path=None,
             client_role=None, server_role=None, client_name=None, server_name=None,
             http_user_agent=None, plaintext=None, orig_bytes=40, resp_bytes=80),
    ]
    for r in rows:  # float columns given explicitly (conform cannot fill float64 with NA)
        r.setdefault("orig_burst_interval", float("nan"))
        r.setdefault("path_confidence", float("nan"))
    return schema.conform(rows, schema.FLOWS)


_FLOWS = _build()


def _uids(flt: FlowFilter) -> list[str]:
    return list(apply_filter(_flows(), flt)["uid"])


def test_no_filter_keeps_everything_with_schema() -> None:
    out = apply_filter(_flows(), FlowFilter())
    assert list(out["uid"]) == ["C1", "C2", "C3", "C4"]
    assert list(out.columns) == schema.FLOWS.names


def test_empty_frame() -> None:
    out = apply_filter(schema.empty(schema.FLOWS), FlowFilter(since="+5m", where="resp_p == 1"))
    assert len(out) == 0 and list(out.columns) == schema.FLOWS.names


def test_relative_since_uses_capture_start_and_overlap() -> None:
    # C2 starts at +40s and lasts 10 minutes: it overlaps a window that starts at +5m.
    assert _uids(FlowFilter(since="+5m")) == ["C2", "C3", "C4"]
    assert _uids(FlowFilter(since="+1h30m")) == []
    assert _uids(FlowFilter(until="+30s")) == ["C1"]
    assert _uids(FlowFilter(since="+30s", until="+1m")) == ["C2"]


def test_relative_to_end() -> None:
    assert _uids(FlowFilter(since="-1s")) == ["C4"]


def test_absolute_iso_and_epoch() -> None:
    assert _uids(FlowFilter(since="2024-05-01T12:25:00Z")) == ["C4"]
    # No zone means UTC.
    assert _uids(FlowFilter(until="2024-05-01 12:00:30")) == ["C1"]
    epoch = str(int(T0.timestamp()) + 1800) + ".05"
    assert _uids(FlowFilter(since=epoch)) == ["C4"]  # C4 lasts until +1800.1 s
    assert parse_time(epoch, None) == T0 + pd.Timedelta(seconds=1800.05)
    assert _uids(FlowFilter(since=str(int(T0.timestamp()) + 1799))) == ["C4"]


def test_durations() -> None:
    assert parse_duration("1h30m") == pd.Timedelta(minutes=90)
    assert parse_duration("1.5s") == pd.Timedelta(milliseconds=1500)
    assert parse_duration("250ms") == pd.Timedelta(milliseconds=250)
    assert parse_duration("2d") == pd.Timedelta(days=2)
    for bad in ("", "5", "5x", "m5", "1h 30m", "-5m"):
        with pytest.raises(FilterError):
            parse_duration(bad)


def test_bad_times() -> None:
    with pytest.raises(FilterError):
        parse_time("yesterday-ish", T0)
    with pytest.raises(FilterError):
        apply_filter(_flows(), FlowFilter(since="+10m", until="+1m"))


def test_host_by_address_cidr_and_name() -> None:
    assert _uids(FlowFilter(hosts=("10.0.0.5",))) == ["C1", "C2"]
    assert _uids(FlowFilter(hosts=("fd00:0:0:0::2",))) == ["C3"]
    assert _uids(FlowFilter(hosts=("10.244.0.0/16",))) == ["C2"]
    assert _uids(FlowFilter(hosts=("node-1",))) == ["C1", "C2"]
    assert _uids(FlowFilter(hosts=("etcd-0",))) == ["C3"]
    assert _uids(FlowFilter(hosts=("kube-system/etcd-0", "10.96.0.10"))) == ["C3", "C4"]
    assert _uids(FlowFilter(hosts=("nope",))) == []


def test_path() -> None:
    assert _uids(FlowFilter(paths=("pod-to-kubelet",))) == ["C2"]
    assert _uids(FlowFilter(paths=("pod-to-kubelet", "apiserver-to-etcd"))) == ["C2", "C3"]


def test_combined_constraints_are_and() -> None:
    assert _uids(FlowFilter(hosts=("node-1",), since="+30s")) == ["C2"]


@pytest.mark.parametrize(("expr", "expected"), [
    ("resp_p == 10250", ["C2"]),
    ("resp_p in [2379, 2380] or proto == 'udp'", ["C3", "C4"]),
    ("resp_p not in [2379, 53]", ["C1", "C2"]),
    ("plaintext and resp_bytes > 1000000", ["C3"]),
    ("(resp_p == 6443) | (resp_p == 53)", ["C1", "C4"]),
    ("~(proto == 'tcp')", ["C4"]),
    ("not plaintext", ["C1"]),
    ("1000 < orig_bytes + resp_bytes < 3000", ["C1"]),
    ("http_user_agent.str.contains('curl')", ["C2"]),
    ("http_user_agent.str.lower().str.startswith('CURL', )", []),
    ("http_user_agent.str.contains('CURL', case=False)", ["C2"]),
    ("server_name.str.endswith('etcd-0')", ["C3"]),
    ("path.isna()", ["C4"]),
    ("path.notna() & client_role == 'pod'", ["C2"]),
    ("resp_p.isin([53, 6443])", ["C1", "C4"]),
    ("duration.between(0.4, 1.0)", ["C1", "C3"]),
    ("ts > '2024-05-01T12:10:00Z'", ["C3", "C4"]),
    ("path == ['pod-to-kubelet', 'apiserver-to-etcd']", ["C2", "C3"]),
    ("resp_bytes > 100", ["C1", "C3"]),
])
def test_where(expr: str, expected: list[str]) -> None:
    assert _uids(FlowFilter(where=expr)) == expected


@pytest.mark.parametrize("expr", [
    "__import__('os').system('true')",
    "@x > 1",
    "resp_p == @secret",
    "resp_p.__class__",
    "resp_p.__class__.__mro__",
    "ts.dt.tz",
    "orig_h.str.cat(['a'])",
    "resp_p.apply(print)",
    "resp_p.pipe(lambda s: s)",
    "open('/etc/passwd')",
    "[x for x in resp_p]",
    "resp_p[0] == 1",
    "resp_p ** 1000",
    "'a' * 10000000",
    "f'{resp_p}' == 'x'",
    "nosuchcolumn == 1",
    "resp_p ==",
    "resp_p is None",
    "resp_p.isin(resp_p)",
    "http_user_agent.str.contains(orig_h)",
    "resp_p + 1",
    "orig_h + 'x' == 'y'",
    "resp_p.isna(**{'a': 1})",
    "`resp_p` == 1",
])
def test_where_rejects(expr: str) -> None:
    with pytest.raises(FilterError):
        apply_filter(_flows(), FlowFilter(where=expr))


def test_where_unknown_column_suggests() -> None:
    with pytest.raises(FilterError, match="resp_p"):
        apply_filter(_flows(), FlowFilter(where="resp_port == 1"))


def test_describe() -> None:
    flt = FlowFilter(since="+5m", hosts=("node-1",), where="resp_p == 1")
    assert flt.describe() == {"since": "+5m", "hosts": ["node-1"], "where": "resp_p == 1"}
    assert FlowFilter().empty and not flt.empty


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="resp_porig_h.()[]'\"=!<>&|~ 0123456789andornotinstrcontainsisna@_,+-*/",
               max_size=60))
def test_where_never_fails_except_with_filter_error(expr: str) -> None:
    try:
        out = apply_filter(_flows(), FlowFilter(where=expr))
    except FilterError:
        return
    assert set(out["uid"]) <= {"C1", "C2", "C3", "C4"}


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=30))
def test_times_never_fail_except_with_filter_error(text: str) -> None:
    with contextlib.suppress(FilterError):
        apply_filter(_flows(), FlowFilter(since=text))


def test_where_error_names_the_construct() -> None:
    with pytest.raises(FilterError, match="calling '__import__' is not allowed"):
        apply_filter(_flows(), FlowFilter(where="__import__('os').system('id')"))
    with pytest.raises(FilterError, match="'@'"):
        apply_filter(_flows(), FlowFilter(where="resp_p == @port"))
    with pytest.raises(FilterError, match="'__class__'"):
        apply_filter(_flows(), FlowFilter(where="resp_p.__class__"))
