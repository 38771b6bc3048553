"""The explicit list of CLI commands: name → (module, attribute), imported only when used.

Loading a command on demand keeps `kubewire flows` from importing the report stack
(matplotlib, networkx) that only `analyze` needs.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Final

import click

from classifier.cli.common import imports_paused

COMMANDS: Final[dict[str, tuple[str, str]]] = {
    "analyze": ("classifier.cli.analyze", "analyze_cmd"),
    "flows": ("classifier.cli.flows", "flows_cmd"),
    "hosts": ("classifier.cli.hosts", "hosts_cmd"),
    "findings": ("classifier.cli.findings", "findings_cmd"),
    "certs": ("classifier.cli.tables", "certs_cmd"),
    "http": ("classifier.cli.tables", "http_cmd"),
    "diff": ("classifier.cli.findings", "diff_cmd"),
    "extract": ("classifier.cli.extract", "extract_cmd"),
}


def _import_quietly(module: str) -> ModuleType:
    """Import a command module (pandas, pyarrow, numpy: ~0.6 s) under ``imports_paused``."""
    with imports_paused():
        return importlib.import_module(module)


class LazyGroup(click.Group):
    """A click group whose commands are imported from COMMANDS the first time they are used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Command names in their declared order."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Name → the command object, importing its module on first use."""
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        cmd = getattr(_import_quietly(spec[0]), spec[1])
        if not isinstance(cmd, click.Command):
            raise TypeError(f"{spec[0]}.{spec[1]} is not a click command")
        return cmd
