"""write_outputs: every file, its columns, consistent counts, hostile strings neutralised."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from classifier import schema
from classifier.report.outputs import OutputError, output_names, write_outputs
from tests.report.images import assert_real_png, assert_svg
from tests.report.synthetic import HOSTILE_PATH, HOSTILE_SNI, empty_result, make_result


class _Tags(HTMLParser):
    """Collects start tags with their attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: str) -> _Tags:
    p = _Tags()
    p.feed(page)
    return p


@pytest.fixture(scope="module")
def hostile_out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_outputs(make_result(hostile=True), tmp_path_factory.mktemp("out"), fmt="md",
                         command="kubewire analyze hostile.pcap -o out")


def test_every_file_written_and_listed(hostile_out: dict[str, Path]) -> None:
    assert list(hostile_out) == output_names("md")
    assert "report.md" not in output_names("html")
    for name, path in hostile_out.items():
        assert path.name == name and path.stat().st_size > 0
    folder = next(iter(hostile_out.values())).parent
    assert sorted(p.name for p in folder.iterdir()) == sorted(hostile_out)  # no temp files left


def test_tables_have_declared_columns_and_rows(hostile_out: dict[str, Path]) -> None:
    r = make_result(hostile=True)
    flows = pd.read_parquet(hostile_out["flows.parquet"])
    assert list(flows.columns) == schema.FLOWS.export_names
    assert sorted(flows["uid"]) == sorted(r.flows["uid"])
    assert str(flows["resp_p"].dtype) == "UInt16"
    csv = pd.read_csv(hostile_out["flows.csv"])
    assert list(csv.columns) == schema.FLOWS.export_names and len(csv) == len(r.flows)
    assert list(pd.read_csv(hostile_out["hosts.csv"]).columns) == schema.HOSTS.export_names
    for name, table in (("tls.csv", schema.TLS), ("http.csv", schema.HTTP),
                        ("certificates.csv", schema.CERTIFICATES)):
        assert list(pd.read_csv(hostile_out[name]).columns) == table.export_names
    fcsv = pd.read_csv(hostile_out["findings.csv"])
    assert list(fcsv.columns) == schema.FINDINGS.names and len(fcsv) == 4


def test_findings_json_contract(hostile_out: dict[str, Path]) -> None:
    found = json.loads(hostile_out["findings.json"].read_text())
    assert sorted(f["id"] for f in found) == ["KUBELET_READONLY_PORT", "PLAINTEXT_PROXY",
                                              "POD_TO_KUBELET", "UNAUTH_KUBELET_ACCESS"]
    uids = set(pd.read_parquet(hostile_out["flows.parquet"])["uid"])
    for f in found:
        assert {"id", "severity", "title", "subject", "count", "first_seen", "last_seen", "uids",
                "evidence", "references"} <= set(f)
        assert set(f["uids"]) <= uids and f["count"] == len(f["uids"])
        assert all({"capture", "frame", "uid"} <= set(e) for e in f["evidence"])
    assert [f["suppressed"] for f in found].count(True) == 1


def test_summary_consistent_with_flows(hostile_out: dict[str, Path]) -> None:
    s = json.loads(hostile_out["summary.json"].read_text())
    flows = pd.read_parquet(hostile_out["flows.parquet"])
    assert s["flows"] == len(flows)
    assert s["paths"] == {k: int(v) for k, v in flows["path"].value_counts().items()}
    assert s["findings"] == {"UNAUTH_KUBELET_ACCESS": 1, "KUBELET_READONLY_PORT": 1,
                             "PLAINTEXT_PROXY": 1}
    assert s["suppressed_findings"] == 1
    p = s["packets"]
    assert p["read"] == p["decoded"] + p["skipped"] + p["out_of_scope"] == 1015
    assert s["inputs"][0]["sha256"] == "ab" * 32 and s["inputs"][0]["size"] == 123456
    assert s["kubewire_version"] and s["outputs"] == output_names("md")
    assert s["time_range"]["first"].startswith("2026-11-01T12:00")


