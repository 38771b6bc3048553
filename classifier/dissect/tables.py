"""Per-flow Facts → the flows' dissection columns and the tls / certificates / http tables.

Built column-wise: the collector keeps each flow's sparse dict and each detail row with the
position of its flow; every column is made once at the end (Arrow strings straight from the
Python values), and the detail tables take their identity columns from the flow table by
position instead of copying them row by row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from classifier import schema
from classifier.dissect import x509
from classifier.dissect.facts import Facts, Malformed

if TYPE_CHECKING:  # pandas loads with the first frame: ``Collector.flow_arrow`` needs none
    import pandas as pd

IDENTITY = ("uid", "ts", "orig_h", "resp_h", "resp_p")


@dataclass(slots=True)
class _CertAgg:
    info: x509.CertInfo
    roles: set[str] = field(default_factory=set)
    uids: list[str] = field(default_factory=list)
    hosts: list[str] = field(default_factory=list)
    first_seen: Any = None


def _arrow_strings() -> bool:
    """pandas' 'string' dtype is Arrow-backed (checked per call: the option can change)."""
    import pandas as pd

    return bool(pd.StringDtype().storage == "pyarrow")


def _string_array(values: Any) -> Any:
    """str/None values → the 'string' column (Arrow-backed when pandas' default is Arrow)."""
    import pandas as pd

    if _arrow_strings():
        try:
            return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
        except (pa.ArrowException, TypeError, ValueError):
            pass  # a non-str value: let pandas convert it as astype would
    return pd.Series(values, dtype=object).astype("string").array


_MASKED: dict[str, Any] = {"boolean": np.bool_, "UInt16": np.uint16, "UInt32": np.uint32}


def _masked(column: Any, dtype: str) -> pd.Series[Any] | None:
    """Object values (None = missing) → a masked bool / small unsigned column; None when a
    value does not fit (the caller then converts as astype would, raising the same errors)."""
    import pandas as pd

    mask = np.array([v is None for v in column], dtype=np.bool_)
    present = column[~mask]
    if dtype == "boolean":
        if not all(type(v) is bool for v in present):
            return None
    else:
        if not all(type(v) is int for v in present):
            return None
        info = np.iinfo(_MASKED[dtype])
        if len(present) and (min(present) < info.min or max(present) > info.max):
            return None
    data = np.zeros(len(column), dtype=_MASKED[dtype])
    data[~mask] = present
    array = (pd.arrays.BooleanArray(data, mask) if dtype == "boolean"
             else pd.arrays.IntegerArray(data, mask))
    return pd.Series(array, copy=False)


def _column(values: Any, dtype: str) -> pd.Series[Any]:
    """Python values (None = missing) → a column of the schema dtype, as conform would make it."""
    import pandas as pd

    if dtype == "string":
        return pd.Series(_string_array(values), copy=False)
    if dtype in _MASKED:
        masked = _masked(values, dtype)
        if masked is not None:
            return masked
    if dtype == "object" or dtype == schema.UTC_TS:
        return _conform_one(pd.DataFrame({"x": pd.Series(values, dtype=object)}),
                            schema.Column("x", dtype, ""))
    return pd.Series(values, dtype=object).astype(dtype)


def _transpose(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Sparse row dicts → {key: object array of its values, None where absent}.

    Rows are grouped by their key sequence (a dissector yields few shapes), so the
    transposition itself runs in C (zip over each shape's value tuples).
    """
    n = len(rows)
    shapes: dict[tuple[str, ...], tuple[list[int], list[tuple[Any, ...]]]] = {}
    for i, r in enumerate(rows):
        shape = tuple(r)
        group = shapes.get(shape)
        if group is None:
            group = shapes[shape] = ([], [])
        group[0].append(i)
        group[1].append(tuple(r.values()))
    columns: dict[str, Any] = {}
    for shape, (at, values) in shapes.items():
        where = np.array(at, dtype=np.intp)
        for key, column_values in zip(shape, zip(*values, strict=True), strict=True):
            column = columns.get(key)
            if column is None:
                column = columns[key] = np.full(n, None, dtype=object)
            cells = np.empty(len(column_values), dtype=object)
            cells[:] = column_values  # element by element: strings and tuples stay objects
            column[where] = cells
    return columns


def build(rows: list[dict[str, Any]], table: schema.Table,
          given: dict[str, pd.Series[Any]] | None = None) -> pd.DataFrame:
    """Sparse row dicts (absent key or None = NA) + ready columns → the table, equal to
    ``schema.conform(rows, table)``."""
    if not rows:
        return schema.empty(table)
    return schema.frame_of(build_columns(rows, table, given), len(rows))


def build_columns(rows: list[dict[str, Any]], table: schema.Table,
                  given: dict[str, pd.Series[Any]] | None = None) -> dict[str, pd.Series[Any]]:
    """Sparse row dicts + ready columns → the table's columns by name (``build`` without the
    frame)."""
    import pandas as pd

    n = len(rows)
    if n == 0:
        return {c.name: schema.na_column(c.dtype, 0) for c in table.columns}
    columns = _transpose(rows)
    schema.check_names(columns, table)
    out: dict[str, Any] = {}
    for c in table.columns:
        name = c.name
        if given is not None and name in given:
            g = given[name]
            out[name] = g if str(g.dtype) == c.dtype else _conform_one(pd.DataFrame({name: g}), c)
        elif name in columns:
            out[name] = _column(columns[name], c.dtype)
        else:
            out[name] = schema.na_column(c.dtype, n)
    return out


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

    def flow_columns(self) -> dict[str, pd.Series[Any]]:
        """The FLOW_DISSECT columns by name, one row per flow added, in order."""
        return build_columns(self.flows, schema.FLOW_DISSECT)

    def flow_arrow(self) -> dict[str, pa.Array]:
        """The FLOW_DISSECT columns as Arrow arrays (``schema.arrow_column``), without pandas."""
        n = len(self.flows)
        columns = _transpose(self.flows)
        schema.check_names(columns, schema.FLOW_DISSECT)
        return {c.name: schema.arrow_column(columns.get(c.name), c.dtype, n)
                for c in schema.FLOW_DISSECT.columns}

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
            uids, origs, resps = (identity(c, at).tolist() for c in ("uid", "orig_h", "resp_h"))
            seen: dict[str, list[int]] = {}
            for k, (_, facts) in enumerate(self.sightings):
                self._sight(certs, seen, k, facts, (uids[k], origs[k], resps[k]))
            ts = identity("ts", at)
            for fp, ks in seen.items():
                certs[fp].first_seen = _earliest(ts, ks)
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

    def _sight(self, certs: dict[str, _CertAgg], seen: dict[str, list[int]], k: int,
               facts: Facts, ident: Sequence[Any]) -> None:
        uid, orig_h, resp_h = ident
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
            seen.setdefault(fp, []).append(k)


def _earliest(ts: pd.Series[Any], at: list[int]) -> Any:
    """The earliest non-missing timestamp among positions ``at`` (None when there is none)."""
    import pandas as pd

    if ts.dtype.kind == "M":
        first = ts.iloc[at].min()
        return None if pd.isna(first) else first
    earliest = None
    for v in ts.iloc[at]:
        if v is not None and not pd.isna(v) and (earliest is None or v < earliest):
            earliest = v
    return earliest
