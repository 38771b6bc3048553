"""CLI: findings diff."""

from __future__ import annotations

import click


@click.command("findings")
def findings_cmd() -> None:
    """Not available yet."""
    raise click.ClickException("'findings' is not available yet")


@click.command("diff")
def diff_cmd() -> None:
    """Not available yet."""
    raise click.ClickException("'diff' is not available yet")

