"""Multi-point merge: the same connection seen at several capture points becomes one flow.

Captures of one incident are often taken on several nodes at once (client node and server
node, or a node and a router span port). Each capture point yields its own flow table; a
connection seen at two points must be one flow whose ``captures`` / ``capture_points`` list
every file and point that saw it. A flow seen at fewer points than were merged says so by its
shorter ``capture_points``.

Matching, conservative by design (a false merge hides a flow; a missed merge only shows it twice):

1. **Key**: protocol and the unordered pair of (address, port) endpoints. Flows carried in a
   tunnel are keyed on their inner addresses, so a VXLAN/Geneve view matches the bare view on
   the pod's veth. NAT'ed views (different addresses) are never merged; those with both ISNs
   equal at the same time are reported in :attr:`Merged.translated`.
2. **Clock skew**: pairs with the same key and *both* TCP ISNs equal (64 random bits, RFC 6528)
   within ``isn_window`` seconds are certain matches; the median of their start-time differences
   estimates each point's clock offset against the reference (the first frame).
3. **Time**: after removing that offset, a pair matches when its starts are within
   ``skew_tolerance`` seconds if both views saw the handshake, else when the lifetimes overlap
   within ``skew_tolerance`` (a view that began mid-connection starts later).
   Known ISNs must agree; a conflicting ISN is never merged.
4. One-to-one: each flow matches at most one flow of another point, best candidates first.

The merged row is the view of one *primary* point, whole: the one that saw the handshake,
then the one with more packets, then the earlier input. Its counters, history, frames and
payload prefixes are that point's (packets are not summed: both points saw the same packets).
Only columns the primary left empty (ISNs, tunnel, VLAN) are filled from other views with the
same orientation. Timestamps are never shifted: the estimated offsets are returned separately.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import pandas as pd

log = logging.getLogger("kubewire.flows.merge")

DEFAULT_SKEW_TOLERANCE: Final = 2.0
"""Seconds two views of one flow may differ after skew correction (NTP keeps nodes far closer)."""
ISN_WINDOW: Final = 600.0
"""Seconds within which equal ISN pairs are taken as one connection, whatever the skew."""
_FILL: Final = ("orig_isn", "resp_isn", "vlan", "tunnel", "tunnel_orig_h", "tunnel_resp_h",
                "tunnel_id")


@dataclass(frozen=True, slots=True)
class Merged:
    """Merge result: flows, where each input flow went, and each point's clock offset."""

    flows: pd.DataFrame
    """Merged flows, same columns and dtypes as the inputs, sorted by ts."""
    aliases: pd.DataFrame
    """One row per input flow: capture_point, uid (as seen there), merged_uid."""
    skew: dict[str, float] = field(default_factory=dict)
    """Capture point → seconds its clock runs ahead of the first point's (0 when unknown)."""
    translated: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        columns=["uid", "other_uid"], dtype="string"))
    """Pairs of merged uids that are likely one connection seen through NAT (different
    addresses, both ISNs equal, same time): reported, never merged."""


def merge_points(point_frames: Sequence[pd.DataFrame], *,
                 skew_tolerance: float = DEFAULT_SKEW_TOLERANCE) -> pd.DataFrame:
    """Flow tables, one per capture point → one flow table with shared connections merged."""
    return merge_views(point_frames, skew_tolerance=skew_tolerance).flows


