"""Payload prefixes: copy contributing segment bytes out of the live chunk buffer into an
arena, then reassemble each flow direction's first bytes in sequence order.

Overlaps keep the bytes that arrived first (retransmissions and duplicates add nothing); the
prefix ends at the first sequence gap, and every gap byte inside the prefix window counts
toward ``missed_bytes``.
"""

from __future__ import annotations

from classifier.native import kernel


@kernel()
def copy_segments(buf, pay_off, c_pkt, c_skip, c_len, arena, arena_pos):  # type: ignore[no-untyped-def]
    """Segments (packet, skip, len) of the chunk buffer → appended to arena; → new end."""
    p = arena_pos
    for k in range(c_pkt.shape[0]):
        src = pay_off[c_pkt[k]] + c_skip[k]
        ln = c_len[k]
        arena[p:p + ln] = buf[src:src + ln]
        p += ln
    return p


@kernel()
def reassemble(order, s_flow, s_dir, s_rel, s_off, s_len, arena, base_known, keep, limit,  # type: ignore[no-untyped-def]
               out, out_start, out_len, missed):
    """Segments sorted by (flow, dir, rel, arrival) → contiguous prefixes written to ``out``.

    ``out_start/out_len/missed`` are indexed by flow*2+dir. ``base_known[flow*2+dir]`` says the
    sequence origin is the SYN (prefix starts at 0); otherwise at the lowest offset seen.
    Bytes are kept only below ``keep[flow*2+dir]`` (segments were copied into the arena only
    that far); gaps up to ``limit`` still count as missed. Returns bytes used in ``out``.
    """
    pos = 0
    m = order.shape[0]
    j = 0
    while j < m:
        g0 = j
        f = s_flow[order[j]]
        d = s_dir[order[j]]
        while j < m and s_flow[order[j]] == f and s_dir[order[j]] == d:
            j += 1
        fd = f * 2 + d
        start = 0 if base_known[fd] else s_rel[order[g0]]
        stop = start + limit
        kp = max(keep[fd], start)
        end = start
        open_ = True
        gaps = 0
        out_start[fd] = pos
        for q in range(g0, j):
            s = order[q]
            rel = s_rel[s]
            ln = s_len[s]
            if rel + ln <= end or rel >= stop:
                continue
            if rel > end:
                gaps += min(rel, stop) - end
                open_ = False
            lo = max(rel, end)
            hi = min(rel + ln, stop)
            hk = min(hi, kp)
            if open_ and hk > lo:
                out[pos + lo - start:pos + hk - start] = arena[s_off[s] + lo - rel:s_off[s] + hk - rel]
            if hi > end:
                end = hi
                if open_:
                    out_len[fd] = min(end, kp) - start
        missed[fd] = gaps
        pos += out_len[fd]
    return pos
