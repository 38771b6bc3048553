"""docs/findings.md documents every registered rule as the code defines it."""

from __future__ import annotations

import inspect

from classifier.rules.registry import RULES
from tests.conftest import ROOT

DOC = (ROOT / "docs" / "findings.md").read_text(encoding="utf-8")


def test_every_rule_section_matches_the_code() -> None:
    for r in RULES:
        head = f"### `{r.id}`"
        assert head in DOC, r.id
        section = DOC.split(head, 1)[1].split("\n### ", 1)[0]
        assert f"**Severity:** {r.severity.value}" in section, r.id
        assert r.title in section, r.id
        for ref in r.references:
            assert ref in section, (r.id, ref)
        assert inspect.cleandoc(type(r).__doc__ or "") in section, f"{r.id}: rationale out of date"
        assert f"| `{r.id}` |" in DOC, f"{r.id} missing from the table"


def test_exit_codes_documented() -> None:
    for code in ("| 0 |", "| 1 |", "| 2 |", "| 3 |"):
        assert code in DOC
    assert "--fail-on" in DOC and "--baseline" in DOC
