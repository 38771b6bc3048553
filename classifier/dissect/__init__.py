"""Dissectors: what each flow's first bytes say.

``dissect(flows)`` runs on the flow table's reassembled payload prefixes (orig_payload,
resp_payload). Each protocol is one module (tls, http1, http2, ssh, dns) listed in
``registry.DISSECTORS`` and chosen by sniffing the bytes, never by port alone.

Performance (issue 4: dissection <= 25 % of the flow-table time). On the benchmark capture
(benchmarks/data/bench-1x.pcap: 12,810 flows = 6,000 DNS, 3,350 plaintext HTTP probes, 3,330
TLS, 130 without payload), CPU seconds after ``classifier.flows.assemble`` in one process on
the shared 2-core box: before ~100-130 us per flow (1.3-1.7 s, 50-66 % of assemble); now
~15-22 us per flow (0.19-0.28 s). Per protocol, warm: TLS ~41 us, DNS ~6 us, a distinct HTTP
exchange ~35-40 us, a repeated one ~1 us. What makes it cheap:

- one pass over the payload columns; flows whose two prefixes together are at most
  MEMO_MAX_BYTES and byte-identical share one dissection per call (on the benchmark the 3,350
  probe flows are 23 distinct byte pairs; real probes repeat less, Date headers differ);
- TLS records scanned inline (no record objects, encrypted fragments never copied), hellos
  and certificate chains parsed by offsets; extension values, hello texts, JA4 and X.509
  facts cached by their bytes or shape (clients and servers repeat them on every connection);
- HTTP/1.x header blocks parsed once per distinct bytes (caches emptied when dissect ends:
  they hold credentials); DNS decided by its sniff, the header offset reused;
- tables built column-wise: flow dicts transposed per key shape, Arrow strings and masked
  bool/uint columns made straight from the values, the detail tables' identity columns taken
  from the flow table by position; the garbage collector stays off until the tables exist.

Profile with ``py-spy record`` or cProfile on ``dissect(assemble([...]).flows)``; compare CPU
seconds, not wall time, on a shared machine.
"""

from __future__ import annotations

import gc
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from classifier import schema
from classifier.dissect import http1
from classifier.dissect.engine import dissect_bytes
from classifier.dissect.facts import Facts, Malformed
from classifier.dissect.tables import Collector
from classifier.errors import MalformedPacketError

if TYPE_CHECKING:  # pandas loads with the first frame: ``dissect_arrow`` needs none of it
    import pandas as pd
    import pyarrow as pa

log = logging.getLogger("kubewire.dissect")

MEMO_MAX_BYTES: Final = 4096
"""Flows whose two prefixes together are at most this long share one dissection per distinct
byte pair within a dissect() call (probes and health checks repeat byte for byte); longer
prefixes are rarely equal and not worth hashing."""


@dataclass(frozen=True, slots=True)
class Dissection:
    """flows (FLOW_BASE + FLOW_DISSECT columns) and the detail tables tls, certificates, http."""

    flows: pd.DataFrame
    tls: pd.DataFrame
    certificates: pd.DataFrame
    http: pd.DataFrame


def _value(value: Any) -> Any:
    """A cell → None when missing (None, NA, NaN, NaT), else the value."""
    import pandas as pd

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


def dissect_arrow(flows: pa.Table, *, strict: bool = False) -> pa.Table:
    """Flows as an Arrow table (FLOW_BASE, as ``flows.build.build_arrow`` makes them) → the
    same with the FLOW_DISSECT columns appended: ``dissect(...).flows`` without pandas (no
    detail tables)."""
    import pyarrow as pa

    captures, frames = flows["capture"], flows["first_frame"]

    def where(i: int) -> tuple[str, int]:
        return str(captures[i].as_py() or ""), int(frames[i].as_py() or 0)

    gc_enabled = gc.isenabled()
    gc.disable()  # as in ``dissect``
    try:
        col = _collect(flows["orig_payload"].to_pylist(), flows["resp_payload"].to_pylist(),
                       where, strict)
        out = col.flow_arrow()
    finally:
        if gc_enabled:
            gc.enable()
    return pa.table({**dict(zip(flows.column_names, flows.columns, strict=True)), **out})


