"""Per-flow Facts → the flows' dissection columns and the tls / certificates / http tables."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

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


@dataclass(slots=True)
class Collector:
    """Accumulates Facts flow by flow (column lists, detail rows, certificate sightings)."""

    flows: list[dict[str, Any]] = field(default_factory=list)
    """Each flow's FLOW_DISSECT values (absent keys = NA)."""
    tls_rows: list[dict[str, Any]] = field(default_factory=list)
    http_rows: list[dict[str, Any]] = field(default_factory=list)
    certs: dict[str, _CertAgg] = field(default_factory=dict)
    cert_errors: int = 0

    def add(self, facts: Facts, ident: Sequence[Any]) -> None:
        """One flow's facts and its identity (uid, ts, orig_h, resp_h, resp_p)."""
        self.flows.append(facts.flow)
        base = dict(zip(IDENTITY, ident, strict=True))
        for row in facts.tls:
            self.tls_rows.append({**base, **row})
        for row in facts.http:
            self.http_rows.append({**base, **row})
        uid, ts, orig_h, resp_h = ident[0], ident[1], ident[2], ident[3]
        for s in facts.certs:
            fp = x509.fingerprint_of(s.der)
            agg = self.certs.get(fp)
            if agg is None:
                try:
                    agg = self.certs[fp] = _CertAgg(x509.parse(s.der))
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

    def flow_columns(self, *, conformed: bool = True) -> pd.DataFrame:
        """The FLOW_DISSECT columns, one row per flow added, in order (object dtype columns
        when not ``conformed``, for a caller that conforms the joined table once)."""
        names = schema.FLOW_DISSECT.names
        if not self.flows:
            return schema.empty(schema.FLOW_DISSECT)
        frame = pd.DataFrame.from_records(self.flows, columns=names)
        return schema.conform(frame, schema.FLOW_DISSECT) if conformed else frame

    def tls(self) -> pd.DataFrame:
        """schema.TLS table."""
        return schema.conform(self.tls_rows or None, schema.TLS)

    def http(self) -> pd.DataFrame:
        """schema.HTTP table."""
        return schema.conform(self.http_rows or None, schema.HTTP)

    def certificates(self) -> pd.DataFrame:
        """schema.CERTIFICATES table: one row per fingerprint, with where it was seen."""
        rows = []
        for fp, agg in self.certs.items():
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
