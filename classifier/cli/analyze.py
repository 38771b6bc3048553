"""CLI: analyze."""

from __future__ import annotations

import click


@click.command("analyze")
def analyze_cmd() -> None:
    """Not available yet."""
    raise click.ClickException("'analyze' is not available yet")

