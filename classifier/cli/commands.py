"""The explicit list of CLI commands, one module per group of commands."""

from __future__ import annotations

import click

from classifier.cli.analyze import analyze_cmd
from classifier.cli.extract import extract_cmd
from classifier.cli.findings import diff_cmd, findings_cmd
from classifier.cli.flows import flows_cmd
from classifier.cli.hosts import hosts_cmd
from classifier.cli.tables import certs_cmd, http_cmd

COMMANDS: list[click.Command] = [
    analyze_cmd,
    flows_cmd,
    hosts_cmd,
    findings_cmd,
    certs_cmd,
    http_cmd,
    diff_cmd,
    extract_cmd,
]
