"""Generate the benchmark capture: a Kubernetes control plane's traffic as classic pcap, in seconds.

At ``--scale 1`` the capture covers 60 s and holds ~2.2 M packets (~1 GB): long-lived TLS
connections (apiserver→etcd gRPC, watches to the apiserver, etcd peers, konnectivity, kubelet log
streams) that mostly began before the capture, thousands of short TLS API calls and kubelet
scrapes, plaintext HTTP (kubelet read-only 10255, probes on 8080, the insecure API port, health
ports), DNS over UDP, refused and unanswered connections. ``--scale N`` is the same cluster
captured N times longer: long-lived flows carry N× the packets, short flows are N× as many.
Deterministic for a given ``--seed``.

    .venv/bin/python benchmarks/generate.py                 # benchmarks/data/bench-1x.pcap
    .venv/bin/python benchmarks/generate.py --scale 4       # benchmarks/data/bench-4x.pcap
    .venv/bin/python benchmarks/generate.py --scale 0.05 -o /tmp/small.pcap
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import payloads, pcapwrite
from benchmarks.traffic import (
    END_FIN,
    END_FIN_SERVER,
    END_NO_ANSWER,
    END_OPEN,
    END_REFUSED,
    END_RST,
    Traffic,
)

DATA = Path(__file__).resolve().parent / "data"
BASE_SECONDS = 60.0
T_START_US = 1_795_687_200_000_000  # 2026-11-26 10:00:00 UTC
CONTROL_PLANE = [0x0A00000A + i for i in range(3)]  # 10.0.0.10-12: apiserver + etcd
WORKERS = [0x0A000014 + i for i in range(30)]  # 10.0.0.20-49
KUBERNETES_SVC, DNS_SVC = 0x0A600001, 0x0A60000A  # 10.96.0.1, 10.96.0.10
PROMETHEUS = 0x0AF40507  # 10.244.5.7


def pods(rng: np.random.Generator, n: int) -> np.ndarray:
    """n pod addresses 10.244.<node>.<host> (kubeadm's default pod CIDR)."""
    return (0x0AF40000 + (rng.integers(0, 30, n) << 8) + rng.integers(2, 250, n)).astype(np.uint32)


def eph(rng: np.random.Generator, n: int) -> np.ndarray:
    """Ephemeral client ports (Linux ip_local_port_range 32768-60999)."""
    return rng.integers(32768, 61000, n)


@dataclass(frozen=True, slots=True)
class Stats:
    """What was written."""

    path: Path
    packets: int
    bytes: int
    flows: int
    tcp_flows: int
    tcp_tuples: int
    """distinct TCP 5-tuples (< tcp_flows when a client port was reused)"""
    udp_flows: int
    seconds: float


class Cluster:
    """Flow classes of the modelled cluster, added to a Traffic for a capture of ``duration`` s."""

    def __init__(self, pl: payloads.Payloads, rng: np.random.Generator, duration: float) -> None:
        self.pl, self.rng, self.T = pl, rng, duration
        self.tr = Traffic()

    def _count(self, per_minute: float) -> int:
        return max(1, round(per_minute * self.T / BASE_SECONDS))

    def _exchanges(self, n_ex: np.ndarray, req_median: float, resp_median: float, sigma: float,
                   rate: float | None, think_ms: float
                   ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray],
                              np.ndarray, np.ndarray]:
        """TLS app-data exchanges: lognormal sizes (0 = none), think times and gaps."""
        r, total = self.rng, int(n_ex.sum())
        req_l = np.where(req_median > 0, r.lognormal(np.log(max(req_median, 1)), 0.6, total), 0)
        resp_l = np.where(resp_median > 0, r.lognormal(np.log(max(resp_median, 1)), sigma, total), 0)
        req = self.pl.appdata(req_l.astype(np.int64))
        resp = self.pl.appdata(resp_l.astype(np.int64))
        req = (req[0], np.where(req_l > 0, req[1], 0))
        resp = (resp[0], np.where(resp_l > 0, resp[1], 0))
        think = r.exponential(think_ms / 1e3, total)
        gap = r.exponential(1.0 / rate, total) if rate else r.exponential(0.02, total)
        return req, resp, think, gap

    def long_lived(self, n: int, *, client: np.ndarray, server: np.ndarray, port: int, tls: str,
                   rate: float, req_median: float, resp_median: float, sigma: float,
                   think_ms: float) -> None:
        """Connections open all capture long; 70 % began before it (no handshake seen)."""
        r = self.rng
        before = r.random(n) < 0.7
        t0 = np.where(before, -r.uniform(0.05, 3.0, n), r.uniform(0, self.T * 0.5, n))
        n_ex = np.ceil((self.T - t0) * rate * 1.15 + 3).astype(np.int64)
        req, resp, think, gap = self._exchanges(n_ex, req_median, resp_median, sigma, rate, think_ms)
        self.tr.tcp(self.pl, cip=client, sip=server, cport=eph(r, n), sport=port, t0=t0,
                    rtt=r.uniform(1e-4, 6e-4, n), tls=[tls] * n, n_ex=n_ex, req=req, resp=resp,
                    think=think, gap=gap, end=np.full(n, END_OPEN))

    def short_tls(self, n: int, *, client: np.ndarray, server: np.ndarray, port: int,
                  tls: list[str], max_ex: int, req_median: float, resp_median: float, sigma: float,
                  rst_share: float = 0.05) -> None:
        """Short TLS sessions spread over the capture: handshake, a few calls, FIN (or RST)."""
        r = self.rng
        n_ex = r.integers(1, max_ex + 1, n)
        req, resp, think, gap = self._exchanges(n_ex, req_median, resp_median, sigma, None, 3.0)
        end = np.where(r.random(n) < rst_share, END_RST, END_FIN)
        self.tr.tcp(self.pl, cip=client, sip=server, cport=eph(r, n), sport=port,
                    t0=r.uniform(0, self.T, n), rtt=r.uniform(1e-4, 6e-4, n), tls=tls, n_ex=n_ex,
                    req=req, resp=resp, think=think, gap=gap, end=end)

    def plain_http(self, n: int, *, client: np.ndarray, server: np.ndarray, port: int, kind: str,
                   end: int) -> None:
        """Plaintext HTTP/1.1: one request/response pair of ``kind`` per flow."""
        r = self.rng
        pairs = self.pl.http[kind]
        k = r.integers(0, len(pairs), n)
        req = (np.array([pairs[i][0].off for i in k]), np.array([pairs[i][0].length for i in k]))
        resp = (np.array([pairs[i][1].off for i in k]), np.array([pairs[i][1].length for i in k]))
        self.tr.tcp(self.pl, cip=client, sip=server, cport=eph(r, n), sport=port,
                    t0=r.uniform(0, self.T, n), rtt=r.uniform(1e-4, 6e-4, n), tls=None,
                    n_ex=np.ones(n, np.int64), req=req, resp=resp,
                    think=r.exponential(2e-3, n), gap=r.exponential(1e-3, n), end=np.full(n, end))

    def failed(self, n: int, *, server: np.ndarray, port: int, end: int) -> None:
        """Connection attempts that are refused (RST) or never answered."""
        r = self.rng
        z = np.zeros(n, np.int64)
        self.tr.tcp(self.pl, cip=pods(r, n), sip=server, cport=eph(r, n), sport=port,
                    t0=r.uniform(0, self.T, n), rtt=r.uniform(1e-4, 6e-4, n), tls=None,
                    n_ex=z, req=(z, z), resp=(z, z), think=z.astype(float), gap=z.astype(float),
                    end=np.full(n, end))

    def build(self) -> Traffic:
        """All flow classes → the accumulated traffic."""
        r, cp, wk = self.rng, np.array(CONTROL_PLANE), np.array(WORKERS)

        def pick(a: np.ndarray, n: int) -> np.ndarray:
            return r.choice(a, n)

        # apiserver → etcd gRPC over mutual TLS: the heaviest talker of a control plane.
        self.long_lived(18, client=cp[np.arange(18) % 3], server=cp[(np.arange(18) + 1) % 3], port=2379,
                        tls="etcd_grpc_mtls_tls12", rate=450, req_median=260, resp_median=560,
                        sigma=1.5, think_ms=0.4)
        self.long_lived(6, client=cp[[0, 0, 1, 1, 2, 2]], server=cp[[1, 2, 0, 2, 0, 1]], port=2380,
                        tls="etcd_peer_tls13", rate=20, req_median=120, resp_median=90, sigma=0.4,
                        think_ms=0.2)
        # kubelets and controllers watching the apiserver (server pushes events).
        self.long_lived(40, client=np.concatenate([wk, pods(r, 10)]), server=pick(cp, 40), port=6443,
                        tls="apiserver_kubelet_h2_tls13", rate=4, req_median=0, resp_median=900,
                        sigma=1.0, think_ms=0.1)
        self.long_lived(6, client=pick(wk, 6), server=pick(cp, 6), port=8132,
                        tls="konnectivity_tls12", rate=10, req_median=300, resp_median=2500,
                        sigma=1.0, think_ms=1.0)
        self.long_lived(20, client=pick(cp, 20), server=pick(wk, 20), port=10250,
                        tls="kubelet_serving_tls12", rate=3, req_median=0, resp_median=6000,
                        sigma=0.8, think_ms=0.1)
        # Short API calls: pods via the kubernetes Service, nodes and controllers directly.
        n = self._count(1800)
        self.short_tls(n, client=pods(r, n), server=np.full(n, KUBERNETES_SVC), port=443,
                       tls=list(r.choice(["apiserver_sa_h2_tls12", "apiserver_kubelet_h2_tls13"], n)),
                       max_ex=6, req_median=400, resp_median=2500, sigma=1.2)
        n = self._count(1200)
        self.short_tls(n, client=pick(np.concatenate([wk, cp]), n), server=pick(cp, n), port=6443,
                       tls=list(r.choice(["apiserver_mtls_tls12", "apiserver_kubelet_h2_tls13"], n)),
                       max_ex=4, req_median=500, resp_median=3000, sigma=1.2)
        # Prometheus scraping kubelets over TLS (/metrics, /metrics/cadvisor every 15 s).
        n = self._count(240)
        self.short_tls(n, client=np.full(n, PROMETHEUS), server=pick(wk, n), port=10250,
                       tls=["kubelet_metrics_tls13"] * n, max_ex=1, req_median=300,
                       resp_median=150_000, sigma=0.6, rst_share=0.0)
        # Plaintext HTTP.
        n = self._count(120)
        self.plain_http(n, client=np.full(n, PROMETHEUS), server=pick(wk, n), port=10255,
                        kind="metrics", end=END_FIN)
        n = self._count(3000)
        self.plain_http(n, client=pick(wk, n), server=pods(r, n), port=8080, kind="probe",
                        end=END_FIN_SERVER)
        n = self._count(30)
        self.plain_http(n, client=pods(r, n), server=np.full(n, CONTROL_PLANE[0]), port=8080,
                        kind="insecure_api", end=END_FIN)
        n = self._count(200)
        self.plain_http(n, client=pick(wk, n), server=pick(wk, n), port=10256, kind="healthz",
                        end=END_FIN)
        # DNS: each pod socket asks A and AAAA.
        n = self._count(6000)
        self.tr.udp(self.pl, r, cip=pods(r, n), sip=np.full(n, DNS_SVC), cport=eph(r, n), sport=53,
                    t0=r.uniform(0, self.T, n), pairs=[0, 1], rtt=r.uniform(1e-4, 1e-3, n))
        # Failures: kubelet read-only port closed on some nodes, a blackholed etcd client port.
        n = self._count(100)
        self.failed(n, server=pick(wk, n), port=10255, end=END_REFUSED)
        n = self._count(30)
        self.failed(n, server=pick(cp, n), port=2379, end=END_NO_ANSWER)
        return self.tr


