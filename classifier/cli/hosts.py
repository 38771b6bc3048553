"""CLI: hosts."""

from __future__ import annotations

import click


@click.command("hosts")
def hosts_cmd() -> None:
    """Not available yet."""
    raise click.ClickException("'hosts' is not available yet")

