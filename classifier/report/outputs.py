"""Result → every file ``kubewire analyze`` writes into its output folder (docs/outputs.md).

Each file is written to a temporary name and renamed into place, so a crash never leaves a
half-written file under the final name.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal

import pandas as pd

from classifier import schema
from classifier.errors import OutputError
from classifier.report.figures import png_bytes, root_figure, svg_bytes
from classifier.report.graph import plot_graph
from classifier.report.html import render_html
from classifier.report.markdown import render_markdown
from classifier.report.report_data import build_report_data, generated_at
from classifier.report.style import path_rank
from classifier.report.tables import time_range
from classifier.report.timeline import plot_timeline
from classifier.report.topology import build_topology
from classifier.rules.export import write_findings
from classifier.tablefile import jsonable, write_csv, write_json

ReportFormat = Literal["html", "md"]

TABLE_FILES: Final = (
    ("flows.parquet", "flows"), ("flows.csv", "flows"), ("hosts.csv", "hosts"),
    ("tls.csv", "tls"), ("http.csv", "http"), ("certificates.csv", "certificates"),
)
FIGURE_FILES: Final = ("graph.png", "graph.svg", "timeline.png")



def output_names(fmt: ReportFormat = "html") -> list[str]:
    """Report format → the names of every file write_outputs writes, in writing order."""
    names = [n for n, _ in TABLE_FILES] + ["findings.json", "findings.csv", *FIGURE_FILES,
                                          "report.html"]
    if fmt == "md":
        names.append("report.md")
    return [*names, "summary.json"]


def prepare_out_dir(out_dir: str | os.PathLike[str]) -> Path:
    """Output folder → its Path, created if missing; OutputError when it cannot be written."""
    path = Path(out_dir)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".kubewire-probe-"):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise OutputError(f"cannot write to output folder {str(path)!r}: {reason}") from exc
    return path


def write_outputs(result: Any, out_dir: str | os.PathLike[str], *, fmt: ReportFormat = "html",
                  command: str = "") -> dict[str, Path]:
    """Result + folder → every output file written there; returns file name → path.

    ``fmt="md"`` writes report.md in addition to report.html. ``command`` (the command line)
    is recorded in the report for the chain of custody.
    """
    if fmt not in ("html", "md"):
        raise ValueError(f"unknown report format {fmt!r}")
    path = prepare_out_dir(out_dir)
    names = output_names(fmt)
    written: dict[str, Path] = {}

    def put(name: str, write: Callable[[Path], object]) -> None:
        written[name] = _atomic(path / name, write)

    for name, table in TABLE_FILES:
        frame = schema.for_export(getattr(result, table), schema.ALL_TABLES[table])
        put(name, partial(_parquet if name.endswith(".parquet") else _csv, frame))
    # the same files as `kubewire findings -o`: one format for both commands
    put("findings.json", partial(write_findings, result.findings))
    put("findings.csv", partial(write_findings, result.findings))
    topo = build_topology(result)
    graph_fig = root_figure(plot_graph(result, topology=topo))
    timeline_fig = root_figure(plot_timeline(result))
    graph_png, graph_svg = png_bytes(graph_fig), svg_bytes(graph_fig)
    timeline_png = png_bytes(timeline_fig)
    put("graph.png", lambda p: p.write_bytes(graph_png))
    put("graph.svg", lambda p: p.write_bytes(graph_svg))
    put("timeline.png", lambda p: p.write_bytes(timeline_png))
    generated = generated_at()
    note = topo.note
    data = build_report_data(result, outputs=names, generated=generated, command=command,
                             graph_note=note)
    page = render_html(data, graph_svg=graph_svg, timeline_png=timeline_png)
    put("report.html", lambda p: p.write_text(page, encoding="utf-8"))
    if fmt == "md":
        text = render_markdown(data)
        put("report.md", lambda p: p.write_text(text, encoding="utf-8"))
    summary = summary_dict(result, outputs=names, generated=generated, graph_note=note)
    put("summary.json", lambda p: _json(summary, p))
    return written


def summary_dict(result: Any, *, outputs: list[str], generated: str,
                 graph_note: str = "") -> dict[str, Any]:
    """Result → summary.json: Result.summary() plus time range, hosts, outputs, generation."""
    out: dict[str, Any] = jsonable(result.summary())
    out["paths"] = dict(sorted(out["paths"].items(), key=lambda kv: path_rank(str(kv[0]))))
    first, last = time_range(result)
    out.update({
        "kubewire_version": str(result.version),
        "generated": generated,
        "time_range": {"first": first, "last": last},
        "hosts": len(result.hosts),
        "findings_total": len(result.findings),
        "graph_note": graph_note,
        "outputs": outputs,
    })
    return out


def _atomic(target: Path, write: Callable[[Path], object]) -> Path:
    tmp = target.with_name(f".kubewire-tmp-{target.name}")  # keeps the suffix writers key on
    try:
        write(tmp)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputError(f"cannot write {str(target)!r}: {exc.strerror or exc}") from exc
    return target


def _json(obj: Any, path: Path) -> None:
    write_json(obj, path)


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    frame.to_parquet(path, index=False)


def _csv(frame: pd.DataFrame, path: Path) -> None:
    write_csv(frame, path)

