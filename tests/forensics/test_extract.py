"""extract: selected flows' packets are byte-identical to the originals, in tshark's view too."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import dpkt
import pandas as pd
import pytest

import classifier
from classifier.errors import CaptureError
from classifier.forensics.extract import extract, flow_annotations
from tests import tshark as ts
from tests.forensics import crafted

FIELDS = ["frame.len", "frame.cap_len", "frame.time_epoch", "ip.src", "tcp.srcport"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _raw(path: Path) -> list[tuple[float, bytes]]:
    """Every record's bytes, read by dpkt (pcap or pcapng), independent of kubewire."""
    data = path.read_bytes()
    reader = (dpkt.pcapng.Reader if data[:4] == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader)(
        io.BytesIO(data))
    return [(float(t), bytes(buf)) for t, buf in reader]


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The crafted two-point captures, written once for this module (read-only)."""
    return crafted.write_pair(tmp_path_factory.mktemp("pair"))


@pytest.fixture(scope="module")
def flows_a(pair: tuple[Path, Path]) -> pd.DataFrame:
    return classifier.analyze([str(pair[0])]).flows


@pytest.fixture(scope="module")
def flows_ab(pair: tuple[Path, Path]) -> pd.DataFrame:
    return classifier.analyze([str(p) for p in pair]).flows


def test_round_trip_is_byte_identical(tmp_path: Path, tshark: str, pair: tuple[Path, Path],
                                      flows_a: pd.DataFrame) -> None:
    a, _ = pair
    before = _sha(a)
    flows = flows_a
    kubelet = flows[flows["resp_p"] == crafted.SERVER[1]]
    assert len(kubelet) == 1
    uid = str(kubelet["uid"].iloc[0])
    out = tmp_path / "evidence.pcapng"
    done = extract([str(a)], [uid], str(out), flows=flows)
    assert done.packets == 10 and done.flows == 1 and not done.missing
    assert _sha(a) == before, "an input capture was modified"
    # tshark's view of the extracted packets equals its view of the originals.
    want = ts.fields(a, FIELDS, display_filter=f"tcp.port == {crafted.SERVER[1]}")
    got = ts.fields(out, FIELDS)
    assert got == want
    comments = ts.fields(out, ["frame.comment"])
    assert len(comments) == 10
    assert all(uid in c[0] and "source=" in c[0] for c in comments)
    # Raw bytes, read independently.
    original = [b for _, b in _raw(a) if b[34:36] == crafted.CLIENT[1].to_bytes(2, "big")
                or b[36:38] == crafted.CLIENT[1].to_bytes(2, "big")]
    assert [b for _, b in _raw(out)] == original
    assert done.inputs[0].sha256 == before and done.inputs[0].size == a.stat().st_size


def test_time_order_across_captures_and_interfaces(tmp_path: Path, tshark: str,
                                                   pair: tuple[Path, Path],
                                                   flows_ab: pd.DataFrame) -> None:
    a, b = pair
    flows = flows_ab
    assert len(flows) == 3  # the kubelet connection seen at both points is one flow
    uids = list(flows["uid"])
    out = tmp_path / "all.pcapng"
    done = extract([str(a), str(b)], uids, str(out), flows=flows)
    assert (done.packets, done.flows, done.missing) == (11 + 12, 3, [])
    times = [float(r[0]) for r in ts.fields(out, ["frame.time_epoch"])]
    assert times == sorted(times)
    names = {r[0] for r in ts.fields(out, ["frame.interface_name"])}
    assert names == {"point-a.pcap:if0", "point-b.pcap:if0"}
    # Nanosecond timestamps of the ns capture survive exactly.
    want = {r[0] for r in ts.fields(b, ["frame.time_epoch"])}
    assert want <= {r[0] for r in ts.fields(out, ["frame.time_epoch"])}


def test_custody_header(tmp_path: Path, tshark: str, pair: tuple[Path, Path],
                        flows_a: pd.DataFrame) -> None:
    import shutil
    import subprocess

    capinfos = shutil.which("capinfos")
    if capinfos is None:
        pytest.skip("capinfos not installed")
    a, _ = pair
    flows = flows_a
    out = tmp_path / "e.pcapng"
    extract([str(a)], list(flows["uid"]), str(out), flows=flows, selection={"where": "x"})
    info = subprocess.run([capinfos, str(out)], capture_output=True, text=True, check=True,
                          timeout=60).stdout
    assert f"input sha256={_sha(a)} size={a.stat().st_size} path={a}" in info
    assert "Capture application: kubewire " in info
    assert "selection where=x" in info


def test_refuses_to_overwrite_an_input(tmp_path: Path) -> None:
    a, _ = crafted.write_pair(tmp_path)
    before = _sha(a)
    index = pd.DataFrame({"capture": [str(a)], "frame": [1], "uid": ["C1"], "ts": [0]})
    with pytest.raises(CaptureError, match="input"):
        extract([str(a)], ["C1"], str(a), index=index)
    assert _sha(a) == before


def test_annotations_name_path_roles_and_findings() -> None:
    from classifier import schema

    flows = schema.conform([dict(uid="C1", proto="tcp", orig_h="fd00::1", orig_p=1,
                                 resp_h="10.0.0.5", resp_p=10255, path="pod-to-kubelet",
                                 client_role="pod", client_name="default/scanner",
                                 server_role="node", duration=0.0,
                                 orig_burst_interval=float("nan"),
                                 path_confidence=float("nan"))], schema.FLOWS)
    findings = schema.conform([dict(id="KUBELET_READONLY_PORT", severity="high", uids=["C1"]),
                               dict(id="POD_TO_KUBELET", severity="medium", uids=["C1", "C2"])],
                              schema.FINDINGS)
    note = flow_annotations(flows, findings)["C1"]
    assert note == ("tcp [fd00::1]:1 -> 10.0.0.5:10255 path=pod-to-kubelet "
                    "client=pod(default/scanner) server=node "
                    "findings=KUBELET_READONLY_PORT(high),POD_TO_KUBELET(medium)")


def test_round_trip_with_a_given_packet_index(tmp_path: Path, tshark: str) -> None:
    """Independent of the flow stage: frames 1-10 of point A are the kubelet connection."""
    a, _ = crafted.write_pair(tmp_path)
    before = _sha(a)
    index = pd.DataFrame({"capture": [str(a)] * 11, "frame": range(1, 12),
                          "uid": ["Ckub"] * 10 + ["Cdns"], "ts": [0] * 11})
    out = tmp_path / "e.pcapng"
    done = extract([str(a)], ["Ckub", "Cnone"], str(out), index=index)
    assert (done.packets, done.flows, done.missing) == (10, 1, ["Cnone"])
    assert ts.fields(out, FIELDS) == ts.fields(a, FIELDS, display_filter="frame.number <= 10")
    assert [b for _, b in _raw(out)] == [b for _, b in _raw(a)][:10]
    comments = [r[0] for r in ts.fields(out, ["frame.comment"])]
    assert comments[0] == f"kubewire flow Ckub source={a}#1"
    assert _sha(a) == before


ZOO_CASES = [
    "zeek/openjdk-25.0.2-zeek.org.pcap",      # Linux cooked v2
    "zeek/basic-auth-with-colon.pcap",        # raw IPv4 link type
    "zeek/connect-with-header.pcap",          # BSD NULL, IPv6
    "zeek/pcapng-multi-interface.pcapng",     # two interfaces
    "zeek/get-to-ssh-server.pcap",            # nanosecond pcap
    "zeek/dssetup_DsRoleGetPrimaryDomainInformation_standalone_workstation.cap",  # big-endian
    "zeek/ipv6-http-atomic-frag.pcap",        # timestamps out of order
]


@pytest.mark.parametrize("name", ZOO_CASES)
def test_zoo_round_trip(name: str, tmp_path: Path, tshark: str) -> None:
    """Every packet kubewire assigned to a flow comes out unchanged, whatever the link type."""
    from classifier.flows import packet_index
    from tests.conftest import ZOO

    capture = ZOO / name
    if not capture.exists():
        pytest.skip("captures-zoo not present")
    before = _sha(capture)
    index = packet_index([str(capture)])
    frames = sorted(int(f) for f in index["frame"])
    assert frames, "the capture has flows"
    out = tmp_path / "e.pcapng"
    done = extract([str(capture)], set(index["uid"]), str(out), index=index)
    assert done.packets == len(frames)
    fields = ["frame.len", "frame.cap_len", "frame.time_epoch", "frame.protocols"]
    wanted = set(frames)
    want = [r[1:] for r in ts.fields(capture, ["frame.number", *fields]) if int(r[0]) in wanted]
    got = ts.fields(out, fields)
    assert sorted(got) == sorted(want)
    assert [float(r[2]) for r in got] == sorted(float(r[2]) for r in got)
    original = [b for i, (_, b) in enumerate(_raw(capture), 1) if i in wanted]
    assert sorted(b for _, b in _raw(out)) == sorted(original)
    assert _sha(capture) == before
