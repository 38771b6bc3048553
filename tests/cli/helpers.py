"""Shared CLI test plumbing: run `kubewire` in-process, and stand in for api.analyze."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from classifier import api
from classifier.cli import main


def run_main(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """argv → (exit code, stdout, stderr) of the console-script entry point."""
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return int(exc.value.code or 0), out.out, out.err


def patch_analyze(monkeypatch: pytest.MonkeyPatch,
                  build: Callable[..., api.Result]) -> list[dict[str, Any]]:
    """Replace api.analyze by ``build``; → the list of recorded calls (args + keywords)."""
    calls: list[dict[str, Any]] = []

    def fake(*a: Any, **kw: Any) -> api.Result:
        calls.append({"args": a, **kw})
        return build(*a, **kw)
    monkeypatch.setattr(api, "analyze", fake)
    return calls
