"""CLI: findings (the analyzer's verdicts on the captures) and diff (what changed between two).

Exit codes: 0 ok; 1 a non-suppressed finding at or above --fail-on (for diff: one that
appeared); 2 user error (bad capture, inventory, baseline, filter, output name); 3 internal.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import click
import pandas as pd

from classifier import api
from classifier.cli.common import (
    EXIT_FINDINGS,
    baseline_option,
    captures_argument,
    filter_options,
    inventory_option,
    quiet_option,
)
from classifier.forensics.filters import FlowFilter
from classifier.rules.base import Severity
from classifier.rules.diff import Diff
from classifier.rules.export import write_findings
from classifier.tablefile import write_custody

SEVERITIES = [s.value for s in Severity]
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap", ".gz")


def fail_on_option(f: Any) -> Any:
    """--fail-on SEVERITY."""
    return click.option(
        "--fail-on", "fail_on", type=click.Choice(SEVERITIES, case_sensitive=False),
        metavar="SEVERITY",
        help="exit 1 when a non-suppressed finding at or above SEVERITY is present "
             f"({', '.join(SEVERITIES)}).")(f)


@click.command("findings")
@captures_argument
@inventory_option
@baseline_option
@fail_on_option
@click.option("-o", "--output", metavar="FILE",
              help="write the findings to FILE: findings.json (a JSON list) or findings.csv.")
@filter_options
@quiet_option
def findings_cmd(captures: tuple[str, ...], inventory: tuple[str, ...], baseline: str | None,
                 fail_on: str | None, output: str | None, since: str | None, until: str | None,
                 hosts: tuple[str, ...], paths: tuple[str, ...], where: str | None,
                 quiet: bool) -> None:
    """Findings for plaintext, unauthenticated and risky control-plane flows.

    One row per (rule, subject) with severity, count, time span and the covered flow uids;
    the JSON/CSV output adds the evidence (capture, frame, request line, status, certificate
    subject, credential kind + fingerprint — never a secret) and the references.
    Exit 1 with --fail-on when a non-suppressed finding at or above that severity is present.
    """
    if output is not None and Path(output).suffix.lower() not in (".json", ".csv"):
        raise click.UsageError(f"-o {output}: use a .json or .csv file name")
    flt = FlowFilter(since=since, until=until, hosts=hosts, paths=paths, where=where)
    result = api.analyze(list(captures), list(inventory) or None, baseline=baseline,
                         filters=None if flt.empty else flt)
    findings = result.findings
    if output is not None:
        try:
            write_findings(findings, output)
            write_custody(Path(output), result.custody())
        except OSError as exc:
            raise click.FileError(output, hint=str(exc.strerror or exc)) from None
    if not quiet:
        click.echo(render_findings(findings))
        if output is not None:
            click.echo(f"wrote {output}")
    if fail_on is not None and failing(findings, Severity(fail_on.lower())):
        exit_findings()


def failing(findings: pd.DataFrame, threshold: Severity) -> bool:
    """Findings + threshold → True when a non-suppressed finding is at or above it."""
    active = findings[~findings["suppressed"].astype("boolean").fillna(False).astype(bool)]
    return any(Severity(str(s)).at_least(threshold) for s in active["severity"])


def _clean(text: Any) -> str:
    """A value that may come from a capture → one printable line."""
    s = "" if text is None or text is pd.NA else str(text)
    return "".join(c if c.isprintable() else "?" for c in s)


def _table(header: list[str], rows: list[list[str]], last_flex: bool = True) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    if last_flex and sys.stdout.isatty():
        room = shutil.get_terminal_size((120, 24)).columns - sum(widths[:-1]) - 2 * len(widths[:-1])
        widths[-1] = max(30, min(widths[-1], room))
    fmt = "  ".join(f"{{:<{w}.{w}}}" for w in widths)
    return "\n".join(fmt.format(*r).rstrip() for r in [header, *rows])


def render_findings(findings: pd.DataFrame) -> str:
    """Findings → a terminal table and a one-line summary by severity."""
    if findings.empty:
        return "no findings"
    rows = []
    for r in findings.to_dict("records"):
        title = _clean(r["title"])
        if bool(r["suppressed"]):
            title = f"[suppressed: {_clean(r['suppress_reason'])}] {title}"
        first = r["first_seen"]
        rows.append([str(r["severity"]).upper(), _clean(r["id"]), _clean(r["subject"]),
                     str(r["count"]),
                     "" if pd.isna(first) else pd.Timestamp(first).strftime("%Y-%m-%d %H:%M:%S"),
                     title])
    table = _table(["SEVERITY", "ID", "SUBJECT", "FLOWS", "FIRST SEEN (UTC)", "TITLE"], rows)
    active = findings[~findings["suppressed"].astype("boolean").fillna(False).astype(bool)]
    counts = active["severity"].astype(str).value_counts()
    parts = [f"{int(counts[s])} {s}" for s in SEVERITIES if s in counts]
    summary = f"{len(findings)} finding(s): " + (", ".join(parts) or "none active")
    suppressed = len(findings) - len(active)
    if suppressed:
        summary += f"; {suppressed} suppressed by the baseline"
    return f"{table}\n\n{summary}"


def _inputs(arg: str) -> list[str]:
    """A diff side: a capture file, or a directory whose capture files form one set."""
    p = Path(arg)
    if p.is_dir():
        files = sorted(str(f) for f in p.iterdir()
                       if f.is_file() and any(f.name.endswith(s) for s in CAPTURE_SUFFIXES))
        if not files:
            raise click.UsageError(f"{arg}: directory holds no capture files")
        return files
    return [arg]


@click.command("diff")
@click.argument("a", metavar="A")
@click.argument("b", metavar="B")
@inventory_option
@click.option("--baseline", metavar="FILE", type=click.Path(dir_okay=False),
              help="accepted findings (marks them suppressed on both sides).")
@fail_on_option
@click.option("-o", "--output", metavar="FILE", help="write the diff as JSON (diff.json).")
@quiet_option
def diff_cmd(a: str, b: str, inventory: tuple[str, ...], baseline: str | None,
             fail_on: str | None, output: str | None, quiet: bool) -> None:
    """Findings and control-plane paths that appeared or disappeared from A to B.

    A and B are capture files, or directories whose capture files are read as one set
    (rotated files of one capture point). With --fail-on, exit 1 when a non-suppressed
    finding at or above SEVERITY appeared in B.
    """
    if output is not None and Path(output).suffix.lower() != ".json":
        raise click.UsageError(f"-o {output}: the diff is written as JSON (.json)")
    inv = list(inventory) or None
    ra = api.analyze(_inputs(a), inv, baseline=baseline)
    rb = api.analyze(_inputs(b), inv, baseline=baseline)
    d = api.diff(ra, rb)
    if output is not None:
        doc = {"a": _side(a, ra), "b": _side(b, rb), **d.to_dict()}
        try:
            Path(output).write_text(json.dumps(doc, indent=2, default=str) + "\n",
                                    encoding="utf-8")
        except OSError as exc:
            raise click.FileError(output, hint=str(exc.strerror or exc)) from None
    if not quiet:
        click.echo(render_diff(d))
        if output is not None:
            click.echo(f"wrote {output}")
    if fail_on is not None:
        appeared = d.findings[d.findings["change"] == "appeared"]
        rb_active = rb.findings[~rb.findings["suppressed"].astype("boolean").fillna(False)
                                .astype(bool)]
        active_keys = set(zip(rb_active["id"].astype(str), rb_active["subject"].astype(str),
                              strict=True))
        threshold = Severity(fail_on.lower())
        if any((r["id"], r["subject"]) in active_keys
               and Severity(r["severity"]).at_least(threshold)
               for r in appeared.to_dict("records")):
            exit_findings()


def exit_findings() -> None:
    """Exit with EXIT_FINDINGS (1).

    SystemExit, not click's Exit: in non-standalone mode click ≥ 8.2 turns Exit into
    main()'s return value, which cli.common.run_guarded does not propagate.
    """
    raise SystemExit(EXIT_FINDINGS)


def _side(arg: str, result: api.Result) -> dict[str, Any]:
    return {"input": arg, "captures": [str(c) for c in result.inputs["capture"]],
            "sha256": [str(s) for s in result.inputs["sha256"]], "flows": len(result.flows),
            "findings": len(result.findings), "kubewire_version": result.version}


def render_diff(d: Diff) -> str:
    """A Diff → two terminal tables (findings, paths) or 'no changes'."""
    if d.empty:
        return "no changes: the same findings and control-plane paths on both sides"
    out = []
    if not d.findings.empty:
        rows = [["+" if r["change"] == "appeared" else "-", str(r["severity"]).upper(),
                 _clean(r["id"]), _clean(r["subject"]),
                 str(r["count_b"] if r["change"] == "appeared" else r["count_a"]),
                 _clean(r["title"])] for r in d.findings.to_dict("records")]
        out.append("findings (+ appeared in B, - disappeared from A):\n"
                   + _table(["", "SEVERITY", "ID", "SUBJECT", "FLOWS", "TITLE"], rows))
    if not d.paths.empty:
        rows = [["+" if r["change"] == "appeared" else "-", _clean(r["path"]),
                 _clean(r["client"]), _clean(r["server"]), _clean(r["client_role"]),
                 _clean(r["server_role"]),
                 str(r["flows_b"] if r["change"] == "appeared" else r["flows_a"]),
                 _clean(r["auth"])]
                for r in d.paths.to_dict("records")]
        out.append("paths (+ appeared in B, - disappeared from A):\n"
                   + _table(["", "PATH", "CLIENT", "SERVER", "CLIENT ROLE", "SERVER ROLE",
                             "FLOWS", "AUTH"], rows))
    return "\n\n".join(out)