def generate(path: Path, *, scale: float = 1.0, seed: int = 7, chunk: int = 65536) -> Stats:
    """Scale (capture length relative to 60 s) + seed → a pcap at ``path``."""
    t = time.perf_counter()
    rng = np.random.default_rng(seed)
    pl = payloads.build(seed)
    duration = BASE_SECONDS * scale
    tr = Cluster(pl, rng, duration).build()
    pk = tr.packets(pl, rng, T_START_US, duration)
    pool = pl.pool.array()
    sums = pcapwrite.PoolSums(pool)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 24
    with path.open("wb") as f:
        pcapwrite.write_header(f)
        for i in range(0, len(pk), chunk):
            written += pcapwrite.write_chunk(f, pk.take(np.arange(i, min(i + chunk, len(pk)))), pool, sums)
    return Stats(path, len(pk), written, tr.n, tr.seen_tcp, tr.tcp_tuples, tr.seen_udp,
                 time.perf_counter() - t)


def default_path(scale: float) -> Path:
    tag = f"{scale:g}".replace(".", "_")
    return DATA / f"bench-{tag}x.pcap"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="capture length relative to 60 s")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("-o", "--output", type=Path,
                    help="output pcap (default benchmarks/data/bench-<scale>x.pcap)")
    ap.add_argument("--facts", type=Path, help="also write what was generated as JSON here")
    a = ap.parse_args(argv)
    st = generate(a.output or default_path(a.scale), scale=a.scale, seed=a.seed)
    if a.facts:
        a.facts.write_text(json.dumps({"packets": st.packets, "bytes": st.bytes, "flows": st.flows,
                                       "tcp_flows": st.tcp_flows, "tcp_tuples": st.tcp_tuples,
                                       "udp_flows": st.udp_flows, "scale": a.scale, "seed": a.seed,
                                       "generate_s": round(st.seconds, 2)}) + "\n")
    print(f"{st.path}: {st.packets:,} packets, {st.bytes / 1e6:,.1f} MB, {st.tcp_flows:,} TCP + "
          f"{st.udp_flows:,} UDP flows in {st.seconds:.1f} s")


if __name__ == "__main__":
    main()
