"""Negative cases: the zoo's non-Kubernetes captures (TLS to web sites, mTLS on :443, h2c on
:8080, SSH, HTTP CONNECT, Basic/Bearer auth, gRPC) produce no control-plane path."""

from __future__ import annotations

from pathlib import Path

import pytest

from classifier.errors import CaptureError
from tests.conftest import zoo_files
from tests.k8s.pipeline import tag_capture

ZOO = zoo_files()


@pytest.mark.skipif(not ZOO, reason="../shared/captures-zoo is absent")
@pytest.mark.parametrize("capture", ZOO, ids=[p.name for p in ZOO])
def test_no_control_plane_paths(capture: Path) -> None:
    try:
        tagged = tag_capture([capture])
    except CaptureError:
        return  # not a capture at all: nothing to tag (the ingest tests cover the error)
    flows = tagged.flows
    cp = flows[flows["path"].astype(str) != "other"]
    assert cp.empty, "\n".join(
        f"{r.orig_h}:{r.orig_p} → {r.resp_h}:{r.resp_p} {r.path}: {r.path_evidence}"
        for r in cp.itertuples())
    roles = set(flows["server_role"].astype(str)) - {"unknown", "dns"}
    assert not roles & {"apiserver", "etcd", "konnectivity-server", "service-vip"}, roles
