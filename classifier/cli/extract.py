"""CLI: extract."""

from __future__ import annotations

import click


@click.command("extract")
def extract_cmd() -> None:
    """Not available yet."""
    raise click.ClickException("'extract' is not available yet")

