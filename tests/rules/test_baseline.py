from __future__ import annotations

from pathlib import Path

import pytest

from classifier.errors import BaselineError
from classifier.rules.baseline import load_baseline


def test_yaml_and_json_baselines(tmp_path: Path) -> None:
    y = tmp_path / "b.yaml"
    y.write_text("- id: PORT_SCAN\n  subject: 10.244.*\n  reason: pentest window\n")
    j = tmp_path / "b.json"
    j.write_text('{"accepted": [{"id": "POD_TO_KUBELET", "subject": "*", "reason": "metrics"}]}')
    by = load_baseline(str(y))
    assert by.reason_for("PORT_SCAN", "10.244.3.3") == "pentest window"
    assert by.reason_for("PORT_SCAN", "10.0.0.1") is None
    assert by.reason_for("POD_TO_KUBELET", "x") is None
    assert load_baseline(str(j)).reason_for("POD_TO_KUBELET", "a -> b:10250") == "metrics"


@pytest.mark.parametrize(("text", "message"), [
    ("- id: PORT_SCAN\n  subject: '*'\n", "entry 1: 'reason' must be a non-empty string"),
    ("- id: X\n  subject: y\n  reason: z\n- just a string\n", "entry 2: expected a mapping"),
    ("- {id: X, subject: y, reason: z, severity: low}\n", "entry 1: unknown field(s) severity"),
    ("id: X\n", "expected a list"),
    ("- [unclosed\n", "not valid YAML"),
])
def test_errors_name_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    p = tmp_path / "base.yaml"
    p.write_text(text)
    with pytest.raises(BaselineError) as exc:
        load_baseline(str(p))
    assert str(p) in str(exc.value) and message in str(exc.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BaselineError, match="not found"):
        load_baseline(str(tmp_path / "nope.yaml"))
