"""The HTML report in headless Chromium: loads clean, shows the graph, and a capture crafted to
attack it (HTML/JS in SNI, URL path, Host, User-Agent) renders as text with no script run."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from classifier.cli import cli
from classifier.cli.common import run_guarded
from classifier.report.outputs import write_outputs
from tests.report.browser import Browser, chromium_path
from tests.report.hostile_capture import (
    HOSTILE_HOST,
    HOSTILE_PATH,
    HOSTILE_SNI,
    HOSTILE_UA,
    write_hostile_pcap,
)
from tests.report.images import assert_real_png
from tests.report.synthetic import make_result


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    exe = chromium_path()
    if exe is None:
        pytest.skip("chromium not installed (make test installs it: scripts/sysdeps.sh)")
    with Browser(exe) as b:
        yield b


@pytest.fixture(scope="module")
def hostile_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("hostile")
    pcap = write_hostile_pcap(folder / "hostile.pcap")
    assert run_guarded(cli, ["analyze", str(pcap), "-o", str(folder / "out"), "-q"]) == 0
    return folder / "out" / "report.html"


def test_harness_catches_script_execution(browser: Browser, tmp_path: Path) -> None:
    """The checks below can fail: a page that does run script is caught."""
    page = tmp_path / "bad.html"
    page.write_text("<html><head><title>t</title></head><body><script>console.error('boom');"
                    "alert('xss');document.title='pwned'</script></body></html>")
    browser.open(page.as_uri())
    assert browser.dialogs() == ["xss"]
    assert browser.errors()
    assert browser.eval("document.title") == "pwned"


def test_hostile_capture_renders_as_text(browser: Browser, hostile_report: Path,
                                         artifacts: Path) -> None:
    browser.open(hostile_report.as_uri())
    assert browser.dialogs() == []
    assert browser.errors() == []
    assert browser.eval("document.title") == "kubewire report: hostile.pcap"
    assert browser.eval("document.scripts.length") == 0
    assert browser.eval("document.images.length") == 2
    handlers = browser.eval(
        "[...document.querySelectorAll('*')].flatMap(e => [...e.attributes]"
        ".filter(a => a.name.startsWith('on')).map(a => e.tagName + ' ' + a.name))")
    assert handlers == []
    text = browser.eval("document.body.innerText")
    for payload in (HOSTILE_SNI, HOSTILE_PATH, HOSTILE_UA, HOSTILE_HOST):
        assert payload in text, payload
    _assert_figures_shown(browser)
    shot = browser.screenshot(artifacts / "report-hostile.png")
    data = shot.read_bytes()
    assert_real_png(data, _png_size(data))


def test_synthetic_report_loads_clean(browser: Browser, tmp_path: Path, artifacts: Path) -> None:
    out = write_outputs(make_result(nodes=8, pods_per_node=9, hostile=True), tmp_path)
    browser.open(out["report.html"].as_uri())
    assert browser.dialogs() == [] and browser.errors() == []
    assert browser.eval("document.scripts.length") == 0
    _assert_figures_shown(browser)
    assert "aggregated" in browser.eval("document.getElementById('graph').innerText")
    browser.screenshot(artifacts / "report-synthetic.png")


def _assert_figures_shown(browser: Browser) -> None:
    figures = browser.eval(
        "[...document.images].map(i => ({id: i.id, complete: i.complete, nw: i.naturalWidth,"
        " w: i.getBoundingClientRect().width, h: i.getBoundingClientRect().height}))")
    assert [f["id"] for f in figures] == ["graph-img", "timeline-img"]
    for f in figures:
        assert f["complete"] and f["nw"] > 500, f  # decoded, not a broken image
        assert f["w"] > 300 and f["h"] > 150, f


def _png_size(data: bytes) -> tuple[int, int]:
    """PNG bytes → (width, height) from the IHDR chunk (RFC 2083 §4.1.1)."""
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