def merge_views(point_frames: Sequence[pd.DataFrame], *,
                skew_tolerance: float = DEFAULT_SKEW_TOLERANCE,
                isn_window: float = ISN_WINDOW) -> Merged:
    """Flow tables, one per capture point → :class:`Merged` (flows, uid aliases, skew)."""
    if not point_frames:
        raise ValueError("merge_views needs at least one flow table")
    columns = list(point_frames[0].columns)
    names = _point_names(point_frames)
    views = [_view(f, i) for i, f in enumerate(point_frames)]
    # groups: one row per merged flow so far, in the reference clock.
    groups = views[0].assign(group=range(len(views[0])))
    members: list[list[tuple[int, int]]] = [[(0, int(r))] for r in views[0]["row"]]
    skew = {names[0]: 0.0}
    tol_ns = int(skew_tolerance * 1e9)
    nat_pairs: list[tuple[int, tuple[int, int]]] = []
    for j in range(1, len(views)):
        view = views[j]
        pairs = groups[["group", "key", "a_isn", "b_isn", "start", "end", "syn"]].merge(
            view[["row", "key", "a_isn", "b_isn", "start", "end", "syn"]], on="key",
            suffixes=("_g", "_v"))
        offset = _estimate_offset(pairs, int(isn_window * 1e9))
        skew[names[j]] = offset / 1e9
        taken = _match(pairs, offset, tol_ns, int(isn_window * 1e9))
        nat_pairs.extend((g, (j, r)) for g, r in _translated(groups, view, offset, tol_ns))
        matched_rows = set()
        for g, r in taken:
            members[g].append((j, r))
            matched_rows.add(r)
        new = view[~view["row"].isin(matched_rows)].copy()
        new["start"] -= offset
        new["end"] -= offset
        new["group"] = range(len(members), len(members) + len(new))
        members.extend([(j, int(r))] for r in new["row"])
        groups = pd.concat([groups, new], ignore_index=True)
        log.debug("point %s: %d of %d flows matched, clock offset %.6f s",
                  names[j], len(taken), len(view), offset / 1e9)
    flows, aliases = _assemble(point_frames, names, members, columns)
    keys = zip(aliases["capture_point"], aliases["uid"], strict=True)
    merged_uid = dict(zip(keys, aliases["merged_uid"], strict=True))
    first_uid = {}
    for g, group in enumerate(members):
        p, r = group[0]
        first_uid[g] = merged_uid.get((names[p], _uid(point_frames[p], r)))
    translated = pd.DataFrame(
        [(first_uid[g], merged_uid.get((names[p], _uid(point_frames[p], r))))
         for g, (p, r) in nat_pairs], columns=["uid", "other_uid"], dtype="string")
    translated = translated[translated["uid"] != translated["other_uid"]].drop_duplicates()
    if len(translated):
        log.info("%d connection(s) seen through NAT at another point (not merged)",
                 len(translated))
    return Merged(flows=flows, aliases=aliases, skew=skew,
                  translated=translated.reset_index(drop=True))


def _uid(frame: pd.DataFrame, row: int) -> Any:
    return frame["uid"].iloc[row] if "uid" in frame.columns else pd.NA


def _translated(groups: pd.DataFrame, view: pd.DataFrame, offset: int,
                tol_ns: int) -> list[tuple[int, int]]:
    """Flows with both ISNs equal to an existing flow's but other addresses → (group, row)."""
    def isn_pair(f: pd.DataFrame) -> pd.Series:
        lo = f[["a_isn", "b_isn"]].min(axis=1)
        hi = f[["a_isn", "b_isn"]].max(axis=1)
        return lo.astype(str) + "/" + hi.astype(str)

    g = groups[(groups["a_isn"] >= 0) & (groups["b_isn"] >= 0)]
    v = view[(view["a_isn"] >= 0) & (view["b_isn"] >= 0)]
    if g.empty or v.empty:
        return []
    pairs = g.assign(isns=isn_pair(g))[["group", "key", "isns", "start"]].merge(
        v.assign(isns=isn_pair(v))[["row", "key", "isns", "start"]], on="isns",
        suffixes=("_g", "_v"))
    near = (pairs["start_v"] - offset - pairs["start_g"]).abs() <= tol_ns
    pairs = pairs[near & (pairs["key_g"] != pairs["key_v"])]
    return [(int(a), int(b)) for a, b in zip(pairs["group"], pairs["row"], strict=True)]


def _point_names(frames: Sequence[pd.DataFrame]) -> list[str]:
    names: list[str] = []
    for i, f in enumerate(frames):
        name = None
        for col in ("capture_points", "captures", "capture"):
            if col in f.columns:
                vals = f[col].dropna().astype(str)
                if len(vals):
                    name = str(vals.iloc[0])
                    break
        name = name or f"point{i + 1}"
        while name in names:
            name = f"{name}#{i + 1}"
        names.append(name)
    return names


