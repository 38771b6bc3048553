"""Typed exceptions of the public API; the CLI turns each into one line and an exit code."""

from __future__ import annotations


class KubewireError(Exception):
    """Base of every error kubewire raises on purpose (a user or input problem, not a bug)."""

    exit_code = 2


class CaptureError(KubewireError):
    """A capture cannot be read at all: missing, unreadable, not a capture, unknown format."""


class MalformedPacketError(KubewireError):
    """Raised only with ``strict=True``: the first malformed record, with where it was."""

    def __init__(self, capture: str, frame: int, reason: str) -> None:
        super().__init__(f"{capture}: frame {frame}: {reason}")
        self.capture = capture
        self.frame = frame
        self.reason = reason


class InventoryError(KubewireError):
    """An inventory file is missing or malformed; the message names the file and field."""


class BaselineError(KubewireError):
    """A findings baseline file is missing or malformed."""


class FilterError(KubewireError):
    """A --since/--until/--where/--host/--path filter cannot be understood."""


class OutputError(KubewireError):
    """An output file or folder cannot be written, or its format is not known."""
