"""Builders of small tagged flow / http / tls / certificate frames for rule tests."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd

from classifier import schema
from classifier.rules import evaluate
from classifier.rules.base import Context

_uid = itertools.count(1)
T0 = pd.Timestamp("2026-11-27T10:00:00Z")


def flow(**kw: Any) -> dict[str, Any]:
    """One flow row with sensible defaults (an established TCP flow with payload both ways)."""
    n = next(_uid)
    row: dict[str, Any] = {
        "uid": f"Ctest{n:013d}", "ts": T0 + pd.Timedelta(seconds=n), "duration": 1.0,
        "orig_h": "10.244.1.5", "orig_p": 40000 + n % 20000, "resp_h": "10.0.0.11",
        "resp_p": 6443, "proto": "tcp", "orig_pkts": 5, "resp_pkts": 5, "orig_bytes": 300,
        "resp_bytes": 900, "conn_state": "SF", "capture": "lab.pcap", "first_frame": n * 10,
        "last_frame": n * 10 + 9,
        # schema.conform cannot yet fill a missing float64 column with NA: give them all
        "orig_burst_interval": float("nan"), "path_confidence": 1.0,
    }
    row.update(kw)
    return row


def flows(*rows: dict[str, Any]) -> pd.DataFrame:
    """Flow rows → a schema.FLOWS frame."""
    return schema.conform(list(rows), schema.FLOWS)


def http(*rows: dict[str, Any]) -> pd.DataFrame:
    """HTTP rows → a schema.HTTP frame."""
    return schema.conform(list(rows), schema.HTTP)


def req(f: dict[str, Any], **kw: Any) -> dict[str, Any]:
    """An http-table row for flow ``f``."""
    row = {"uid": f["uid"], "ts": f["ts"], "orig_h": f["orig_h"], "resp_h": f["resp_h"],
           "resp_p": f["resp_p"], "trans_depth": 1, "version": "HTTP/1.1", "method": "GET",
           "uri": "/"}
    row.update(kw)
    return row


def ctx(flow_rows: list[dict[str, Any]], http_rows: list[dict[str, Any]] | None = None,
        certs: list[dict[str, Any]] | None = None) -> Context:
    """Rows → a Context."""
    return Context.build(flows(*flow_rows), http=http(*(http_rows or [])),
                         certificates=schema.conform(certs or [], schema.CERTIFICATES))


def run(rule: Any, flow_rows: list[dict[str, Any]], http_rows: list[dict[str, Any]] | None = None,
        certs: list[dict[str, Any]] | None = None) -> pd.DataFrame:
    """One rule over rows → its findings frame (through evaluate, as in production)."""
    return evaluate(flows(*flow_rows), http=http(*(http_rows or [])),
                    certificates=schema.conform(certs or [], schema.CERTIFICATES),
                    rules=[rule])