def _view(frame: pd.DataFrame, index: int) -> pd.DataFrame:
    """A flow table → the matching columns: key, canonical ISNs, start/end ns, handshake seen."""
    oh = frame["orig_h"].astype("string").fillna("")
    rh = frame["resp_h"].astype("string").fillna("")
    op = frame["orig_p"].astype("Int64").fillna(-1).astype(str)
    rp = frame["resp_p"].astype("Int64").fillna(-1).astype(str)
    orig_ep = oh + "|" + op
    resp_ep = rh + "|" + rp
    orig_first = (orig_ep <= resp_ep).astype(bool)
    proto = frame["proto"].astype("string").fillna("")
    key = proto + "/" + orig_ep.where(orig_first, resp_ep) + "/" + resp_ep.where(orig_first, orig_ep)
    oi = _isn(frame, "orig_isn")
    ri = _isn(frame, "resp_isn")
    start = pd.to_datetime(frame["ts"], utc=True).astype("int64")
    dur = pd.to_numeric(frame["duration"], errors="coerce").fillna(0.0)
    guessed = frame["orig_guessed"].astype("boolean").fillna(True) if "orig_guessed" in frame \
        else pd.Series(True, index=frame.index)
    return pd.DataFrame({
        "row": range(len(frame)),
        "key": key.to_numpy(),
        "a_isn": oi.where(orig_first, ri).to_numpy(),
        "b_isn": ri.where(orig_first, oi).to_numpy(),
        "orig_first": orig_first.to_numpy(),
        "start": start.to_numpy(),
        "end": (start + (dur * 1e9).astype("int64")).to_numpy(),
        "syn": (~guessed.astype(bool) & oi.ge(0)).to_numpy(),
        "point": index,
    })


