"""SSH dissector: both banners, tshark's ssh.protocol as the oracle."""

from __future__ import annotations

import pytest

from classifier.dissect import ssh
from classifier.dissect.facts import Malformed
from tests.conftest import zoo_capture
from tests.dissect.oracle import dissected, tshark_rows


def test_banners_match_tshark(tshark: str) -> None:
    cap = zoo_capture("zeek/ssh_kex_curve25519.pcap")
    d = dissected(cap)
    flow = d.flows[d.flows["app_proto"] == "ssh"].iloc[0]
    banners = {}
    for _, (port, proto) in tshark_rows(cap, ["tcp.srcport", "ssh.protocol"], "ssh.protocol"):
        banners[int(port)] = proto
    assert banners[int(flow["orig_p"])] == flow["ssh_client"]
    assert banners[int(flow["resp_p"])] == flow["ssh_server"]


def test_pre_banner_lines_and_prefixes() -> None:
    server = b"hello\r\nwelcome\r\nSSH-2.0-OpenSSH_9.6 Debian\r\n\x00\x00\x01"
    client = b"SSH-2.0-Go\r\n"
    f = ssh.dissect_flow(client, server).flow
    assert f["ssh_server"] == "SSH-2.0-OpenSSH_9.6 Debian" and f["ssh_client"] == "SSH-2.0-Go"
    for i in range(len(server)):
        ssh.dissect_flow(client[: i % 13], server[:i])
    with pytest.raises(Malformed):
        ssh.parse_banner(b"SSH-2.0-" + b"x" * 300 + b"\r\n")
