"""CLI: certs http."""

from __future__ import annotations

import click


@click.command("certs")
def certs_cmd() -> None:
    """Not available yet."""
    raise click.ClickException("'certs' is not available yet")


@click.command("http")
def http_cmd() -> None:
    """Not available yet."""
    raise click.ClickException("'http' is not available yet")

