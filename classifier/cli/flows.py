"""CLI: `kubewire flows CAPTURE... [-o FILE.csv|.parquet|.jsonl] [--tag] [--inventory FILE]
[filters] [-q]` — the flow table on the terminal or in a file, with packet accounting."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from classifier import api
from classifier.cli.common import (
    arrow_without_pandas,
    captures_argument,
    filter_options,
    imports_paused,
    inventory_option,
    quiet_option,
    stderr_is_tty,
)
from classifier.errors import OutputError
from classifier.heap import trim_heap

if TYPE_CHECKING:  # pandas and the table modules load once a capture is being read
    import pandas as pd

SUFFIXES = (".csv", ".parquet", ".jsonl")
BASE_COLUMNS = ("ts", "orig", "resp", "proto", "app_proto", "tls_version", "tls_sni",
                "http_method", "http_path", "http_status", "pkts", "bytes", "conn_state",
                "history", "uid")
TAG_COLUMNS = ("path", "client_role", "server_role", "auth")


@click.command("flows")
@captures_argument
@click.option("-o", "--output", metavar="FILE",
              help="write the flow table to FILE (.csv, .parquet or .jsonl) instead of the terminal; "
                   "without tagging or filters it is written while reading, in bounded memory.")
@click.option("--tag", is_flag=True, help="also tag control-plane paths and roles (path, roles, auth).")
@inventory_option
@filter_options
@quiet_option
def flows_cmd(captures: tuple[str, ...], output: str | None, tag: bool,
              inventory: tuple[str, ...], since: str | None, until: str | None,
              hosts: tuple[str, ...], paths: tuple[str, ...], where: str | None,
              quiet: bool) -> None:
    """Bidirectional TCP/UDP flows in CAPTURE... (pcap, pcapng, gzip, or '-' for stdin).

    One row per connection with Zeek's conn.log columns (conn_state, history, bytes) and what
    the first bytes say (TLS version and SNI, HTTP method/path/status). Packet accounting
    (read / decoded / skipped by reason) goes to stderr.
    """
    if output is not None and Path(output).suffix.lower() not in SUFFIXES:
        raise OutputError(f"{output}: unknown output format (use {', '.join(SUFFIXES)})")
    filtered = any((since, until, hosts, paths, where))
    tagged = tag or bool(inventory) or filtered
    if output is not None and not tagged:
        _stream(list(captures), Path(output), quiet)
        return
    with _progress(enabled=not quiet and stderr_is_tty()) as progress:
        if tagged:
            from classifier.forensics.filters import FlowFilter

            flt = FlowFilter(since=since, until=until, hosts=hosts, paths=paths, where=where)
            result = api.analyze(list(captures), list(inventory) or None,
                                 filters=flt if filtered else None, progress=progress)
            flows, stats, facts = result.flows, result.stats, result.custody()
        else:
            flows, stats, facts = _read(list(captures), progress)
    if not quiet:
        click.echo(summary_line(stats), err=True)
    if output is not None:
        write_flows(flows, Path(output), custody=facts)
        if not quiet:
            click.echo(f"kubewire: {len(flows)} flows written to {output}", err=True)
        return
    if not quiet:
        render(flows, tagged=tagged)


def _stream(captures: list[str], out: Path, quiet: bool) -> None:
    """Captures → the dissected flow table written to ``out`` batch by batch as flows finish
    (memory follows the flows live at a time, not the capture's length), then the custody
    sidecar and the packet accounting.

    The capture is read in a forked process that starts before the table stages are imported
    here, so the imports run beside the read. CSV from one capture point is made from Arrow
    tables (``CaptureStream.tables``) and pandas never loads (~0.35 CPU s); Parquet, JSON Lines
    and several overlapping captures go through frames. Both give the same bytes."""
    with _progress(enabled=not quiet and stderr_is_tty()) as progress:
        stream = api.CaptureStream(captures, progress=progress, reader_process=True)
        arrow = out.suffix.lower() == ".csv" and stream.points == 1
        if arrow:
            arrow_without_pandas()
        with imports_paused():
            from classifier import schema
            from classifier.tablefile import TableWriter, write_custody

            if arrow:
                import classifier.dissect
                import classifier.flows.build  # noqa: F401
        with TableWriter(out, schema.FLOWS, SUFFIXES) as writer:
            for batch in stream.tables() if arrow else stream:
                writer.write(batch)
                del batch
                trim_heap()
    write_custody(out, stream.custody())
    if not quiet:
        click.echo(summary_line(stream.stat_rows()), err=True)
        click.echo(f"kubewire: {writer.rows} flows written to {out}", err=True)


def _read(captures: list[str], progress: Callable[[int, int], None] | None,
          ) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Captures → dissected flows, packet accounting and custody facts (no tagging)."""
    cap = api.read_capture(captures, progress=progress)
    return cap.flows, cap.stats, cap.custody()


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    """A rich progress bar on stderr fed by (bytes done, bytes total), or None."""
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    bar = Progress("reading", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
                   console=Console(stderr=True), transient=True)
    task = bar.add_task("read", total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total or None)

    with bar:
        yield update


def summary_line(stats: pd.DataFrame | list[dict[str, Any]]) -> str:
    """Packet accounting (the stats table or its rows as dicts) → 'N packets read: D decoded,
    S skipped (reason n, ...), O out of scope (...)', reasons by count, most first."""
    rows = stats if isinstance(stats, list) else stats.to_dict("records")
    by: dict[str, int] = {}
    reasons: dict[str, dict[str, int]] = {}
    for r in rows:
        outcome, n = str(r["outcome"]), int(r["packets"])
        by[outcome] = by.get(outcome, 0) + n
        per = reasons.setdefault(outcome, {})
        per[str(r["reason"])] = per.get(str(r["reason"]), 0) + n
    read = sum(by.values())

    def detail(outcome: str) -> str:
        counts = sorted(reasons.get(outcome, {}).items(), key=lambda kv: (-kv[1], kv[0]))
        inner = ", ".join(f"{r} {n}" for r, n in counts)
        return f" ({inner})" if inner else ""

    return (f"kubewire: {read} packets read: {by.get('decoded', 0)} decoded, "
            f"{by.get('skipped', 0)} skipped{detail('skipped')}, "
            f"{by.get('out_of_scope', 0)} out of scope{detail('out_of_scope')}")


def write_flows(flows: pd.DataFrame, out: Path, *, custody: dict[str, Any] | None = None) -> None:
    """Flow table → .csv / .parquet / .jsonl with the exported columns (never payload bytes),
    plus the chain-of-custody sidecar when ``custody`` is given."""
    from classifier import schema
    from classifier.tablefile import write_table

    write_table(flows, schema.FLOWS, out, SUFFIXES, custody=custody)




def rows(flows: pd.DataFrame, *, tagged: bool) -> list[dict[str, str]]:
    """Flow table → display rows (endpoint pairs, packet/byte totals, dissection, tags)."""
    from classifier.schema import is_missing  # pandas is loaded by now

    def _int(v: Any) -> str:
        return "-" if is_missing(v) else str(int(v))

    def _ep(h: Any, p: Any) -> str:
        if is_missing(h):
            return "-"
        host = f"[{h}]" if ":" in str(h) else str(h)
        return f"{host}:{_int(p)}"

    cols = BASE_COLUMNS + (TAG_COLUMNS if tagged else ())
    out = []
    for r in flows.to_dict("records"):
        d = {
            "ts": "-" if is_missing(r.get("ts")) else r["ts"].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
            "orig": _ep(r.get("orig_h"), r.get("orig_p")),
            "resp": _ep(r.get("resp_h"), r.get("resp_p")),
            "pkts": f"{_int(r.get('orig_pkts'))}/{_int(r.get('resp_pkts'))}",
            "bytes": f"{_int(r.get('orig_bytes'))}/{_int(r.get('resp_bytes'))}",
        }
        for c in cols:
            if c not in d:
                d[c] = "-" if is_missing(r.get(c)) else str(r.get(c))
        out.append({c: d[c] for c in cols})
    return out


def render(flows: pd.DataFrame, *, tagged: bool) -> None:
    """Flow table → a rich table on a terminal, plain aligned text when piped.

    Columns empty for every flow (say tls_sni in a plaintext capture) are left out.
    """
    if flows.empty:
        click.echo("no flows")
        return
    table = rows(flows, tagged=tagged)
    cols = [c for c in BASE_COLUMNS + (TAG_COLUMNS if tagged else ())
            if c in ("ts", "orig", "resp", "proto") or any(r[c] != "-" for r in table)]
    if not sys.stdout.isatty():
        widths = [max(len(c), *(len(r[c]) for r in table)) for c in cols]
        for line in [dict(zip(cols, cols, strict=True)), *table]:
            click.echo("  ".join(line[c].ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip())
        return
    from rich.console import Console
    from rich.table import Table

    out = Table(header_style="bold", pad_edge=False, box=None)
    for c in cols:
        out.add_column(c, overflow="ellipsis", no_wrap=True,
                       min_width=min(len(c), 8) if c not in ("orig", "resp", "ts") else None)
    for r in table:
        out.add_row(*(r[c] for c in cols))
    Console().print(out)
