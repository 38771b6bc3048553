"""CLI: `kubewire hosts CAPTURE... [--inventory FILE] [-o FILE] [-q] [filters]`.

One row per endpoint: its role (apiserver, node, pod, etcd, ...), name, node, how sure kubewire
is, and the evidence behind it; written as a terminal table, or to .csv / .json / .parquet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import pandas as pd

from classifier import api, schema
from classifier.cli.common import captures_argument, filter_options, inventory_option, quiet_option
from classifier.errors import OutputError
from classifier.forensics.filters import FlowFilter
from classifier.tablefile import write_table

SUFFIXES = (".csv", ".json", ".parquet")
TERMINAL_COLUMNS = ("ip", "role", "name", "node", "confidence", "source", "flows", "bytes", "evidence")


@click.command("hosts")
@captures_argument
@inventory_option
@click.option("-o", "--output", metavar="FILE",
              help="write the hosts table to FILE (.csv, .json or .parquet) instead of the terminal.")
@quiet_option
@filter_options
def hosts_cmd(captures: tuple[str, ...], inventory: tuple[str, ...], output: str | None,
              quiet: bool, since: str | None, until: str | None, hosts: tuple[str, ...],
              paths: tuple[str, ...], where: str | None) -> None:
    """Every endpoint seen in CAPTURE... with its Kubernetes role, confidence and evidence.

    Roles: apiserver, node, pod, etcd, konnectivity-server, service-vip, client, dns, unknown.
    With --inventory the roles come from kubectl output first and traffic fills the gaps.
    """
    if output is not None and Path(output).suffix.lower() not in SUFFIXES:
        raise OutputError(f"{output}: unknown output format (use {', '.join(SUFFIXES)})")
    flt = FlowFilter(since=since, until=until, hosts=hosts, paths=paths, where=where)
    filtered = any((since, until, hosts, paths, where))
    result = api.analyze(list(captures), list(inventory) or None,
                         filters=flt if filtered else None)
    table = result.hosts
    if filtered:
        seen = set(result.flows["orig_h"].dropna()) | set(result.flows["resp_h"].dropna())
        table = table[table["ip"].isin(seen)].reset_index(drop=True)
    if output is not None:
        write_hosts(table, Path(output), custody=result.custody())
        if not quiet:
            click.echo(f"kubewire: {len(table)} hosts written to {output}", err=True)
        return
    if not quiet:
        click.echo(render(table))


def write_hosts(table: pd.DataFrame, out: Path, *, custody: dict[str, Any] | None = None) -> None:
    """Hosts table → a .csv, .json (list of objects) or .parquet file (+ custody sidecar)."""
    write_table(table, schema.HOSTS, out, SUFFIXES, custody=custody)




def render(table: pd.DataFrame) -> str:
    """Hosts table → a fixed-width text table (evidence last, cut to the terminal width)."""
    if table.empty:
        return "no hosts"
    rows = [[_cell(c, r[c]) for c in TERMINAL_COLUMNS] for r in table.to_dict("records")]
    head = [c.upper() for c in TERMINAL_COLUMNS]
    widths = [max(len(head[i]), *(len(r[i]) for r in rows)) for i in range(len(head) - 1)]
    lines = []
    for r in [head, *rows]:
        lines.append("  ".join(v.ljust(w) for v, w in zip(r[:-1], widths, strict=True)) + "  " + r[-1])
    return "\n".join(lines)


def _cell(col: str, v: Any) -> str:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return "-"
    if col == "confidence":
        return f"{float(v):.2f}"
    return str(v)
