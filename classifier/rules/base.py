"""What every rule is made of: Severity, Finding, the Context a rule reads, and shared helpers.

A rule is a small object with a stable symbolic ``id``, a ``severity``, a ``title``,
``references`` and a rationale docstring; ``check(ctx)`` yields :class:`Finding` values that
:func:`classifier.rules.evaluate` turns into rows of schema.FINDINGS.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Final, Protocol, runtime_checkable

import pandas as pd

from classifier import schema
from classifier.k8s.paths import APISERVER_FAMILY


class Severity(StrEnum):
    """How bad a finding is; ``rank`` orders them (critical = 0 is the worst)."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """0 for critical … 4 for info."""
        return _RANK[self]

    def at_least(self, other: Severity) -> bool:
        """True when this severity is ``other`` or worse."""
        return self.rank <= other.rank


_RANK: Final = {s: i for i, s in enumerate(Severity)}


@dataclass(frozen=True, slots=True)
class Finding:
    """What one rule found about one subject: the covered flow uids and the evidence."""

    subject: str
    """What the finding is about: ``"10.244.1.5 -> 10.0.0.11:10250"``, a source IP, ..."""
    uids: tuple[str, ...]
    """Every flow uid the finding covers (flows.uid)."""
    evidence: tuple[Mapping[str, Any], ...] = ()
    """Observed facts per flow or request: capture, frame, uid, request line, status, ...;
    never a secret value."""
    severity: Severity | None = None
    """A variant's severity when it differs from the rule's (documented per rule)."""
    title: str | None = None
    """A variant's title when it differs from the rule's."""
    more: int = 0
    """Covered flows whose evidence was not built (beyond MAX_EVIDENCE_FLOWS)."""


@dataclass(frozen=True, slots=True)
class Context:
    """The tables a rule reads, each conformed to its schema (empty, never None)."""

    flows: pd.DataFrame
    http: pd.DataFrame
    tls: pd.DataFrame
    certificates: pd.DataFrame
    hosts: pd.DataFrame
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(cls, flows: pd.DataFrame, *, http: pd.DataFrame | None = None,
              tls: pd.DataFrame | None = None, certificates: pd.DataFrame | None = None,
              hosts: pd.DataFrame | None = None) -> Context:
        """Frames (any may be None) → a Context with every table conformed."""
        return cls(flows=_conformed(flows, schema.FLOWS), http=_conformed(http, schema.HTTP),
                   tls=_conformed(tls, schema.TLS),
                   certificates=_conformed(certificates, schema.CERTIFICATES),
                   hosts=_conformed(hosts, schema.HOSTS))

    @property
    def control_plane(self) -> pd.DataFrame:
        """Flows on a Kubernetes control-plane path (path set and not 'other')."""
        if "cp" not in self._cache:
            p = self.flows["path"].astype("string")
            self._cache["cp"] = self.flows[p.notna() & ~p.isin(list(NON_CONTROL_PLANE))]
        out: pd.DataFrame = self._cache["cp"]
        return out


def _conformed(df: pd.DataFrame | None, table: schema.Table) -> pd.DataFrame:
    if df is None:
        return schema.empty(table)
    if list(df.columns) == table.names:
        return df.reset_index(drop=True)
    return schema.conform(df[[c for c in df.columns if c in table.names]], table)


@runtime_checkable
class Rule(Protocol):
    """One analyzer rule. The class docstring is its rationale (shown in docs/findings.md)."""

    id: ClassVar[str]
    severity: ClassVar[Severity]
    title: ClassVar[str]
    references: ClassVar[tuple[str, ...]]

    def check(self, ctx: Context) -> Iterable[Finding]:
        """Context → findings (one per subject)."""
        ...


# --- vocabulary shared by rules -------------------------------------------------------------

NON_CONTROL_PLANE: Final = frozenset({"other"})
"""Paths that are not Kubernetes control-plane paths (classifier.k8s path names)."""

APISERVER_PATHS: Final = APISERVER_FAMILY
KUBELET_PATHS: Final = frozenset({"apiserver-to-kubelet", "kubelet-direct"})
ETCD_PATHS: Final = frozenset({"etcd", "etcd-peer"})

DOC_CPNC: Final = "Kubernetes docs: Control Plane-Node Communication"
"""https://kubernetes.io/docs/concepts/architecture/control-plane-node-communication/"""

