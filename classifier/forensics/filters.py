"""Flow filters shared by every command: --since/--until, --host, --path, --where.

Semantics (documented in docs/forensics.md):

- ``since``/``until``: a flow is kept when its lifetime ``[ts, ts + duration]`` overlaps the
  window (a long watch connection that is open during the window is part of it). A time is an
  ISO 8601 timestamp (no zone = UTC), Unix epoch seconds (``1700000000.25``, as tshark's
  ``frame.time_epoch``), ``+DURATION`` after the capture start or ``-DURATION`` before the
  capture end. DURATION is ``1h30m``, ``5m``, ``30s``, ``1.5s``, ``250ms``, ``2d``.
  The capture start is the earliest flow ``ts``; the end the latest flow end.
- ``hosts``: an address (any IPv4/IPv6 spelling), a CIDR block, or a name; a flow matches when
  either endpoint matches (``orig_h``/``resp_h`` for addresses, ``client_name``/``server_name``
  for names, where ``etcd-0`` also matches ``kube-system/etcd-0``). Several hosts: any of them.
- ``paths``: control-plane path names (``path`` column); several: any of them.
- ``where``: a safe subset of pandas query syntax (see :mod:`classifier.forensics.query`).

All constraints are combined with AND.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from classifier.errors import FilterError
from classifier.forensics import query

_DURATION: Final = re.compile(r"(\d+(?:\.\d+)?)(ms|us|ns|d|h|m|s)")
_UNIT_NS: Final = {"d": 86_400 * 10**9, "h": 3600 * 10**9, "m": 60 * 10**9, "s": 10**9,
                   "ms": 10**6, "us": 10**3, "ns": 1}
_EPOCH: Final = re.compile(r"\d{9,11}(?:\.\d{1,9})?")


@dataclass(frozen=True, slots=True)
class FlowFilter:
    """A selection of flows; every field None/empty means 'no constraint'."""

    since: str | None = None
    """Absolute ISO time, epoch seconds, '+30s' after the capture start, '-5m' before its end."""
    until: str | None = None
    """Same forms as ``since``."""
    hosts: tuple[str, ...] = ()
    """Addresses, CIDR blocks or names (node, namespace/pod, pod)."""
    paths: tuple[str, ...] = ()
    """Control-plane path names."""
    where: str | None = None
    """A pandas-style query over the flow table (safe subset)."""

    def describe(self) -> dict[str, Any]:
        """The filter → a JSON-ready dict of the constraints set."""
        return {k: v for k, v in (("since", self.since), ("until", self.until),
                                  ("hosts", list(self.hosts)), ("paths", list(self.paths)),
                                  ("where", self.where)) if v}

    @property
    def empty(self) -> bool:
        """True when the filter selects everything."""
        return not self.describe()


def apply_filter(flows: pd.DataFrame, flt: FlowFilter, *,
                 start: pd.Timestamp | None = None,
                 end: pd.Timestamp | None = None) -> pd.DataFrame:
    """Tagged flows + filter → the selected flows (same columns, index reset).

    ``start``/``end`` anchor relative times; by default the flows' own first start / last end.
    Raises :class:`FilterError` for a filter that cannot be understood.
    """
    return flows[filter_mask(flows, flt, start=start, end=end)].reset_index(drop=True)


def filter_mask(flows: pd.DataFrame, flt: FlowFilter, *,
                start: pd.Timestamp | None = None,
                end: pd.Timestamp | None = None) -> pd.Series:
    """Flows + filter → a boolean mask aligned with ``flows`` (True = selected)."""
    mask = pd.Series(True, index=flows.index, dtype=bool)
    if flt.since is not None or flt.until is not None:
        ts = pd.to_datetime(flows["ts"], utc=True)
        dur = pd.to_timedelta(pd.to_numeric(flows["duration"], errors="coerce").fillna(0.0),
                              unit="s")
        ends = ts + dur
        if start is None:
            start = ts.min() if len(ts) else None
        if end is None:
            end = ends.max() if len(ends) else None
        since = parse_time(flt.since, start, end) if flt.since is not None else None
        until = parse_time(flt.until, start, end) if flt.until is not None else None
        if since is not None and until is not None and since > until:
            raise FilterError(f"--since {flt.since!r} is after --until {flt.until!r}")
        if since is not None:
            mask &= (ends >= since).fillna(False).astype(bool)
        if until is not None:
            mask &= (ts <= until).fillna(False).astype(bool)
    if flt.hosts:
        mask &= host_mask(flows, flt.hosts)
    if flt.paths:
        mask &= flows["path"].astype("string").isin(list(flt.paths)).fillna(False).astype(bool)
    if flt.where:
        mask &= query.select(flows, flt.where)
    return mask


def parse_time(text: str, start: pd.Timestamp | None,
               end: pd.Timestamp | None = None) -> pd.Timestamp | None:
    """A --since/--until value (+ capture start/end) → a UTC timestamp.

    Returns None for a relative time when there is no capture start/end (no flows at all).
    """
    value = text.strip()
    if not value:
        raise FilterError("empty time")
    if value[0] in "+-":
        offset = parse_duration(value[1:])
        anchor = start if value[0] == "+" else end
        if anchor is None:
            return None
        return anchor + offset if value[0] == "+" else anchor - offset
    if _EPOCH.fullmatch(value):
        whole, _, frac = value.partition(".")
        ns = int(whole) * 10**9 + int((frac + "0" * 9)[:9])
        return pd.Timestamp(ns, unit="ns", tz="UTC")
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise FilterError(f"time {text!r}: not ISO 8601, epoch seconds, or +/-DURATION "
                          "(e.g. 2024-05-01T12:00:00Z, +5m, -30s)") from exc
    if pd.isna(ts):
        raise FilterError(f"time {text!r}: not a time")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def parse_duration(text: str) -> pd.Timedelta:
    """'1h30m', '5m', '1.5s', '250ms' → a Timedelta; FilterError otherwise."""
    value = text.strip().lower()
    pos = 0
    total = 0
    for m in _DURATION.finditer(value):
        if m.start() != pos:
            break
        number, unit = m.groups()
        whole, _, frac = number.partition(".")
        scale = _UNIT_NS[unit]
        total += int(whole) * scale
        if frac:
            total += int(frac) * scale // 10 ** len(frac)
        pos = m.end()
    if not value or pos != len(value):
        raise FilterError(f"duration {text!r}: use forms like 30s, 5m, 1h30m, 250ms, 2d")
    return pd.Timedelta(total, unit="ns")


def host_mask(flows: pd.DataFrame, hosts: tuple[str, ...] | list[str]) -> pd.Series:
    """Flows + addresses/CIDRs/names → True where either endpoint matches any of them."""
    mask = pd.Series(False, index=flows.index, dtype=bool)
    for host in hosts:
        spec = host.strip()
        if not spec:
            raise FilterError("--host: empty value")
        net = _as_network(spec)
        if net is not None:
            for col in ("orig_h", "resp_h"):
                mask |= _in_network(flows[col], net)
            continue
        for col in ("client_name", "server_name"):
            names = flows[col].astype("string")
            hit = (names == spec) | names.str.endswith("/" + spec)
            mask |= hit.fillna(False).astype(bool)
    return mask


def _as_network(spec: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(spec.strip("[]"), strict=False)
    except ValueError:
        return None


def _in_network(addresses: pd.Series,
                net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> pd.Series:
    def hit(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            return ipaddress.ip_address(value) in net
        except ValueError:
            return False

    uniques = {v: hit(v) for v in addresses.dropna().unique()}
    return addresses.map(uniques).fillna(False).astype(bool)
