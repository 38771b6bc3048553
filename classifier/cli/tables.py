"""CLI: `kubewire certs CAPTURE...` and `kubewire http CAPTURE...` — the detail tables.

certs: one row per certificate seen (deduplicated by SHA-256), who presented it and where.
http:  one row per HTTP request/response pair (HTTP/1.x and HTTP/2, gRPC), credentials shown
       only as kind + short fingerprint. Both print a table, or write .csv / .json / .parquet.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.table import Table

from classifier import api, schema, tablefile
from classifier.cli.common import captures_argument, filter_options, inventory_option, quiet_option
from classifier.errors import OutputError
from classifier.forensics.filters import FlowFilter

SUFFIXES = (".csv", ".json", ".parquet")

CERT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("subject", "SUBJECT"), ("issuer", "ISSUER"), ("seen_as", "SEEN AS"), ("hosts", "HOSTS"),
    ("flows", "FLOWS"), ("sans", "SANS"), ("not_after", "NOT AFTER"), ("key", "KEY"),
    ("flags", "FLAGS"), ("fingerprint", "SHA-256"),
)
HTTP_COLUMNS: tuple[tuple[str, str], ...] = (
    ("ts", "TIME"), ("client", "CLIENT"), ("server", "SERVER"), ("method", "METHOD"),
    ("host", "HOST"), ("target", "URI"), ("status_code", "STATUS"), ("auth", "AUTH"),
    ("stream", "UPGRADE/STREAM"), ("k8s_status_reason", "K8S REASON"), ("uid", "UID"),
)


def _options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = filter_options(f)
    f = quiet_option(f)
    f = click.option("-o", "--output", metavar="FILE",
                     help="write the table to FILE (.csv, .json or .parquet) instead of the "
                          "terminal.")(f)
    f = inventory_option(f)
    return captures_argument(f)


def _result(captures: tuple[str, ...], inventory: tuple[str, ...], output: str | None,
            flt: FlowFilter) -> api.Result:
    if output is not None and Path(output).suffix.lower() not in SUFFIXES:
        raise OutputError(f"{output}: unknown output format (use {', '.join(SUFFIXES)})")
    filtered = any((flt.since, flt.until, flt.hosts, flt.paths, flt.where))
    return api.analyze(list(captures), list(inventory) or None,
                       filters=flt if filtered else None)


@click.command("certs")
@_options
def certs_cmd(captures: tuple[str, ...], inventory: tuple[str, ...], output: str | None,
              quiet: bool, since: str | None, until: str | None, hosts: tuple[str, ...],
              paths: tuple[str, ...], where: str | None) -> None:
    """Every certificate seen in TLS handshakes in CAPTURE..., once per SHA-256 fingerprint.

    Shows subject, issuer, who presented it (server, client or both) and from which
    addresses, validity, key, and flags: self-signed, kubelet self-signed ('<host>@<ts>'),
    CA. TLS 1.3 encrypts certificates: those handshakes contribute nothing here.
    """
    flt = FlowFilter(since=since, until=until, hosts=hosts, paths=paths, where=where)
    result = _result(captures, inventory, output, flt)
    table = result.certificates
    if any((since, until, hosts, paths, where)):
        keep = set(result.flows["uid"])
        table = table[[bool(set(u or ()) & keep) for u in table["uids"]]].reset_index(drop=True)
    _emit(table, schema.CERTIFICATES, output, quiet, "certificates", _cert_cells, CERT_COLUMNS,
          result.custody())


@click.command("http")
@_options
def http_cmd(captures: tuple[str, ...], inventory: tuple[str, ...], output: str | None,
             quiet: bool, since: str | None, until: str | None, hosts: tuple[str, ...],
             paths: tuple[str, ...], where: str | None) -> None:
    """Every plaintext HTTP request/response pair in CAPTURE... (HTTP/1.x, HTTP/2, gRPC).

    Credentials appear only as their kind and a short SHA-256 fingerprint, never the value;
    token query parameters are redacted the same way.
    """
    flt = FlowFilter(since=since, until=until, hosts=hosts, paths=paths, where=where)
    result = _result(captures, inventory, output, flt)
    _emit(result.http, schema.HTTP, output, quiet, "HTTP requests", _http_cells, HTTP_COLUMNS,
          result.custody())


def _emit(table: pd.DataFrame, spec: schema.Table, output: str | None, quiet: bool, what: str,
          cells: Callable[[dict[str, Any]], dict[str, str]],
          columns: tuple[tuple[str, str], ...], custody: dict[str, Any] | None = None) -> None:
    if output is not None:
        write_table(table, spec, Path(output), custody=custody)
        if not quiet:
            click.echo(f"kubewire: {len(table)} {what} written to {output}", err=True)
        return
    if quiet:
        return
    if table.empty:
        click.echo(f"no {what}")
        return
    stream = sys.stdout
    tty = stream.isatty()
    console = Console(file=stream, width=None if tty else 240, no_color=not tty,
                      highlight=False, soft_wrap=False)
    rich = Table(show_lines=False, header_style="bold", pad_edge=False, box=None)
    for _, head in columns:
        rich.add_column(head, overflow="fold")
    for r in table.to_dict("records"):
        c = cells(r)
        rich.add_row(*(c.get(k, "-") for k, _ in columns))
    console.print(rich)


def write_table(table: pd.DataFrame, spec: schema.Table, out: Path, *,
                custody: dict[str, Any] | None = None) -> None:
    """A detail table → .csv, .json (list of objects) or .parquet (+ custody sidecar)."""
    tablefile.write_table(table, spec, out, SUFFIXES, custody=custody)




def _s(v: Any) -> str:
    return "-" if schema.is_missing(v) else str(v)


def _cert_cells(r: dict[str, Any]) -> dict[str, str]:
    flags = [name for name, key in (("self-signed", "self_signed"),
                                    ("kubelet", "kubelet_self_signed"), ("CA", "is_ca"))
             if not schema.is_missing(r[key]) and bool(r[key])]
    key = "-" if schema.is_missing(r["key_type"]) else f"{r['key_type']}/{_s(r['key_bits'])}"
    na = r["not_after"]
    return {
        "subject": _s(r["subject"]), "issuer": _s(r["issuer"]), "seen_as": _s(r["seen_as"]),
        "hosts": _s(r["hosts"]), "flows": str(len(r["uids"] or ())), "sans": _s(r["sans"]),
        "not_after": "-" if schema.is_missing(na) else pd.Timestamp(na).strftime("%Y-%m-%d"),
        "key": key, "flags": ",".join(flags) or "-", "fingerprint": _s(r["fingerprint"])[:16],
    }


def _http_cells(r: dict[str, Any]) -> dict[str, str]:
    target = r["connect_target"] if not schema.is_missing(r["connect_target"]) else r["uri"]
    if not schema.is_missing(r["query"]):
        target = f"{_s(target)}?{r['query']}"
    auth = "-" if schema.is_missing(r["auth_kind"]) else f"{r['auth_kind']}:{_s(r['auth_fingerprint'])}"
    stream = "/".join(_s(r[k]) for k in ("upgrade", "stream_protocol") if not schema.is_missing(r[k]))
    if not schema.is_missing(r["grpc_method"]):
        stream = stream or "grpc"
    ts = r["ts"]
    return {
        "ts": "-" if schema.is_missing(ts) else pd.Timestamp(ts).strftime("%H:%M:%S.%f")[:-3],
        "client": _s(r["orig_h"]), "server": f"{_s(r['resp_h'])}:{_s(r['resp_p'])}",
        "method": _s(r["method"]), "host": _s(r["host"]), "target": _s(target),
        "status_code": _s(r["status_code"]), "auth": auth, "stream": stream or "-",
        "k8s_status_reason": _s(r["k8s_status_reason"]), "uid": _s(r["uid"]),
    }
