"""Baselines: findings a team has accepted, by rule id and subject, each with a reason.

File format (YAML or JSON): a list of ``{id, subject, reason}`` mappings, or a mapping with
that list under ``accepted``. ``subject`` is matched exactly, or as a shell-style pattern
(``*``, ``?``, ``[...]``); ``"*"`` accepts every subject of the rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

import yaml

from classifier.errors import BaselineError


@dataclass(frozen=True, slots=True)
class Accepted:
    """One baseline entry."""

    id: str
    subject: str
    reason: str

    def matches(self, rule_id: str, subject: str) -> bool:
        """True when this entry accepts the (rule id, subject) pair."""
        if self.id != rule_id:
            return False
        return self.subject == subject or fnmatchcase(subject, self.subject)


@dataclass(frozen=True, slots=True)
class Baseline:
    """Accepted findings, in file order; the first matching entry gives the reason."""

    entries: tuple[Accepted, ...]
    source: str = ""

    def reason_for(self, rule_id: str, subject: str) -> str | None:
        """(rule id, subject) → the accepting entry's reason, or None when not accepted."""
        for e in self.entries:
            if e.matches(rule_id, subject):
                return e.reason
        return None


def load_baseline(path: str) -> Baseline:
    """Baseline YAML/JSON file → Baseline. Raises BaselineError naming the file and entry."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BaselineError(f"{path}: baseline file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BaselineError(f"{path}: cannot read baseline: {exc}") from None
    try:
        data: Any = json.loads(text) if p.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise BaselineError(f"{path}: not valid {'JSON' if p.suffix == '.json' else 'YAML'}: "
                            f"{str(exc).splitlines()[0]}") from None
    return parse_baseline(data, source=path)


def parse_baseline(data: Any, *, source: str = "<baseline>") -> Baseline:
    """Parsed YAML/JSON → Baseline; BaselineError names ``source`` and the bad entry."""
    if data is None:
        return Baseline((), source)
    if isinstance(data, dict):
        if "accepted" not in data:
            raise BaselineError(f"{source}: expected a list of {{id, subject, reason}} entries "
                                "(or a mapping with an 'accepted' list)")
        data = data["accepted"]
        if data is None:
            return Baseline((), source)
    if not isinstance(data, list):
        raise BaselineError(f"{source}: expected a list of {{id, subject, reason}} entries, "
                            f"got {type(data).__name__}")
    out: list[Accepted] = []
    for i, entry in enumerate(data, start=1):
        where = f"{source}: entry {i}"
        if not isinstance(entry, dict):
            raise BaselineError(f"{where}: expected a mapping with id, subject, reason")
        unknown = sorted(set(map(str, entry)) - {"id", "subject", "reason"})
        if unknown:
            raise BaselineError(f"{where}: unknown field(s) {', '.join(unknown)}")
        fields: dict[str, str] = {}
        for key in ("id", "subject", "reason"):
            v = entry.get(key)
            if not isinstance(v, str) or not v.strip():
                raise BaselineError(f"{where}: '{key}' must be a non-empty string")
            fields[key] = v.strip()
        out.append(Accepted(fields["id"], fields["subject"], fields["reason"]))
    return Baseline(tuple(out), source)