def _isn(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame.columns:
        return pd.Series(-1, index=frame.index, dtype="int64")
    return frame[col].astype("Int64").fillna(-1).astype("int64")


def _estimate_offset(pairs: pd.DataFrame, window_ns: int) -> int:
    """Candidate pairs → median start difference of the pairs with both ISNs equal (ns)."""
    strong = pairs[(pairs["a_isn_g"] >= 0) & (pairs["b_isn_g"] >= 0)
                   & (pairs["a_isn_g"] == pairs["a_isn_v"]) & (pairs["b_isn_g"] == pairs["b_isn_v"])]
    delta = strong["start_v"] - strong["start_g"]
    delta = delta[delta.abs() <= window_ns]
    return int(delta.median()) if len(delta) else 0


def _match(pairs: pd.DataFrame, offset: int, tol_ns: int,
           window_ns: int) -> list[tuple[int, int]]:
    """Candidate pairs + clock offset → one-to-one (group, row) matches, best first."""
    if pairs.empty:
        return []
    p = pairs.copy()
    p["start_v"] -= offset
    p["end_v"] -= offset
    conflict = pd.Series(False, index=p.index)
    for side in ("a_isn", "b_isn"):
        g, v = p[side + "_g"], p[side + "_v"]
        conflict |= (g >= 0) & (v >= 0) & (g != v)
    both_isn = ((p["a_isn_g"] >= 0) & (p["b_isn_g"] >= 0)
                & (p["a_isn_g"] == p["a_isn_v"]) & (p["b_isn_g"] == p["b_isn_v"]))
    d_start = (p["start_v"] - p["start_g"]).abs()
    both_syn = p["syn_g"] & p["syn_v"]
    overlap = (p["start_v"] <= p["end_g"] + tol_ns) & (p["start_g"] <= p["end_v"] + tol_ns)
    ok = ~conflict & ((both_syn & (d_start <= tol_ns)) | (~both_syn & overlap))
    # Equal ISN pairs survive any skew the offset did not remove, within the estimate window.
    ok |= both_isn & (d_start <= window_ns)
    p = p[ok].assign(strength=both_isn[ok].astype(int), d=d_start[ok])
    p = p.sort_values(["strength", "d"], ascending=[False, True], kind="stable")
    used_g: set[int] = set()
    used_r: set[int] = set()
    out: list[tuple[int, int]] = []
    for g, r in zip(p["group"].tolist(), p["row"].tolist(), strict=True):
        if g in used_g or r in used_r:
            continue
        used_g.add(g)
        used_r.add(r)
        out.append((int(g), int(r)))
    return out


def _assemble(frames: Sequence[pd.DataFrame], names: list[str],
              members: list[list[tuple[int, int]]],
              columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Groups of (point, row) → merged flow rows (primary view + filled gaps) and aliases."""
    ranks = [_ranks(f, i) for i, f in enumerate(frames)]
    primaries = [max(group, key=lambda m: ranks[m[0]][m[1]]) for group in members]
    parts = []
    for i, f in enumerate(frames):
        sel = [(g, r) for g, (p, r) in enumerate(primaries) if p == i]
        if sel:
            part = f.iloc[[r for _, r in sel]].reindex(columns=columns)
            parts.append(part.assign(_group=[g for g, _ in sel]))
    out = pd.concat(parts, ignore_index=True) if parts else \
        frames[0].iloc[0:0].reindex(columns=columns).assign(_group=[])
    out = out.sort_values("_group", kind="stable").reset_index(drop=True)
    if "capture_points" in out.columns:
        out["capture_points"] = pd.Series(
            [names[p] for p, _ in primaries], dtype="string").to_numpy()
    for g, group in enumerate(members):
        if len(group) > 1:
            _combine(out, g, group, primaries[g], frames, names)
    for c in columns:
        if c not in frames[0].columns:
            continue
        want = frames[0][c].dtype
        if isinstance(want, pd.CategoricalDtype):
            out[c] = out[c].astype(object).astype("category")  # union of every point's values
        elif out[c].dtype != want:
            out[c] = out[c].astype(want)
    merged_uid = out["uid"].tolist() if "uid" in out.columns else [pd.NA] * len(out)
    aliases = pd.DataFrame(
        [{"capture_point": names[p],
          "uid": frames[p]["uid"].iloc[r] if "uid" in frames[p].columns else pd.NA,
          "merged_uid": merged_uid[g]}
         for g, group in enumerate(members) for p, r in group],
        columns=["capture_point", "uid", "merged_uid"]).astype("string")
    out = out.drop(columns="_group")
    if "ts" in out.columns and len(out):
        order = ["ts", "uid"] if "uid" in out.columns else ["ts"]
        out = out.sort_values(order, kind="stable").reset_index(drop=True)
    return out, aliases


def _combine(out: pd.DataFrame, g: int, group: list[tuple[int, int]], primary: tuple[int, int],
             frames: Sequence[pd.DataFrame], names: list[str]) -> None:
    """Fill merged row ``g`` of ``out``: union of captures and points, gaps from same-orientation views."""
    orient = _orientation(frames[primary[0]].iloc[primary[1]])
    captures: list[str] = []
    points: list[str] = []
    for p, r in sorted(group):
        other = frames[p].iloc[r]
        listed = other.get("captures")
        if listed is None or pd.isna(listed):
            listed = other.get("capture")
        for c in ("" if listed is None or pd.isna(listed) else str(listed)).split("|"):
            if c and c not in captures:
                captures.append(c)
        if names[p] not in points:
            points.append(names[p])
        if (p, r) == primary or _orientation(other) != orient:
            continue
        for col in _FILL:
            if col in out.columns and col in other.index and pd.isna(out.at[g, col]) \
                    and not pd.isna(other[col]):
                out.at[g, col] = other[col]
    if "captures" in out.columns and captures:
        out.at[g, "captures"] = "|".join(captures)
    if "capture_points" in out.columns:
        out.at[g, "capture_points"] = "|".join(points)


def _ranks(frame: pd.DataFrame, point: int) -> list[tuple[bool, int, int]]:
    """Flows of one point → primary-choice rank per row: handshake seen, packets, earlier input."""
    n = len(frame)
    guessed = frame["orig_guessed"].astype("boolean").fillna(True).astype(bool) \
        if "orig_guessed" in frame.columns else pd.Series(True, index=frame.index)
    pkts = pd.Series(0, index=frame.index, dtype="int64")
    for c in ("orig_pkts", "resp_pkts"):
        if c in frame.columns:
            pkts += frame[c].astype("Int64").fillna(0).astype("int64")
    return list(zip((~guessed).tolist(), pkts.tolist(), [-point] * n, strict=True))


def _orientation(row: pd.Series) -> tuple[Any, Any]:
    return (row.get("orig_h"), row.get("orig_p"))


def relabel_index(index: pd.DataFrame, aliases: pd.DataFrame) -> pd.DataFrame:
    """A packet index (capture, frame, uid, ts) + merge aliases → uids renamed to merged uids.

    ``packet_index`` numbers packets with each capture point's own flow uids; after a merge
    the secondary views' uids are gone from the flow table, so their packets are relabelled
    with the uid of the merged flow they belong to.
    """
    if index.empty or aliases.empty:
        return index
    renamed = aliases[aliases["uid"] != aliases["merged_uid"]]
    if renamed.empty:
        return index
    mapping = dict(zip(renamed["uid"].astype(str), renamed["merged_uid"].astype(str),
                       strict=True))
    out = index.copy()
    out["uid"] = out["uid"].map(lambda u: mapping.get(str(u), u))
    return out
