"""The explicit list of CLI commands, one module each."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
