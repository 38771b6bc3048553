"""Two analyses → the findings and control-plane paths that appeared or disappeared."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from classifier.rules.base import NON_CONTROL_PLANE, Severity

FINDING_COLUMNS: Final = ("change", "id", "severity", "title", "subject", "count_a", "count_b")
PATH_COLUMNS: Final = ("change", "path", "client", "server", "proto", "client_role",
                       "server_role", "flows_a", "flows_b", "plaintext", "auth")


@dataclass(frozen=True, slots=True)
class Diff:
    """What changed from A to B: findings keyed by (id, subject), paths keyed by (path,
    client address, server address:port, transport). ``change`` is 'appeared' (in B only)
    or 'disappeared' (in A only)."""

    findings: pd.DataFrame
    paths: pd.DataFrame

    @property
    def empty(self) -> bool:
        """True when nothing appeared or disappeared."""
        return bool(self.findings.empty) and bool(self.paths.empty)

    def to_dict(self) -> dict[str, Any]:
        """The diff → a JSON-ready dict {findings: [...], paths: [...]}."""
        return {"findings": _records(self.findings), "paths": _records(self.paths)}


def diff(findings_a: pd.DataFrame, flows_a: pd.DataFrame, findings_b: pd.DataFrame,
         flows_b: pd.DataFrame) -> Diff:
    """Findings and tagged flows of A and of B → a :class:`Diff` (deterministic order)."""
    return Diff(findings=_diff_findings(findings_a, findings_b),
                paths=_diff_paths(flows_a, flows_b))


def _finding_index(f: pd.DataFrame) -> dict[tuple[str, str], dict[str, Any]]:
    return {(str(r["id"]), str(r["subject"])): r for r in f.to_dict("records")}


def _diff_findings(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    ia, ib = _finding_index(a), _finding_index(b)
    rows: list[dict[str, Any]] = []
    for change, src, other in (("appeared", ib, ia), ("disappeared", ia, ib)):
        for key, r in src.items():
            if key in other:
                continue
            rows.append({"change": change, "id": key[0], "severity": str(r["severity"]),
                         "title": r["title"], "subject": key[1],
                         "count_a": int(r["count"]) if change == "disappeared" else 0,
                         "count_b": int(r["count"]) if change == "appeared" else 0})
    rows.sort(key=lambda r: (r["change"], Severity(r["severity"]).rank, r["id"], r["subject"]))
    return pd.DataFrame(rows, columns=list(FINDING_COLUMNS))


def _path_index(flows: pd.DataFrame) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    p = flows["path"].astype("string")
    cp = flows[p.notna() & ~p.isin(list(NON_CONTROL_PLANE))]
    out: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for r in cp.to_dict("records"):
        h = str(r["resp_h"])
        server = f"[{h}]:{r['resp_p']}" if ":" in h else f"{h}:{r['resp_p']}"
        key = (str(r["path"]), str(r["orig_h"]), server, str(r["proto"]))
        e = out.setdefault(key, {"flows": 0, "client_role": _s(r.get("client_role")),
                                 "server_role": _s(r.get("server_role")), "plaintext": set(),
                                 "auth": set()})
        e["flows"] += 1
        e["plaintext"].add(_s(r.get("plaintext")))
        e["auth"].add(_s(r.get("auth")))
    return out


def _s(v: Any) -> str:
    return "" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v)


def _diff_paths(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    ia, ib = _path_index(a), _path_index(b)
    rows: list[dict[str, Any]] = []
    for change, src, other in (("appeared", ib, ia), ("disappeared", ia, ib)):
        for key, e in src.items():
            if key in other:
                continue
            rows.append({"change": change, "path": key[0], "client": key[1], "server": key[2],
                         "proto": key[3], "client_role": e["client_role"],
                         "server_role": e["server_role"],
                         "flows_a": e["flows"] if change == "disappeared" else 0,
                         "flows_b": e["flows"] if change == "appeared" else 0,
                         "plaintext": ",".join(sorted(x for x in e["plaintext"] if x)),
                         "auth": ",".join(sorted(x for x in e["auth"] if x))})
    rows.sort(key=lambda r: (r["change"], r["path"], r["client"], r["server"], r["proto"]))
    return pd.DataFrame(rows, columns=list(PATH_COLUMNS))


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
            for r in df.to_dict("records")]
