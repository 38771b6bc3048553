"""The apiserver-proxy chain: a client's request to the apiserver and the apiserver's request
to the pod, service or node it proxies to, linked when both legs are visible.

The apiserver's proxy leg (``/api/v1/namespaces/NS/pods/POD[:PORT]/proxy/...``,
``.../services/...``, ``/api/v1/nodes/NODE/proxy/...``) carries ``X-Forwarded-Uri`` (the
client's request path) and ``X-Forwarded-For`` (the client's address); see
k8s.io/apimachinery/pkg/util/proxy (``upgradeaware.go``). The client leg is found among the
flows from that client to that apiserver that are open when the proxy request is made:

- ``uri``: the client leg is plaintext and one of its requests has the forwarded path: certain;
- ``xff-time``: the client leg is encrypted, the client address comes from X-Forwarded-For and
  exactly one of its flows to the apiserver was open then (open at that instant first, else
  within ``TOLERANCE`` of it);
- ``ambiguous``: several such flows were open (``candidates`` counts them; the latest is named);
- ``none``: no client leg in the capture (only the proxy leg was captured).
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from classifier import schema

TOLERANCE: Final = pd.Timedelta(seconds=1)
"""Slack around the client leg's lifetime (timestamps of both legs come from one clock unless
the legs were merged from two capture points, where skew is already small)."""

PROXY_CHAINS: Final = schema.Table("proxy_chains", tuple(schema.Column(*c) for c in (
    ("ts", schema.UTC_TS, "time of the proxy leg's flow"),
    ("proxy_uid", "string", "flow uid of the apiserver → target leg"),
    ("apiserver_h", "string", "apiserver address (proxy leg originator)"),
    ("target_h", "string", "address the apiserver proxied to"),
    ("target_p", "UInt16", "port the apiserver proxied to"),
    ("target_name", "string", "node or namespace/pod of the target when known"),
    ("method", "string", "proxied request method"),
    ("forwarded_uri", "string", "X-Forwarded-Uri: the client's original request path"),
    ("status_code", "UInt16", "target's response status"),
    ("client_h", "string", "client address from X-Forwarded-For (first hop)"),
    ("client_uid", "string", "flow uid of the client → apiserver leg, when found"),
    ("client_name", "string", "client's node or namespace/pod when known"),
    ("client_tls", "string", "TLS version of the client leg (NA = plaintext or unknown)"),
    ("match", "string", "uri, xff-time, ambiguous, or none"),
    ("candidates", "UInt32", "client-leg flows open at the time"),
)))


def proxy_chains(flows: pd.DataFrame, http: pd.DataFrame) -> pd.DataFrame:
    """Tagged flows + HTTP table → one row per proxied request (PROXY_CHAINS columns)."""
    legs = http[http["x_forwarded_uri"].notna()] if len(http) else http
    if not len(legs):
        return schema.empty(PROXY_CHAINS)
    by_uid = flows.set_index(flows["uid"].astype(str))
    ts = pd.to_datetime(flows["ts"], utc=True)
    ends = ts + pd.to_timedelta(pd.to_numeric(flows["duration"], errors="coerce").fillna(0.0),
                                unit="s")
    rows = []
    for leg in legs.itertuples(index=False):
        uid = str(leg.uid)
        proxy = by_uid.loc[uid] if uid in by_uid.index else None
        if isinstance(proxy, pd.DataFrame):
            proxy = proxy.iloc[0]
        apiserver = str(leg.orig_h)
        client = _first_hop(leg.x_forwarded_for)
        when = pd.Timestamp(leg.ts)
        open_then = (flows["resp_h"] == apiserver) & (flows["uid"] != uid) \
            & (ts <= when + TOLERANCE) & (ends >= when - TOLERANCE)
        if client is not None:
            open_then &= flows["orig_h"] == client
        else:
            open_then &= flows["orig_h"] != apiserver
        cands = flows[open_then.fillna(False).astype(bool)]
        # Flows open exactly at that instant outrank those only within the tolerance.
        strict = cands[(ts[cands.index] <= when) & (ends[cands.index] >= when)]
        match, chosen = _choose(strict if len(strict) else cands, http,
                                str(leg.x_forwarded_uri), client is not None)
        rows.append({
            "ts": when, "proxy_uid": uid, "apiserver_h": apiserver,
            "target_h": leg.resp_h, "target_p": leg.resp_p,
            "target_name": None if proxy is None else proxy.get("server_name"),
            "method": leg.method, "forwarded_uri": leg.x_forwarded_uri,
            "status_code": leg.status_code,
            "client_h": client if client is not None else
            (None if chosen is None else chosen["orig_h"]),
            "client_uid": None if chosen is None else chosen["uid"],
            "client_name": None if chosen is None else chosen.get("client_name"),
            "client_tls": None if chosen is None else chosen.get("tls_version"),
            "match": match, "candidates": len(strict) if len(strict) else len(cands),
        })
    frame = pd.DataFrame(rows)
    out = schema.conform(frame.astype(object).where(frame.notna(), None), PROXY_CHAINS)
    return out.sort_values(["ts", "proxy_uid"], kind="stable").reset_index(drop=True)


def _first_hop(xff: object) -> str | None:
    if xff is None or pd.isna(xff):
        return None
    first = str(xff).split(",")[0].strip()
    return first or None


def _choose(cands: pd.DataFrame, http: pd.DataFrame, uri: str,
            from_xff: bool) -> tuple[str, pd.Series | None]:
    """Candidate client legs → (match kind, chosen flow row)."""
    if not len(cands):
        return "none", None
    path = uri.split("?", 1)[0]
    clear = http[http["uid"].isin(cands["uid"]) & (http["uri"].astype("string") == path)]
    if len(clear):
        row = cands[cands["uid"] == clear["uid"].iloc[0]].iloc[0]
        return "uri", row
    latest = cands.sort_values("ts", kind="stable").iloc[-1]
    if len(cands) == 1 and from_xff:
        return "xff-time", latest
    return "ambiguous", latest
