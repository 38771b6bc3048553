"""Dissectors: what each flow's first bytes say.

``dissect(flows)`` runs on the flow table's reassembled payload prefixes (orig_payload,
resp_payload). Each protocol is one module (tls, http1, http2, ssh, dns) listed in
``registry.DISSECTORS`` and chosen by sniffing the bytes, never by port alone.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from classifier import schema
from classifier.dissect.engine import dissect_bytes
from classifier.dissect.facts import Facts, Malformed
from classifier.dissect.tables import Collector
from classifier.errors import MalformedPacketError

log = logging.getLogger("kubewire.dissect")


@dataclass(frozen=True, slots=True)
class Dissection:
    """flows (FLOW_BASE + FLOW_DISSECT columns) and the detail tables tls, certificates, http."""

    flows: pd.DataFrame
    tls: pd.DataFrame
    certificates: pd.DataFrame
    http: pd.DataFrame


def _value(value: Any) -> Any:
    """A cell → None when missing (None, NA, NaN, NaT), else the value."""
    try:
        return None if value is None or pd.isna(value) else value
    except (TypeError, ValueError):  # array-likes: not a missing scalar
        return value


def _bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return b""


def dissect_flow_bytes(orig: bytes, resp: bytes, *, strict: bool = False,
                       where: tuple[str, int] = ("", 0)) -> Facts:
    """One flow's first bytes → Facts; never raises unless ``strict`` (then MalformedPacketError).

    Invalid bytes are recorded as a snake_case reason in ``dissect_error``.
    """
    try:
        return dissect_bytes(orig, resp)
    except Malformed as exc:
        if strict:
            raise MalformedPacketError(where[0], where[1], exc.reason) from exc
        facts = Facts(flow={"app_proto": _sniffed_name(orig, resp), "dissect_error": exc.reason})
        return facts
    except Exception as exc:  # the dissector boundary: a bug must not lose a whole capture
        if strict:
            raise
        log.warning("dissector bug on %s frame %s: %s", where[0], where[1], exc, exc_info=True)
        return Facts(flow={"app_proto": "unknown",
                           "dissect_error": f"internal_error_{type(exc).__name__.lower()}"})


def _sniffed_name(orig: bytes, resp: bytes) -> str:
    from classifier.dissect.registry import choose

    d, _ = choose(orig, resp)
    return d.name if d is not None else "unknown"


def _base(flows: pd.DataFrame) -> pd.DataFrame:
    """The FLOW_BASE part of the input, conformed (skipped when it already is: the common case)."""
    names = schema.FLOW_BASE.names
    if list(flows.columns[:len(names)]) == names and all(
            str(flows[c].dtype) == t for c, t in schema.FLOW_BASE.dtypes.items()):
        return flows[names].reset_index(drop=True)
    return schema.conform(flows[[c for c in names if c in flows.columns]], schema.FLOW_BASE)


def _dissect_rows(col: Collector, idents: Iterable[tuple[Any, ...]], origs: list[Any],
                  resps: list[Any], captures: list[Any], frames: list[Any],
                  reasons: Counter[str], strict: bool) -> None:
    for i, ident in enumerate(idents):
        where = (str(_value(captures[i]) or ""), int(_value(frames[i]) or 0))
        facts = dissect_flow_bytes(_bytes(origs[i]), _bytes(resps[i]), strict=strict, where=where)
        err = facts.flow.get("dissect_error")
        if err:
            reasons[err] += 1
        col.add(facts, ident)


def dissect(flows: pd.DataFrame, *, strict: bool = False) -> Dissection:
    """Flow table with payload prefixes → flows with dissection columns + detail tables.

    Returns the flows conformed to FLOW_BASE + FLOW_DISSECT, and the tls, certificates and
    http tables (schema.TLS, CERTIFICATES, HTTP). With ``strict`` the first invalid flow raises
    MalformedPacketError (capture and first frame of the flow).
    """
    col = Collector()
    n = len(flows)

    def column(name: str) -> list[Any]:
        return list(flows[name]) if name in flows.columns else [None] * n

    origs, resps = column("orig_payload"), column("resp_payload")
    captures, frames = column("capture"), column("first_frame")
    idents = zip(column("uid"), column("ts"), column("orig_h"), column("resp_h"),
                 column("resp_p"), strict=True)
    reasons: Counter[str] = Counter()
    # Facts hold no reference cycles; collecting while the flow table's millions of objects
    # sit on the heap only costs time (full collections rescan them all).
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        _dissect_rows(col, idents, origs, resps, captures, frames, reasons, strict)
    finally:
        if gc_enabled:
            gc.enable()
    if reasons:
        log.info("dissect: %d flows, reasons: %s", n,
                 ", ".join(f"{k}={v}" for k, v in reasons.most_common()))
    return Dissection(
        flows=pd.concat([_base(flows), col.flow_columns()], axis=1),
        tls=col.tls(),
        certificates=col.certificates(),
        http=col.http(),
    )