def _collect(origs: list[Any], resps: list[Any], where: Callable[[int], tuple[str, int]],
             strict: bool) -> Collector:
    """Each flow's two payload prefixes → their facts collected (reasons logged); the HTTP
    caches are emptied afterwards (they hold credentials)."""
    col = Collector()
    reasons: Counter[str] = Counter()
    try:
        _dissect_rows(col, origs, resps, where, reasons, strict)
    finally:
        http1.forget()
    if reasons:
        log.info("dissect: %d flows, reasons: %s", len(origs),
                 ", ".join(f"{k}={v}" for k, v in reasons.most_common()))
    return col


def _base(flows: pd.DataFrame) -> dict[str, pd.Series[Any]]:
    """The FLOW_BASE columns of the input by name, conformed (skipped when they already are:
    the common case)."""
    names = schema.FLOW_BASE.names
    if list(flows.columns[:len(names)]) != names or any(
            str(dt) != t for dt, t in zip(flows.dtypes.iloc[:len(names)],
                                          schema.FLOW_BASE.dtypes.values(), strict=True)):
        flows = schema.conform(flows[[c for c in names if c in flows.columns]], schema.FLOW_BASE)
    return {c: flows[c] for c in names}


def _dissect_rows(col: Collector, origs: list[Any], resps: list[Any],
                  where: Callable[[int], tuple[str, int]], reasons: Counter[str],
                  strict: bool) -> None:
    add = col.add
    memo: dict[tuple[bytes, bytes], Facts] = {}
    for i, orig in enumerate(origs):
        resp = resps[i]
        if type(orig) is not bytes:
            orig = _bytes(orig)
        if type(resp) is not bytes:
            resp = _bytes(resp)
        small = len(orig) + len(resp) <= MEMO_MAX_BYTES
        if small:
            facts = memo.get((orig, resp))
            if facts is not None:
                add(facts)
                err = facts.flow.get("dissect_error")
                if err:
                    reasons[err] += 1
                continue
        try:
            facts = dissect_bytes(orig, resp)
        except Exception:  # noqa: BLE001 - rare: rerun through the error paths, with the place
            facts = dissect_flow_bytes(orig, resp, strict=strict, where=where(i))
        else:
            if small:
                memo[orig, resp] = facts
        err = facts.flow.get("dissect_error")
        if err:
            reasons[err] += 1
        add(facts)


def dissect(flows: pd.DataFrame, *, strict: bool = False, tables: bool = True) -> Dissection:
    """Flow table with payload prefixes → flows with dissection columns + detail tables.

    Returns the flows conformed to FLOW_BASE + FLOW_DISSECT, and the tls, certificates and
    http tables (schema.TLS, CERTIFICATES, HTTP; empty without ``tables``, for callers that
    want only the flows). With ``strict`` the first invalid flow raises MalformedPacketError
    (capture and first frame of the flow).
    """
    import pandas as pd

    n = len(flows)

    def column(name: str) -> list[Any]:
        return flows[name].tolist() if name in flows.columns else [None] * n

    def where(i: int) -> tuple[str, int]:
        capture = flows["capture"].iloc[i] if "capture" in flows.columns else None
        frame = flows["first_frame"].iloc[i] if "first_frame" in flows.columns else None
        return str(_value(capture) or ""), int(_value(frame) or 0)

    def identity(name: str, at: list[int]) -> pd.Series[Any]:
        if name not in flows.columns:
            return pd.Series([None] * len(at), dtype=object)
        return flows[name].iloc[at].reset_index(drop=True)

    # Facts and the tables built from them hold no reference cycles; collecting while the flow
    # table's millions of objects sit on the heap only costs time (full collections rescan
    # them all), so the collector stays off until the tables are built.
    gc_enabled = gc.isenabled()
    gc.disable()
    try:
        col = _collect(column("orig_payload"), column("resp_payload"), where, strict)
        out = schema.frame_of({**_base(flows), **col.flow_columns()}, n)
        if not tables:
            return Dissection(flows=out, tls=schema.empty(schema.TLS),
                              certificates=schema.empty(schema.CERTIFICATES),
                              http=schema.empty(schema.HTTP))
        return Dissection(flows=out, tls=col.tls(identity),
                          certificates=col.certificates(identity), http=col.http(identity))
    finally:
        if gc_enabled:
            gc.enable()
