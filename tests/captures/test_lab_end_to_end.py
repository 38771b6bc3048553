"""Slow: regenerate one scenario end to end and check the committed labels against it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from tests.conftest import CAPTURES

SCENARIO = "attack"
NEEDS = ("ip", "tcpdump", "tshark", "etcd", "etcdctl", "nft")


def _lab_unavailable() -> str | None:
    """Why the lab cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (network namespaces)"
    missing = [t for t in NEEDS if shutil.which(t) is None]
    if missing:
        return f"missing tools: {', '.join(missing)}"
    probe = f"kwprobe-{uuid.uuid4().hex[:6]}"
    add = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True, check=False)
    if add.returncode != 0:
        return f"ip netns unavailable: {add.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


def _key(c: dict[str, object]) -> tuple[object, ...]:
    return (c["path"], c["client_role"], c["server_role"], c["client_name"], c["server_name"],
            c["plaintext"], c["auth"], c["tls_version"], c["k8s_operation"], tuple(c["findings"]))  # type: ignore[arg-type]


@pytest.mark.slow
@pytest.mark.netns
@pytest.mark.timeout(240)
def test_attack_scenario_regenerates_to_the_committed_labels(tmp_path: Path) -> None:
    reason = _lab_unavailable()
    if reason:
        print(f"capture lab skipped: {reason}")
        pytest.skip(reason)
    from captures.lab.generate import run_scenario
    from captures.lab.scenarios import SCENARIOS

    before = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                check=False).stdout.split())
    files = run_scenario(SCENARIOS[SCENARIO], tmp_path, "kwt")  # verifies with tshark itself
    after = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                               check=False).stdout.split())
    assert not {n for n in after - before if n.startswith("kwt-")}, "namespaces left behind"
    labels = sorted(f for f in files if f.name.endswith(".labels.json"))
    assert labels
    for fresh_path in labels:
        fresh = json.loads(fresh_path.read_text())
        committed = json.loads((CAPTURES / fresh_path.name).read_text())
        # The lab binds planned client ports below 50000 and keeps ephemeral ports above it:
        # those connections are exact and compared one by one.
        bound = {c["id"]: c for c in committed["connections"] if c["client_port"] < 50000}
        got = {c["id"]: c for c in fresh["connections"]}
        for cid, c in bound.items():
            assert cid in got, f"{cid} missing from the fresh {fresh_path.name}"
            assert _key(got[cid]) == _key(c), cid
            assert (got[cid]["client"], got[cid]["client_port"], got[cid]["server"],
                    got[cid]["server_port"]) == (c["client"], c["client_port"], c["server"], c["server_port"])
        ids = {f["id"] for f in fresh["expected_findings"]}
        assert ids == {f["id"] for f in committed["expected_findings"]}
