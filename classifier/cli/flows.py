"""CLI: flows."""

from __future__ import annotations

import click


@click.command("flows")
def flows_cmd() -> None:
    """Not available yet."""
    raise click.ClickException("'flows' is not available yet")

