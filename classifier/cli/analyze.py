"""CLI: `kubewire analyze CAPTURE... [--inventory FILE] [--baseline FILE] [--fail-on SEV]
[--format html|md] -o DIR [-q] [filters]` — the first command a responder runs.

Writes every output file into DIR (docs/outputs.md) and prints a short summary: packets,
paths, the worst findings and where the report is. Exit codes: 0 ok; 1 a non-suppressed
finding at or above --fail-on; 2 user error (missing capture, unwritable DIR, bad
inventory/baseline/filter); 3 internal error.
"""

from __future__ import annotations

import shlex
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from classifier import api
from classifier.cli.common import (
    baseline_option,
    captures_argument,
    filter_options,
    inventory_option,
    quiet_option,
    stderr_is_tty,
)
from classifier.cli.findings import exit_findings, fail_on_option, failing
from classifier.forensics.filters import FlowFilter
from classifier.report.outputs import prepare_out_dir, write_outputs
from classifier.report.style import SEVERITY_COLOURS, visible_text
from classifier.report.tables import findings_rows, paths_rows
from classifier.rules.base import Severity

TOP_FINDINGS = 10


@click.command("analyze")
@captures_argument
@inventory_option
@baseline_option
@fail_on_option
@click.option("--format", "fmt", type=click.Choice(["html", "md"]), default="html",
              show_default=True,
              help="report format: html, or md to write report.md (for tickets) as well.")
@click.option("-o", "--output", "out_dir", required=True, metavar="DIR",
              type=click.Path(file_okay=True, dir_okay=True),
              help="folder for the report and every output file (created if missing).")
@filter_options
@quiet_option
def analyze_cmd(captures: tuple[str, ...], inventory: tuple[str, ...], baseline: str | None,
                fail_on: str | None, fmt: str, out_dir: str, since: str | None,
                until: str | None, hosts: tuple[str, ...], paths: tuple[str, ...],
                where: str | None, quiet: bool) -> None:
    """Analyze CAPTURE... and write the communication graph, findings and a report to DIR.

    DIR receives flows.parquet/.csv, hosts.csv, tls.csv, http.csv, certificates.csv,
    findings.json/.csv, graph.png/.svg, timeline.png, report.html (and report.md with
    --format md) and summary.json; see docs/outputs.md for every column.
    """
    out = prepare_out_dir(out_dir)  # fail before minutes of analysis, not after
    flt = FlowFilter(since=since, until=until, hosts=hosts, paths=paths, where=where)
    command = _command_line(captures, inventory, baseline, fail_on, fmt, out_dir, flt)
    with _progress(enabled=not quiet and stderr_is_tty()) as progress:
        result = api.analyze(list(captures), list(inventory) or None, baseline=baseline,
                             filters=None if flt.empty else flt, progress=progress)
    written = write_outputs(result, out, fmt="md" if fmt == "md" else "html", command=command)
    for rule_id, err in sorted(result.rule_errors.items()):
        click.echo(f"kubewire: warning: rule {rule_id} failed ({err}); its findings are missing",
                   err=True)
    if not quiet:
        # 120 columns when piped (rich would assume 80 and wrap the tables)
        console = Console(highlight=False, width=None if sys.stdout.isatty() else 120)
        print_summary(console, result, written)
    if fail_on is not None and failing(result.findings, Severity(fail_on.lower())):
        exit_findings()


def print_summary(console: Console, result: api.Result, written: dict[str, Path]) -> None:
    """Result + files written → the terminal summary (capture strings shown as plain text)."""
    s = result.summary()
    p = s["packets"]
    console.print(Text(
        f"kubewire {result.version}: {s['flows']} flows, {len(result.hosts)} endpoints from "
        f"{len(s['inputs'])} capture(s); packets {p['read']} read, {p['decoded']} decoded, "
        f"{p['skipped']} skipped, {p['out_of_scope']} out of scope"))
    rows = paths_rows(result)
    if rows:
        table = Table(title="paths", title_justify="left", show_edge=False, pad_edge=False)
        for col, just in (("path", "left"), ("flows", "right"), ("bytes", "right"),
                          ("plaintext", "right"), ("findings", "left")):
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        for r in rows:
            table.add_row(Text(_t(r["path"])), str(r["flows"]), str(r["bytes"]),
                          str(r["plaintext_flows"]), Text(_t(", ".join(r["findings"]))))
        console.print(table)
    found = [f for f in findings_rows(result.findings) if not f.get("suppressed")]
    suppressed = s["suppressed_findings"]
    if found:
        table = Table(title=f"findings ({len(found)} active"
                      + (f", {suppressed} suppressed" if suppressed else "") + ")",
                      title_justify="left", show_edge=False, pad_edge=False)
        for col in ("severity", "id", "subject", "flows"):
            table.add_column(col, justify="right" if col == "flows" else "left")
        for f in found[:TOP_FINDINGS]:
            sev = str(f.get("severity"))
            table.add_row(Text(sev.upper(), style=SEVERITY_COLOURS.get(sev, "")),
                          Text(_t(f.get("id"))), Text(_t(f.get("subject"))),
                          str(f.get("count")))
        console.print(table)
        if len(found) > TOP_FINDINGS:
            console.print(Text(f"… and {len(found) - TOP_FINDINGS} more in findings.json"))
    else:
        console.print(Text("no active findings"
                           + (f" ({suppressed} suppressed by the baseline)" if suppressed
                              else "")))
    for name in ("report.html", "report.md"):
        if name in written:
            console.print(Text(f"report: {written[name]}"))
    folder = next(iter(written.values())).parent if written else None
    if folder is not None:
        console.print(Text(f"all {len(written)} files in {folder}/ (see summary.json)"))


def _t(value: object) -> str:
    """A capture string → one line with control characters (terminal escapes) made visible."""
    return visible_text(value)


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr fed with (bytes read, total bytes), or None."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress("reading captures", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task("read", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield update


def _command_line(captures: tuple[str, ...], inventory: tuple[str, ...], baseline: str | None,
                  fail_on: str | None, fmt: str, out_dir: str, flt: FlowFilter) -> str:
    """The options as given → an equivalent shell command line (for the chain of custody)."""
    args: list[str] = ["kubewire", "analyze", *captures]
    opts: list[tuple[str, Any]] = [("--inventory", i) for i in inventory]
    opts += [("--baseline", baseline), ("--fail-on", fail_on),
             ("--format", fmt if fmt != "html" else None), ("-o", out_dir),
             ("--since", flt.since), ("--until", flt.until)]
    opts += [("--host", h) for h in flt.hosts] + [("--path", p) for p in flt.paths]
    opts.append(("--where", flt.where))
    for flag, value in opts:
        if value is not None:
            args += [flag, str(value)]
    return shlex.join(args)
