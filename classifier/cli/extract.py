"""CLI: extract — the original packets of selected flows into an annotated pcapng file."""

from __future__ import annotations

from typing import Any

import click

from classifier import api
from classifier.cli.common import captures_argument, filter_options, inventory_option, quiet_option
from classifier.errors import FilterError
from classifier.forensics.filters import FlowFilter


@click.command("extract")
@captures_argument
@click.option("--finding", "finding_ids", multiple=True, metavar="ID",
              help="flows covered by findings with this rule id (repeatable).")
@click.option("--flow", "flow_uids", multiple=True, metavar="UID",
              help="this flow uid (repeatable).")
@inventory_option
@filter_options
@click.option("-o", "--output", "output", required=True, metavar="FILE",
              type=click.Path(dir_okay=False, writable=True),
              help="pcapng file to write (evidence.pcapng).")
@quiet_option
def extract_cmd(captures: tuple[str, ...], finding_ids: tuple[str, ...],
                flow_uids: tuple[str, ...], inventory: tuple[str, ...], since: str | None,
                until: str | None, hosts: tuple[str, ...], paths: tuple[str, ...],
                where: str | None, output: str, quiet: bool) -> None:
    """Write the exact original packets of the selected flows to a pcapng file.

    Select with --finding ID, --flow UID and/or --where EXPR (--since/--until/--host/--path
    narrow the selection). Packets keep their bytes and timestamps, are in time order, and
    carry a comment with their flow uid, path, roles and findings; the file header records
    each input's SHA-256 and size and kubewire's version. Inputs are never modified.
    """
    if not (finding_ids or flow_uids or where or hosts or paths or since or until):
        raise click.UsageError("nothing selected: give --finding ID, --flow UID or --where EXPR")
    flt = FlowFilter(since=since, until=until, hosts=hosts, paths=paths, where=where)
    result = api.analyze(list(captures), list(inventory) or None,
                         filters=None if flt.empty else flt)
    uids = select_uids(result, finding_ids, flow_uids)
    if not uids:
        raise FilterError("the selection matches no flow")
    selection: dict[str, Any] = dict(flt.describe())
    if finding_ids:
        selection["findings"] = ",".join(finding_ids)
    if flow_uids:
        selection["flows"] = ",".join(flow_uids)
    done = api.extract_evidence(list(captures), output, result=result, uids=uids,
                                selection=selection)
    if done.missing:
        click.echo(f"kubewire: warning: no packets found for {len(done.missing)} flow(s): "
                   + ", ".join(done.missing[:10]), err=True)
    if not quiet:
        click.echo(f"{done.out}: {done.packets} packets of {done.flows} flow(s), "
                   f"sha256 {done.sha256}")


def select_uids(result: api.Result, finding_ids: tuple[str, ...],
                flow_uids: tuple[str, ...]) -> list[str]:
    """Result + --finding ids + --flow uids → the selected flow uids, in flow-table order.

    With neither, every flow left by the filters is selected. Unknown ids are user errors.
    """
    present = list(result.flows["uid"].astype(str))
    if not finding_ids and not flow_uids:
        return present
    wanted: set[str] = set()
    known = {str(i).upper() for i in result.findings["id"]}
    for fid in finding_ids:
        if fid.upper() not in known:
            listed = ", ".join(sorted(known)) or "none"
            raise FilterError(f"--finding {fid}: no such finding in these captures "
                              f"(findings: {listed})")
        rows = result.findings[result.findings["id"].astype(str).str.upper() == fid.upper()]
        for uids in rows["uids"]:
            wanted.update(str(u) for u in (uids if isinstance(uids, list | tuple) else []))
    keep = set(present)
    for uid in flow_uids:
        if uid not in keep:
            raise FilterError(f"--flow {uid}: no such flow in these captures"
                              + (" (or excluded by the filters)" if result.filters else ""))
        wanted.add(uid)
    return [u for u in present if u in wanted]
