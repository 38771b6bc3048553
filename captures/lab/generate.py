"""Generate the reference captures: `python -m captures.lab.generate --all` (root, ip netns).

For each scenario: build the namespaces, start tcpdump/dumpcap at every capture point, start
the components, make the traffic, stop, then label every connection each capture saw, verify
with tshark (labelled connections present and nothing unlabelled, TLS versions, certificates
visible only in TLS ≤ 1.2, client certificates only where auth is mtls) and write
<name>.pcap[ng] + <name>.labels.json (+ <scenario>.inventory.json / .kubewire.yaml).
Fails loudly (non-zero exit) when a check fails; always removes its namespaces and processes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from captures.lab import cluster as c
from captures.lab import extra, features, inventory
from captures.lab.labels import (
    Expect,
    expected_findings,
    match,
    seen_connections,
    tls_facts,
    to_json,
    tshark_rows,
)
from captures.lab.scenarios import SCENARIOS, Ctx, Point, Scenario

OUT = c.ROOT / "captures"
POINT_A_SKEW = 0.25  # seconds node-1's clock runs ahead of cp-1's in the point-a/point-b pair
CORE = ("kubectl", "streams", "proxy", "noise")
EXTRA = ("legacy", "attack", "ssh", "konnectivity", "pods")


def capture_file(sc: Scenario, p: Point) -> str:
    return f"{sc.name}{p.suffix}.{'pcapng' if p.variant == 'pcapng' else 'pcap'}"


def start_capture(run: c.Run, sc: Scenario, p: Point, out: Path) -> subprocess.Popen[bytes]:
    kind, _, where = p.where.partition(":")
    lab = run.lab
    ns, iface = {"bridge": (lab.switch, "br0"), "eth0": (lab.ns(where), "eth0"),
                 "any": (lab.ns(where), "any"), "pod": (lab.ns(where), "eth0")}[kind]
    if p.variant == "pcapng":
        argv = ["dumpcap", "-q", "-i", iface, "-w", str(out)]
    else:
        argv = ["tcpdump", "-U", "-n", "-s", "0", "-i", iface, "-w", str(out)]
        if p.variant == "ethernet-ns":
            argv[1:1] = ["--time-stamp-precision=nano"]
        if kind == "any":
            argv[1:1] = ["-y", "LINUX_SLL2"]
    proc = lab.spawn(ns, argv, run.work / f"capture{p.suffix or '-main'}.log")
    log = run.work / f"capture{p.suffix or '-main'}.log"
    end = time.time() + 10
    while time.time() < end and not any(t in (log.read_text(errors="replace") if log.exists() else "")
                                        for t in ("listening on", "Capturing on")):
        time.sleep(0.05)
    return proc


def visible(e: Expect, p: Point) -> bool:
    kind, _, where = p.where.partition(":")
    ch, sh = c.host_of(e.client_host), c.host_of(e.server_host)
    if e.loopback:
        return kind == "any" and where == ch
    if kind == "bridge":
        return ch != sh
    if kind == "eth0":
        return ch != sh and where in (ch, sh)
    if kind == "any":
        return where in (ch, sh)
    return where in (e.client_host, e.server_host)


def verify(capture: Path, conns: list[dict[str, Any]], seen_streams: dict[str, int]) -> None:
    """TLS version, certificate visibility and client-cert presence as labelled."""
    versions, certs = tls_facts(str(capture))
    for cn in conns:
        if cn["transport"] != "tcp":
            continue
        st = seen_streams[cn["id"]]
        got = versions.get(st)
        if cn["tls_version"] != got:
            raise AssertionError(f"{capture.name} {cn['id']}: TLS {got} seen, {cn['tls_version']} labelled")
        msgs = certs.get(st, [])
        server_certs = [m for m in msgs if (m[0], m[1]) == (cn["server"], cn["server_port"])]
        client_certs = [m for m in msgs if (m[0], m[1]) == (cn["client"], cn["client_port"])]
        if cn["tls_version"] == "TLSv1.3" and msgs:
            raise AssertionError(f"{capture.name} {cn['id']}: certificate visible under TLS 1.3")
        if cn["tls_version"] in ("TLSv1.2", "TLSv1.1", "TLSv1.0") and not server_certs:
            raise AssertionError(f"{capture.name} {cn['id']}: no server certificate under TLS 1.2")
        presented = any(m[2] > 0 for m in client_certs)
        if (cn["auth"] == "mtls") != presented and cn["tls_version"] not in (None, "TLSv1.3"):
            raise AssertionError(f"{capture.name} {cn['id']}: client cert presented={presented}, "
                                 f"auth={cn['auth']}")


def label(run: c.Run, sc: Scenario, p: Point, capture: Path) -> dict[str, Any]:
    vis = [e for e in run.expects if visible(e, p)]
    pod_side = p.where.startswith("pod:")
    seen = seen_connections(str(capture))
    if p.variant == "point-a":  # undo the modelled clock skew before matching time windows
        seen = [dataclasses.replace(s, ts=s.ts - POINT_A_SKEW) for s in seen]
    pairs = match(run.expects, seen, vis, pod_side)
    conns = to_json(pairs, pod_side)
    streams = {}
    ids = iter(cn["id"] for cn in conns)
    for (_, s), cid in zip(sorted(pairs, key=lambda q: q[1].ts), ids, strict=True):
        streams[cid] = s.stream
    answered = {int(r[0]) for r in tshark_rows(str(capture), ["tcp.stream"],
                                               "tcp.flags.syn==1 && tcp.flags.ack==1")}
    for cn in conns:
        if cn["transport"] == "tcp" and streams[cn["id"]] not in answered:
            # Refused dial (SYN → RST): a sweep probe of a closed port, or an etcd peer dialling a
            # member not yet (or no longer) listening. No byte was exchanged, so nothing but the
            # probe itself can be claimed.
            cn.update(tls_version=None, plaintext=False, auth="unknown",
                      findings=[f for f in cn["findings"] if f == "PORT_SCAN"])
    verify(capture, conns, streams)
    notes = sc.notes or ""
    if pod_side:
        notes += (" Pod-side capture inside the pod's network namespace: connections to service VIPs "
                  "appear with the VIP as server (server_role service-vip, server_name the Service); "
                  "kube-proxy's DNAT happens after this capture point.")
    if p.variant == "vxlan":
        notes += (" Pod traffic between nodes is VXLAN-encapsulated (UDP 4789, VNI 1); labels give the "
                  "inner 5-tuples; the outer UDP 4789 packets are not connections of their own.")
    if p.variant in ("point-a", "point-b"):
        notes += (f" One of a pair of simultaneous captures of the same run ({sc.name}-node1.pcap at "
                  f"node-1's eth0 = point-a, {sc.name}-cp.pcap at cp-1's eth0 = point-b); connections "
                  "between node-1 and cp-1 (and pod traffic of node-1's pods to cp-1) are in both with "
                  "identical 5-tuples and TCP ISNs. point-a's clock is shifted by "
                  f"+{POINT_A_SKEW} s (editcap -t) to model node clock skew; connections only one end "
                  "sees (node-1↔node-2, cp-1↔node-2, cp-1↔workstation...) are in one file only.")
    return {"capture": capture.name, "scenario": sc.name, "variant": p.variant,
            "inventory": f"{sc.name}.inventory.json", "kubewire_inventory": f"{sc.name}.kubewire.yaml",
            "connections": conns, "expected_findings": expected_findings(conns),
            "description": sc.description, "notes": notes.strip()}


def run_scenario(sc: Scenario, out: Path, prefix: str, keep: Path | None = None) -> list[Path]:
    """Run one scenario end to end; write its captures, labels and inventories into `out`."""
    work = Path(tempfile.mkdtemp(prefix=f"kwlab-{sc.name}-", dir=keep))
    os.chmod(work, 0o755)
    lab = c.make_lab(prefix, etcd_hosts=sc.etcd.startswith("external"), overlay=sc.overlay)
    w = c.world(work, tls=sc.tls, apiserver_tls=sc.apiserver_tls,
                kubelet={**sc.kubelet, "tls": sc.kubelet.get("tls", sc.tls)},
                etcd=c.etcd_endpoint(sc.etcd), insecure_port=sc.insecure_port,
                kubelet_self_signed=sc.kubelet_self_signed, verify_kubelet=sc.verify_kubelet,
                etcd_members=None if sc.etcd.startswith("external") else {"etcd-1": c.IP[c.CP]},
                egress=sc.egress)
    run = c.Run(sc.name, work, lab, w)
    ctx = Ctx(run, sc)
    written: list[Path] = []
    tmp_caps: dict[Point, Path] = {p: work / capture_file(sc, p) for p in sc.points}
    try:
        lab.up()
        caps = [start_capture(run, sc, p, tmp_caps[p]) for p in sc.points]
        t_start = time.time()
        features.start_servers(ctx)
        features.node_traffic(ctx)
        if "pods" not in sc.features:
            features.pod_api(ctx)
        for f in sc.features:
            if f in CORE:
                getattr(features, f)(ctx)
            elif f in EXTRA:
                getattr(extra, f)(ctx)
        remaining = sc.duration - (time.time() - t_start)
        run.wait_bg(max(remaining + 5, 5))
        extra.settle(ctx)
        servers = [p for p in lab.procs if p not in caps]
        for p in servers:  # all at once, so etcd members do not keep redialling a stopped peer
            lab.kill(p, signal.SIGKILL)
        for p in servers:
            lab.stop(p)
        time.sleep(1.0)
        for p in caps:
            lab.stop(p, signal.SIGINT)
    finally:
        lab.down()
    for p in sc.points:
        if p.variant == "point-a":  # node clocks are never in step: shift this point's clock
            skewed = tmp_caps[p].with_suffix(".skewed.pcap")
            subprocess.run(["editcap", "-F", "pcap", "-t", str(POINT_A_SKEW), str(tmp_caps[p]), str(skewed)],
                           check=True, capture_output=True)
            skewed.replace(tmp_caps[p])
    all_labels = {p: label(run, sc, p, tmp_caps[p]) for p in sc.points}  # verify all, then write
    for p, labels in all_labels.items():
        dest = out / tmp_caps[p].name
        shutil.copyfile(tmp_caps[p], dest)
        lab_path = out / (dest.name.rsplit(".", 1)[0] + ".labels.json")
        lab_path.write_text(json.dumps(labels, indent=1) + "\n")
        written += [dest, lab_path]
    written += inventory.write(sc, out)
    if keep is None:
        shutil.rmtree(work, ignore_errors=True)
    return written


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("scenarios", nargs="*", help=f"scenario names ({', '.join(SCENARIOS)})")
    ap.add_argument("--all", action="store_true", help="every scenario")
    ap.add_argument("--out", type=Path, default=OUT, help="output folder (default captures/)")
    ap.add_argument("--keep", type=Path, default=None, help="keep work folders (logs, PKI) here")
    ap.add_argument("--jobs", type=int, default=3, help="scenarios run in parallel")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("generate: must run as root (network namespaces)", file=sys.stderr)
        return 2
    names = list(SCENARIOS) if args.all else args.scenarios
    if not names:
        ap.error("name scenarios or use --all")
    args.out.mkdir(parents=True, exist_ok=True)
    failed = []

    def one(i_name: tuple[int, str]) -> None:
        i, name = i_name
        t = time.time()
        try:
            files = run_scenario(SCENARIOS[name], args.out, f"kw{i}", args.keep)
            print(f"{name}: ok in {time.time() - t:.0f}s: " + ", ".join(f.name for f in files), flush=True)
        except Exception as e:  # noqa: BLE001 - report every scenario's failure, then exit non-zero
            failed.append(name)
            print(f"{name}: FAILED: {e}", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        list(pool.map(one, enumerate(names)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
