"""Per-flow Facts → the flows' dissection columns and the tls / certificates / http tables.

Built column-wise: the collector keeps each flow's sparse dict and each detail row with the
position of its flow; every column is made once at the end (Arrow strings straight from the
Python values), and the detail tables take their identity columns from the flow table by
position instead of copying them row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from classifier import schema
from classifier.dissect import x509
from classifier.dissect.facts import Facts, Malformed

IDENTITY = ("uid", "ts", "orig_h", "resp_h", "resp_p")


@dataclass(slots=True)
class _CertAgg:
    info: x509.CertInfo
    roles: set[str] = field(default_factory=set)
    uids: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    first_seen: Any = None


_ARROW_STRINGS = pd.StringDtype().storage == "pyarrow" and pd.StringDtype() == "string"


def _string_array(values: Any) -> Any:
    """str/None values → the 'string' column (Arrow-backed when pandas' default is Arrow)."""
    if _ARROW_STRINGS:
        try:
            return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
        except (pa.ArrowException, TypeError, ValueError):
            pass  # a non-str value: let pandas convert it as astype would
    return pd.Series(values, dtype=object).astype("string").array


def _column(values: Any, dtype: str) -> pd.Series[Any]:
    """Python values (None = missing) → a column of the schema dtype, as conform would make it."""
    if dtype == "string":
        return pd.Series(_string_array(values), copy=False)
    if dtype == "object" or dtype == schema.UTC_TS:
        return _conform_one(pd.DataFrame({"x": pd.Series(values, dtype=object)}),
                            schema.Column("x", dtype, ""))
    return pd.Series(values, dtype=object).astype(dtype)


def build(rows: list[dict[str, Any]], table: schema.Table,
          given: dict[str, pd.Series[Any]] | None = None) -> pd.DataFrame:
    """Sparse row dicts (absent key or None = NA) + ready columns → the table, equal to
    ``schema.conform(rows, table)``; the work grows with the values present, not rows × columns."""
    n = len(rows)
    if n == 0:
        return schema.empty(table)
    at: dict[str, list[int]] = {}
    values: dict[str, list[Any]] = {}
    for i, r in enumerate(rows):
        for k, v in r.items():
            if v is None:
                continue
            if k in at:
                at[k].append(i)
                values[k].append(v)
            else:
                at[k] = [i]
                values[k] = [v]
    extra = set(at) - set(table.names)
    if extra:
        raise ValueError(f"{table.name}: columns not in the schema: {sorted(extra)}")
    out: dict[str, Any] = {}
    for c in table.columns:
        name = c.name
        if given is not None and name in given:
            out[name] = _conform_one(pd.DataFrame({name: given[name]}), c)
        elif name in at:
            if len(at[name]) == n:
                column: Any = values[name]
            else:
                column = np.full(n, None, dtype=object)
                for i, v in zip(at[name], values[name], strict=True):
                    column[i] = v
            out[name] = _column(column, c.dtype)
        elif c.dtype == "string" and _ARROW_STRINGS:
            out[name] = pd.Series(pd.arrays.ArrowStringArray(pa.nulls(n, pa.large_string())),
                                  copy=False)
        else:
            out[name] = _conform_one(pd.DataFrame(index=range(n)), c)
    return pd.DataFrame(out)


def _conform_one(frame: pd.DataFrame, column: schema.Column) -> pd.Series[Any]:
    """One column as schema.conform makes it (from the frame's column, or all NA)."""
    return schema.conform(frame, schema.Table("column", (column,)))[column.name]


@dataclass(slots=True)
class Collector:
    """Accumulates Facts flow by flow (flow dicts, detail rows, certificate sightings)."""

    flows: list[dict[str, Any]] = field(default_factory=list)
    """Each flow's FLOW_DISSECT values (absent keys = NA)."""
    tls_rows: list[dict[str, Any]] = field(default_factory=list)
    tls_at: list[int] = field(default_factory=list)
    """Position (in ``flows``) of the flow of each TLS row."""
    http_rows: list[dict[str, Any]] = field(default_factory=list)
    http_at: list[int] = field(default_factory=list)
    sightings: list[tuple[int, Facts]] = field(default_factory=list)
    """(position, facts) of the flows that showed certificates."""
    cert_errors: int = 0

    def add(self, facts: Facts) -> None:
        """The next flow's facts (flows are added in table order)."""
        i = len(self.flows)
        self.flows.append(facts.flow)
        if facts.tls:
            self.tls_rows.extend(facts.tls)
            self.tls_at.extend([i] * len(facts.tls))
        if facts.http:
            self.http_rows.extend(facts.http)
            self.http_at.extend([i] * len(facts.http))
        if facts.certs:
            self.sightings.append((i, facts))

    def flow_columns(self) -> pd.DataFrame:
        """The FLOW_DISSECT columns, one row per flow added, in order."""
        return build(self.flows, schema.FLOW_DISSECT)

    def tls(self, identity: Callable[[str, list[int]], pd.Series[Any]]) -> pd.DataFrame:
        """schema.TLS table; ``identity(column, positions)`` gives the flows' identity values."""
        return self._detail(self.tls_rows, self.tls_at, schema.TLS, identity)

    def http(self, identity: Callable[[str, list[int]], pd.Series[Any]]) -> pd.DataFrame:
        """schema.HTTP table."""
        return self._detail(self.http_rows, self.http_at, schema.HTTP, identity)

    @staticmethod
    def _detail(rows: list[dict[str, Any]], at: list[int], table: schema.Table,
                identity: Callable[[str, list[int]], pd.Series[Any]]) -> pd.DataFrame:
        if not rows:
            return schema.empty(table)
        return build(rows, table, {c: identity(c, at) for c in IDENTITY})

    def certificates(self, identity: Callable[[str, list[int]], pd.Series[Any]]) -> pd.DataFrame:
        """schema.CERTIFICATES table: one row per fingerprint, with where it was seen."""
        certs: dict[str, _CertAgg] = {}
        if self.sightings:
            at = [i for i, _ in self.sightings]
            uids, tss, origs, resps = (list(identity(c, at)) for c in IDENTITY[:4])
            for k, (_, facts) in enumerate(self.sightings):
                self._sight(certs, facts, (uids[k], tss[k], origs[k], resps[k]))
        rows = []
        for fp, agg in certs.items():
            i = agg.info
            rows.append({
                "fingerprint": fp, "subject": i.subject, "issuer": i.issuer,
                "common_name": i.common_name, "organization": i.organization, "sans": i.sans,
                "serial": i.serial, "not_before": i.not_before, "not_after": i.not_after,
                "key_type": i.key_type, "key_bits": i.key_bits, "is_ca": i.is_ca,
                "self_signed": i.self_signed, "kubelet_self_signed": i.kubelet_self_signed,
                "seen_as": "both" if len(agg.roles) > 1 else next(iter(agg.roles)),
                "uids": list(agg.uids), "hosts": ",".join(agg.hosts) or None,
                "first_seen": agg.first_seen,
            })
        return schema.conform(rows or None, schema.CERTIFICATES)

    def _sight(self, certs: dict[str, _CertAgg], facts: Facts, ident: Sequence[Any]) -> None:
        uid, ts, orig_h, resp_h = ident
        for s in facts.certs:
            fp = x509.fingerprint_of(s.der)
            agg = certs.get(fp)
            if agg is None:
                try:
                    agg = certs[fp] = _CertAgg(x509.parse(s.der))
                except Malformed:
                    self.cert_errors += 1
                    continue
            agg.roles.add(s.role)
            if not agg.uids or agg.uids[-1] != uid:
                agg.uids.append(uid)
            host = resp_h if (s.role == "server") != facts.swapped else orig_h
            if host is not None and host not in agg.hosts:
                agg.hosts.append(host)
            if ts is not None and not pd.isna(ts) and (agg.first_seen is None or ts < agg.first_seen):
                agg.first_seen = ts
