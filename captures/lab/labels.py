"""Ground truth: expected connections, their matching against what tshark saw, and findings.

An `Expect` is one connection (or, for tools that cannot bind a source port — kubectl, ssh,
etcd peers, the apiserver's outbound legs — every connection of a 3-tuple inside the time
window of the action that made it). After capture, each capture's TCP/UDP connections are
matched to expects; any connection left unmatched, or any expect unseen, is a loud error.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from typing import Any

PATHS = ("node-to-apiserver", "pod-to-apiserver", "client-to-apiserver", "apiserver-to-kubelet",
         "apiserver-proxy", "kubelet-readonly", "kubelet-direct", "etcd", "etcd-peer", "konnectivity",
         "ssh-tunnel", "control-plane-other", "other")
ROLES = ("apiserver", "node", "pod", "etcd", "konnectivity-server", "service-vip", "client", "dns",
         "unknown")
AUTH = ("mtls", "bearer", "basic", "none", "unknown")
FINDINGS = ("PLAINTEXT_APISERVER", "ANONYMOUS_API_ACCESS", "KUBELET_READONLY_PORT",
            "UNAUTH_KUBELET_ACCESS", "KUBELET_SELF_SIGNED_CERT", "PLAINTEXT_PROXY", "EXEC_OVER_PLAINTEXT",
            "CREDENTIALS_IN_PLAINTEXT", "PLAINTEXT_ETCD", "UNAUTH_ETCD", "POD_TO_KUBELET", "PORT_SCAN",
            "SSH_TUNNEL_DEPRECATED", "KONNECTIVITY_PLAINTEXT", "LEGACY_TLS", "INSECURE_COMPONENT_PORT",
            "UNVERIFIED_TLS_PEER", "ETCD_EXPOSED_TO_PODS", "TOKEN_REUSE")
VARIANTS = ("ethernet-us", "ethernet-ns", "pcapng", "sll2", "pod-side", "vxlan", "point-a", "point-b")
CONTROL_PLANE_PATHS = frozenset(PATHS) - {"other", "apiserver-proxy", "kubelet-readonly",
                                          "control-plane-other"}


@dataclass
class Expect:
    """One expected connection (client_port None = discovered inside [t0, t1])."""

    id: str
    transport: str
    client: str
    client_port: int | None
    server: str
    server_port: int
    path: str
    client_role: str
    server_role: str
    client_name: str | None
    server_name: str | None
    plaintext: bool
    auth: str
    tls_version: str | None
    k8s_operation: str | None
    findings: list[str]
    client_host: str  # host name or pod ref where the client runs (visibility)
    server_host: str
    vip: tuple[str, int] | None = None  # the service VIP the client dialled (pod-side view)
    count: int | None = 1  # None: every connection of the 3-tuple in the window
    t0: float = 0.0
    t1: float = 0.0
    loopback: bool = False
    payload: bool = True  # client sends application bytes (False for scan probes)
    optional: bool = False  # may legitimately not happen (self-dials of etcd's gateway)
    extra: dict[str, Any] = field(default_factory=dict)

    def span_run(self) -> Expect:
        """Match in the whole run (peers, long-lived streams, the storage connection)."""
        self.t0, self.t1 = 0.0, float("inf")
        return self


@dataclass(frozen=True, slots=True)
class Seen:
    """A connection tshark saw: 5-tuple, first time, tcp.stream / udp.stream index."""

    transport: str
    client: str
    client_port: int
    server: str
    server_port: int
    ts: float
    stream: int


def tshark_rows(capture: str, fields: list[str], flt: str, occurrence: str = "l") -> list[list[str]]:
    cmd = ["tshark", "-n", "-r", capture, "-T", "fields", "-E", "separator=\t",
           "-E", f"occurrence={occurrence}", "-Y", flt]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300)
    return [ln.split("\t") for ln in out.stdout.splitlines() if ln.strip()]


def seen_connections(capture: str) -> list[Seen]:
    """TCP connections (by SYN) and UDP conversations (first packet), inner headers for VXLAN."""
    out: list[Seen] = []
    for r in tshark_rows(capture, ["ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "frame.time_epoch",
                                   "tcp.stream"], "tcp.flags.syn==1 && tcp.flags.ack==0"):
        key = ("tcp", r[0], int(r[1]), r[2], int(r[3]))
        if not any((s.transport, s.client, s.client_port, s.server, s.server_port) == key for s in out):
            out.append(Seen(*key, float(r[4]), int(r[5])))
    udp: dict[frozenset[tuple[str, int]], Seen] = {}
    for r in tshark_rows(capture, ["ip.src", "udp.srcport", "ip.dst", "udp.dstport", "frame.time_epoch",
                                   "udp.stream"], "udp && !icmp"):
        if 4789 in (int(r[1]), int(r[3])):  # innermost UDP is the VXLAN carrier itself
            continue
        pair = frozenset({(r[0], int(r[1])), (r[2], int(r[3]))})
        if pair not in udp:
            udp[pair] = Seen("udp", r[0], int(r[1]), r[2], int(r[3]), float(r[4]), int(r[5]))
    return out + list(udp.values())


def tls_facts(capture: str) -> tuple[dict[int, str], dict[int, list[tuple[str, int, int]]]]:
    """tcp.stream → negotiated TLS version (from ServerHello); tcp.stream → Certificate
    messages as (sender ip, sender port, certificates_length)."""
    names = {"0x0301": "TLSv1.0", "0x0302": "TLSv1.1", "0x0303": "TLSv1.2", "0x0304": "TLSv1.3"}
    versions: dict[int, str] = {}
    for r in tshark_rows(capture, ["tcp.stream", "tls.handshake.version",
                                   "tls.handshake.extensions.supported_version"],
                         "tls.handshake.type==2", occurrence="a"):
        v = r[2].split(",")[0] if len(r) > 2 and r[2] else r[1].split(",")[0]
        versions.setdefault(int(r[0]), names.get(v, v))
    certs: dict[int, list[tuple[str, int, int]]] = {}
    for r in tshark_rows(capture, ["tcp.stream", "ip.src", "tcp.srcport",
                                   "tls.handshake.certificates_length"], "tls.handshake.type==11"):
        certs.setdefault(int(r[0]), []).append((r[1], int(r[2]), int(r[3].split(",")[0] or 0)))
    return versions, certs


def match(expects: list[Expect], seen: list[Seen], visible: list[Expect],
          pod_side: bool) -> list[tuple[Expect, Seen]]:
    """Assign every seen connection to an expect; raise on leftovers or missing expects."""
    free = sorted(seen, key=lambda s: s.ts)
    pairs: list[tuple[Expect, Seen]] = []
    ordered = [e for e in visible if e.client_port is not None] + \
              [e for e in visible if e.client_port is None]
    for e in ordered:
        server, port = (e.vip if pod_side and e.vip else (e.server, e.server_port))
        cands = [s for s in free if s.transport == e.transport and s.client == e.client
                 and s.server == server and s.server_port == port
                 and (e.client_port is None or s.client_port == e.client_port)
                 and (e.client_port is not None or e.t0 - 0.02 <= s.ts <= e.t1 + 0.02)]
        if not cands and e.optional:
            continue
        if not cands:
            raise AssertionError(f"expected connection {e.id} ({e.client}:{e.client_port} → "
                                 f"{server}:{port}) not in capture")
        take = cands if e.count is None else cands[:e.count]
        if e.count is not None and len(take) < e.count:
            raise AssertionError(f"{e.id}: {len(take)} of {e.count} connections seen")
        for s in take:
            free.remove(s)
            pairs.append((e, s))
    if free:
        raise AssertionError("unlabelled connections: " + ", ".join(
            f"{s.transport} {s.client}:{s.client_port}→{s.server}:{s.server_port}" for s in free))
    return pairs


def to_json(pairs: list[tuple[Expect, Seen]], pod_side: bool) -> list[dict[str, Any]]:
    """Labelled connections in the contract's shape, ids made unique per expect."""
    counts: dict[str, int] = {}
    for e, _ in pairs:
        counts[e.id] = counts.get(e.id, 0) + 1
    idx: dict[str, int] = {}
    out = []
    for e, s in sorted(pairs, key=lambda p: p[1].ts):
        idx[e.id] = idx.get(e.id, 0) + 1
        cid = e.id if counts[e.id] == 1 else f"{e.id}-{idx[e.id]}"
        via_vip = pod_side and e.vip is not None
        out.append({"id": cid, "transport": s.transport, "client": s.client, "client_port": s.client_port,
                    "server": s.server, "server_port": s.server_port, "path": e.path,
                    "client_role": e.client_role,
                    "server_role": (e.extra.get("vip_role") or "service-vip") if via_vip else e.server_role,
                    "client_name": e.client_name,
                    "server_name": e.extra.get("vip_name") if via_vip else e.server_name,
                    "plaintext": e.plaintext, "auth": e.auth, "tls_version": e.tls_version,
                    "k8s_operation": e.k8s_operation, "findings": list(e.findings)})
    return out


def expected_findings(conns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per finding id with every connection that should raise it."""
    by: dict[str, list[str]] = {}
    for c in conns:
        for f in c["findings"]:
            by.setdefault(f, []).append(c["id"])
    return [{"id": f, "connections": ids} for f, ids in sorted(by.items())]
