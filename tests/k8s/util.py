"""Build dissected flow frames for tagging tests, as the flows and dissect stages would."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from classifier import schema

_TABLE = schema.FLOW_BASE + schema.FLOW_DISSECT
_n = 0


def flow(orig_h: str, resp_h: str, resp_p: int, **kw: Any) -> dict[str, Any]:
    """One flow row with sensible defaults: an established TCP connection."""
    global _n
    _n += 1
    row: dict[str, Any] = {
        "uid": kw.pop("uid", f"Ctest{_n:013d}"), "ts": pd.Timestamp("2026-11-27T10:00:00Z"),
        "duration": 1.0, "orig_h": orig_h, "orig_p": kw.pop("orig_p", 40000 + _n % 20000),
        "resp_h": resp_h, "resp_p": resp_p, "proto": "tcp", "orig_bytes": 500, "resp_bytes": 900,
        "conn_state": "SF", "orig_burst_interval": float("nan"), "app_proto": "unknown",
    }
    row.update(kw)
    return row


def tls(orig_h: str, resp_h: str, resp_p: int, version: str = "TLSv1.3", **kw: Any) -> dict[str, Any]:
    """A TLS flow."""
    return flow(orig_h, resp_h, resp_p, app_proto="tls", tls_version=version, **kw)


def http(orig_h: str, resp_h: str, resp_p: int, method: str = "GET", path: str = "/",
         status: int = 200, **kw: Any) -> dict[str, Any]:
    """A plaintext HTTP/1.1 flow with one request."""
    kw.setdefault("app_proto", "http")
    return flow(orig_h, resp_h, resp_p, http_method=method, http_path=path,
                http_status=status, http_requests=1, **kw)


def frame(rows: Iterable[Mapping[str, Any]]) -> pd.DataFrame:
    """Rows → a FLOW_BASE + FLOW_DISSECT frame."""
    return schema.conform(list(rows), _TABLE)