def test_figures_are_real(hostile_out: dict[str, Path]) -> None:
    assert_real_png(hostile_out["graph.png"].read_bytes(), (1400, 1000))
    assert_real_png(hostile_out["timeline.png"].read_bytes(), (1400, 600))
    assert_svg(hostile_out["graph.svg"].read_bytes())


def test_html_self_contained_escaped_and_strict(hostile_out: dict[str, Path]) -> None:
    page = hostile_out["report.html"].read_text()
    parsed = _parse(page)
    tags = [t for t, _ in parsed.tags]
    assert "script" not in tags and "iframe" not in tags and "object" not in tags
    imgs = [a for t, a in parsed.tags if t == "img"]
    assert [a["id"] for a in imgs] == ["graph-img", "timeline-img"]
    assert all((a["src"] or "").startswith("data:image/") for a in imgs)
    for _, attrs in parsed.tags:
        for k, v in attrs.items():
            assert not k.startswith("on"), k
            if k in ("src", "href", "action", "srcset"):
                assert not re.match(r"(?i)\s*(https?:|//|javascript:)", v or ""), v
    assert not re.search(r"(?i)url\(|@import", page)
    text = "".join(parsed.text)
    assert HOSTILE_SNI in text and HOSTILE_PATH in text  # shown as text
    assert HOSTILE_SNI not in page and "<img src=x" not in page  # never as markup
    csp = next(a["content"] for t, a in parsed.tags
               if t == "meta" and a.get("http-equiv") == "Content-Security-Policy")
    assert csp and "default-src 'none'" in csp and "script-src" not in csp
    css = re.search(r"<style>(.*?)</style>", page, re.S)
    assert css is not None
    digest = base64.b64encode(hashlib.sha256(css.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp
    for section in ("summary", "findings", "graph", "timeline", "paths", "pairs", "hosts",
                    "tls", "http", "captures"):
        assert f'id="{section}"' in page
    assert "ab" * 32 in page and "ipv4_fragment" in page and "kubelet-direct" in page


def test_markdown_neutralises_capture_strings(hostile_out: dict[str, Path]) -> None:
    text = hostile_out["report.md"].read_text()
    assert "<script>" not in text and "<img" not in text
    assert not re.search(r"(?<!\\)\]\(javascript", text) and "\\](javascript" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "![communication graph](graph.png)" in text
    for line in text.splitlines():
        if line.startswith("| ") and "evil" in line:
            assert line.count(" | ") == line.replace("\\|", "").count(" | ")


def test_empty_result_writes_everything(tmp_path: Path) -> None:
    out = write_outputs(empty_result(), tmp_path)
    assert list(out) == output_names("html")
    assert json.loads(out["findings.json"].read_text()) == []
    assert json.loads(out["summary.json"].read_text())["flows"] == 0
    assert "No findings." in out["report.html"].read_text()


def test_unwritable_folder_is_one_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write to output folder"):
        write_outputs(empty_result(), blocker / "sub")


def test_csv_cells_that_look_like_formulas_are_defused(tmp_path: Path) -> None:
    r = make_result()
    r.flows.loc[0, "http_path"] = "=HYPERLINK(\"x\")"
    out = write_outputs(r, tmp_path)
    cell = pd.read_csv(out["flows.csv"])["http_path"][0]
    assert cell == "'=HYPERLINK(\"x\")"
    assert pd.read_parquet(out["flows.parquet"])["http_path"][0] == "=HYPERLINK(\"x\")"


def test_same_input_same_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With SOURCE_DATE_EPOCH fixed, every file is byte-identical across runs."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1793000000")
    a = write_outputs(make_result(), tmp_path / "a", fmt="md")
    b = write_outputs(make_result(), tmp_path / "b", fmt="md")
    differ = [n for n in a if n != "flows.parquet" and a[n].read_bytes() != b[n].read_bytes()]
    assert differ == []
    assert "2026-10-26T" in a["report.html"].read_text()  # the fixed generation time
    pd.testing.assert_frame_equal(pd.read_parquet(a["flows.parquet"]),
                                  pd.read_parquet(b["flows.parquet"]))