# Zeek conn_state values that mean "the responder never accepted the connection" (Zeek
# base/protocols/conn/main.zeek): S0 no reply, REJ rejected (RST to SYN), RSTOS0 / RSTRH /
# SH / SHR half-open without a completed handshake, OTH no SYN seen and nothing else known.
FAILED_STATES: Final = frozenset({"S0", "REJ", "RSTOS0", "RSTRH", "SH", "SHR"})

def val(row: Mapping[str, Any], key: str) -> Any:
    """A row's value → None when missing or NA (so callers need no pd.isna checks)."""
    v = row.get(key)
    if v is None or v.__class__ in _PLAIN:
        return v
    if schema.is_missing(v):
        return None
    if hasattr(v, "item") and not isinstance(v, str | bytes):
        return v.item()
    return v


_PLAIN: Final = frozenset({str, bool, int, pd.Timestamp})


def is_true(v: Any) -> bool:
    """A nullable boolean → True only when it is a real True."""
    return v is not None and not (isinstance(v, float) and v != v) and v is not pd.NA and bool(v)


def is_false(v: Any) -> bool:
    """A nullable boolean → True only when it is a real False (NA is not False)."""
    return v is not None and v is not pd.NA and not (isinstance(v, float) and v != v) and not bool(v)


def pair(row: Mapping[str, Any]) -> str:
    """Flow row → ``"orig_h -> resp_h:resp_p"`` (IPv6 servers bracketed)."""
    return f"{row['orig_h']} -> {endpoint(row)}"


def endpoint(row: Mapping[str, Any]) -> str:
    """Flow row → ``"resp_h:resp_p"`` (IPv6 bracketed)."""
    h = str(row["resp_h"])
    return f"[{h}]:{row['resp_p']}" if ":" in h else f"{h}:{row['resp_p']}"


def rows(df: pd.DataFrame) -> Iterator[dict[str, Any]]:
    """Frame → its rows as dicts (column name → value, NA as None), _BULKY columns left out.

    Columns are converted whole (arrow-backed strings iterate slowly element by element).
    """
    cols = [c for c in df.columns if c not in _BULKY]
    arrays = [_objects(df[c]) for c in cols]
    for values in zip(*arrays, strict=True):
        yield dict(zip(cols, values, strict=True))


_BULKY: Final = frozenset({
    "orig_payload", "resp_payload", "history", "vlan", "tunnel", "tunnel_orig_h", "tunnel_resp_h",
    "tunnel_id", "captures", "capture_points", "orig_isn", "resp_isn", "orig_burst_interval",
    "orig_pkts", "resp_pkts", "orig_ip_bytes", "resp_ip_bytes", "orig_guessed", "missed_bytes",
    "path_evidence", "path_confidence", "tls_ja4", "dissect_error", "last_frame"})
"""Flow columns no rule reads (bulky or irrelevant to findings): not converted by rows()."""


def _objects(s: pd.Series) -> list[Any]:
    """A column → a list of Python values with NA as None."""
    if s.dtype == object:
        return [None if schema.is_missing(v) else v for v in s.tolist()]
    mask = s.isna().to_numpy()
    values = s.astype(object).tolist() if isinstance(s.dtype, pd.CategoricalDtype) else s.tolist()
    if not mask.any():
        return list(values)
    return [None if m else v for v, m in zip(values, mask, strict=True)]




