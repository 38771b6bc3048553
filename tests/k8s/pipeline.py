"""Run the real stages (assemble → dissect → tag_paths) on a capture, or skip until they land."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from classifier.k8s import Inventory, Tagging, tag_paths


def tag_capture(paths: Sequence[Path], inventory: Inventory | None = None) -> Tagging:
    """Capture files → tagged flows, or pytest.skip when an upstream stage is not there yet."""
    from classifier.dissect import dissect
    from classifier.flows import assemble

    try:
        assembled = assemble([str(p) for p in paths], payload_bytes=16384, strict=False,
                             progress=None)
        dis = dissect(assembled.flows, strict=False)
    except NotImplementedError as exc:
        pytest.skip(f"upstream stage not landed yet: {exc}")
    return tag_paths(dis.flows, inventory=inventory, http=dis.http, tls=dis.tls,
                     certificates=dis.certificates)
