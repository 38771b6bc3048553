"""Accounting check shared by the ingest and flow tests."""

from __future__ import annotations

from classifier.flows import Assembled


def balanced(a: Assembled) -> dict[str, int]:
    """Assembled → {reason: packets}; asserts every record read is accounted exactly once."""
    assert int(a.stats["packets"].sum()) == int(a.inputs["packets"].sum())
    assert set(a.stats["outcome"].astype(str)) <= {"decoded", "skipped", "out_of_scope"}
    decoded = int(a.stats.loc[a.stats["outcome"] == "decoded", "packets"].sum())
    assert decoded == int(a.flows["orig_pkts"].sum() + a.flows["resp_pkts"].sum())
    return {str(r): int(p) for r, p in zip(a.stats["reason"], a.stats["packets"], strict=True)}