def by_subject(df: pd.DataFrame, subject: Callable[[dict[str, Any]], str],
               evidence: Callable[[dict[str, Any]], Iterable[Mapping[str, Any]]],
               variant: Callable[[list[dict[str, Any]]], tuple[Severity | None, str | None]]
               | None = None) -> Iterator[Finding]:
    """Flows → one Finding per subject (in first-seen order) with every uid and evidence.

    ``variant`` maps the subject's flow rows to a (severity, title) override when a rule has
    documented variants.
    """
    groups: dict[Hashable, list[dict[str, Any]]] = {}
    for r in rows(df.sort_values(["ts", "uid"], kind="stable")):
        groups.setdefault(subject(r), []).append(r)
    for subj, members in groups.items():
        sev, title = variant(members) if variant is not None else (None, None)
        ev: list[Mapping[str, Any]] = []
        for m in members[:MAX_EVIDENCE_FLOWS]:
            ev.extend(evidence(m))
        yield Finding(subject=str(subj), uids=tuple(m["uid"] for m in members),
                      evidence=tuple(ev), severity=sev, title=title,
                      more=max(0, len(members) - MAX_EVIDENCE_FLOWS))


MAX_EVIDENCE_FLOWS: Final = 50
"""Flows per finding whose evidence is built (the earliest); the rest are counted in ``more``."""


def strs(series: pd.Series) -> pd.Series:
    """A column → lower-case strings with NA kept (for isin / contains tests)."""
    return series.astype("string").str.lower()


def flag(df: pd.DataFrame, col: str) -> pd.Series:
    """A nullable boolean column → a plain bool mask (NA counts as False)."""
    return df[col].astype("boolean").fillna(False).astype(bool)


def is_na_false(df: pd.DataFrame, col: str) -> pd.Series:
    """A nullable boolean column → mask of rows where it is a visible False (NA excluded)."""
    s = df[col].astype("boolean")
    return s.notna() & ~s.fillna(True).astype(bool)


def on_paths(df: pd.DataFrame, paths: Iterable[str]) -> pd.Series:
    """Flows → mask of rows whose path is one of ``paths``."""
    return df["path"].astype("string").isin(list(paths)).fillna(False).astype(bool)


def established(df: pd.DataFrame) -> pd.Series:
    """Flows → mask of TCP connections the responder accepted (and every UDP flow)."""
    st = df["conn_state"].astype("string")
    return ~st.isin(list(FAILED_STATES)).fillna(False).astype(bool)


def answered(df: pd.DataFrame) -> pd.Series:
    """Flows → mask of flows where the responder sent application bytes."""
    return df["resp_bytes"].astype("UInt64").fillna(0).astype("int64") > 0


SUCCESS: Final = frozenset(range(200, 300)) | {101}
"""HTTP statuses that mean the request was served (101 = an upgrade was accepted)."""

_FLOW_AS_REQUEST: Final = (
    ("method", "http_method"), ("uri", "http_path"), ("query", "http_query"),
    ("host", "http_host"), ("user_agent", "http_user_agent"), ("status_code", "http_status"),
    ("upgrade", "http_upgrade"), ("stream_protocol", "http_stream_protocol"),
    ("x_forwarded_uri", "http_forwarded_uri"), ("k8s_status_reason", "k8s_status_reason"),
    ("auth_kind", "auth_kind"), ("auth_fingerprint", "auth_fingerprint"),
    ("grpc_method", "grpc_method"), ("connect_target", "connect_target"),
)


def requests_of(ctx: Context, flow: Mapping[str, Any]) -> list[dict[str, Any]]:
    """A flow row → its HTTP requests as dicts of http-table columns (NA → None).

    Falls back to the flow's first-request columns when the http table has none for it.
    """
    if "req_by_uid" not in ctx._cache:
        idx: dict[str, list[dict[str, Any]]] = {}
        http = ctx.http.sort_values(["uid", "trans_depth"], kind="stable")
        for r in rows(http):
            idx.setdefault(str(r["uid"]), []).append({k: val(r, k) for k in r})
        ctx._cache["req_by_uid"] = idx
    index: dict[str, list[dict[str, Any]]] = ctx._cache["req_by_uid"]
    uid = str(flow["uid"])
    found = index.get(uid)
    if found is not None:
        return found
    if val(flow, "http_method") is None and val(flow, "http_status") is None:
        index[uid] = []
        return index[uid]
    req = {k: val(flow, col) for k, col in _FLOW_AS_REQUEST}
    req["trans_depth"] = 1
    index[uid] = [req]
    return index[uid]
