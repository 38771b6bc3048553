"""Benchmark kubewire's flow table against tshark, nfstream, a dpkt loop and scapy, on one file.

Every tool runs in its own process, one after the other, on the same capture (page cache warmed
by ``cat`` first), in rounds: each round runs every tool once, so the machine's drift in speed
hits all tools alike; the target ratios are the medians of the per-round ratios. Per tool: wall
seconds of the whole process, CPU seconds, packets/s, the ratio to ``kubewire flows``, and
peak RSS (the larger of the kernel's ru_maxrss for the process and its
reaped children, and the sampled RSS sum of the live process tree, which counts nfstream's
meter processes together). Then the dissection share (issue 4) and peak RSS on the same
traffic captured four times longer. Missing tools are reported as missing.

    make bench                                   # 1x (~2 M packets, 1 GB) + the 4x memory check
    .venv/bin/python benchmarks/run.py --quick   # ~100 k packets, seconds, for smoke tests
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
PY = sys.executable
TOOLS_PY = str(HERE / "tools.py")
TARGETS = {"nfstream": 10.0, "tshark": 15.0}
RSS_LIMIT_MB, FLAT_FACTOR, DISSECT_SHARE = 300.0, 1.25, 0.25


@dataclass
class Run:
    """One tool's measured run."""

    tool: str
    wall_s: float = 0.0
    cpu_s: float = 0.0
    rss_mb: float = 0.0
    seconds: float = 0.0
    """Reported time: wall seconds, or extrapolated to the whole file for a slice."""
    missing: str = ""
    out: dict[str, Any] = field(default_factory=dict)
    note: str = ""


def _tree_rss(proc: Any) -> float:
    """psutil.Process → RSS of it and its live descendants, MB (0 when gone)."""
    import psutil

    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0.0
    for q in procs:
        with contextlib.suppress(psutil.Error):
            total += q.memory_info().rss
    return total / 1e6


def measure(tool: str, cmd: list[str], *, timeout: float = 1800, stdout_json: bool = False,
            count_lines: str = "", discard: bool = False) -> Run:
    """Command → a Run: wall time, CPU time, peak RSS, and the tool's JSON line if it prints one.

    A thread waits for the child (exact end time and rusage); this thread samples the RSS of the
    child's process tree every 0.1 s (catches multi-process tools such as nfstream).
    """
    run = Run(tool)
    if (shutil.which(cmd[0]) or (cmd[0] if Path(cmd[0]).exists() else None)) is None:
        run.missing = f"{cmd[0]} not found"
        return run
    try:
        import psutil
    except ImportError:
        psutil = None  # type: ignore[assignment]
    gnu_time = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r") as maxrss:
        # GNU time is a small process in between: a child forked straight from this (larger)
        # Python would report this process's RSS high-water mark as its own ru_maxrss.
        full = [gnu_time, "-f", "%M", "-o", maxrss.name, *cmd] if gnu_time else cmd
        t0 = time.perf_counter()
        proc = subprocess.Popen(full, stdout=subprocess.DEVNULL if discard else out, stderr=err)
        done: dict[str, Any] = {}

        def reap() -> None:
            _, status, ru = os.wait4(proc.pid, 0)
            done.update(t=time.perf_counter(), status=status, ru=ru)

        watched = None
        if psutil is not None:  # before the waiter can reap it: a reaped pid may not exist
            with contextlib.suppress(psutil.Error):
                watched = psutil.Process(proc.pid)
        waiter = threading.Thread(target=reap, daemon=True)
        waiter.start()
        peak = 0.0
        while waiter.is_alive():
            if watched is not None:
                peak = max(peak, _tree_rss(watched))
            waiter.join(0.1)
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                waiter.join()
                run.missing = f"timed out after {timeout:.0f} s"
                return run
        proc.returncode = os.waitstatus_to_exitcode(done["status"])
        ru = done["ru"]
        run.wall_s = run.seconds = done["t"] - t0
        run.cpu_s = ru.ru_utime + ru.ru_stime
        kib = ru.ru_maxrss  # KiB on Linux
        if gnu_time:
            with contextlib.suppress(ValueError, IndexError):
                kib = int(maxrss.read().split()[-1])
        run.rss_mb = max(peak, kib * 1024 / 1e6)
        out.seek(0)
        err.seek(0)
        text, etext = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if stdout_json:
        lines = [ln for ln in text.splitlines() if ln.startswith("{")]
        run.out = json.loads(lines[-1]) if lines else {}
        if "missing" in run.out:
            run.missing = run.out["missing"]
            return run
    if count_lines:
        run.out["flows"] = sum(count_lines in ln for ln in text.splitlines())
    if proc.returncode != 0:
        tail = (etext.strip().splitlines() or ["no stderr"])[-1]
        run.missing = f"exit {proc.returncode}: {tail[:200]}"
    return run


def kubewire_cli(path: Path, tmp: Path) -> Run:
    """`kubewire flows FILE -o /dev/null`, or to a temporary CSV when /dev/null is refused."""
    exe = str(Path(PY).parent / "kubewire")
    helptext = subprocess.run([exe, "flows", "--help"], capture_output=True, text=True,
                              check=False).stdout if Path(exe).exists() else ""
    base = [exe, "flows", str(path)] + (["--quiet"] if "--quiet" in helptext else [])
    r = measure("kubewire flows (CLI)", [*base, "-o", "/dev/null"])
    if r.missing.startswith("exit"):
        r2 = measure("kubewire flows (CLI)", [*base, "-o", str(tmp / "flows.csv")])
        if not r2.missing:
            r2.note = "-o flows.csv (/dev/null refused)"
            return r2
    return r


def machine() -> dict[str, Any]:
    """Where and when this ran, and how busy the machine was."""
    cpu = ""
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                cpu = ln.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0.0
    with contextlib.suppress(ValueError, OSError):
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions: dict[str, str] = {"python": platform.python_version()}
    for mod in ("kubewire", "nfstream", "dpkt", "scapy", "numpy", "numba", "pandas", "psutil"):
        try:
            versions[mod] = metadata.version(mod)  # no import: keeps this process small
        except metadata.PackageNotFoundError:
            versions[mod] = "missing"
    if shutil.which("tshark"):
        v = subprocess.run(["tshark", "-v"], capture_output=True, text=True, check=False).stdout
        versions["tshark"] = (v.splitlines() or [""])[0]
    return {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "cpu": cpu,
            "cores": os.cpu_count(), "mem_gib": round(mem, 1), "kernel": platform.release(),
            "loadavg_start": os.getloadavg(), "versions": versions}


def default_path(scale: float) -> Path:
    """Same naming as generate.default_path (not imported: numpy stays out of this process)."""
    return HERE / "data" / (f"bench-{scale:g}".replace(".", "_") + "x.pcap")


def capture(path: Path | None, scale: float) -> tuple[Path, dict[str, Any]]:
    """The benchmark file (generated in a child process when missing) and its facts."""
    p = path or default_path(scale)
    side = p.with_suffix(".json")
    if path is None and not (p.exists() and side.exists()):
        print(f"generating {p} (scale {scale:g}) ...", flush=True)
        subprocess.run([PY, str(HERE / "generate.py"), "--scale", f"{scale:g}", "-o", str(p),
                        "--facts", str(side)], check=True)
    if side.exists():
        return p, json.loads(side.read_text())
    return p, {"packets": _count_records(p), "bytes": p.stat().st_size}


def _count_records(p: Path) -> int:
    """Classic pcap → number of records (header walk)."""
    import struct

    n = 0
    with p.open("rb") as f:
        magic = f.read(24)[:4]
        endian = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        while len(h := f.read(16)) == 16:
            f.seek(struct.unpack(endian + "IIII", h)[2], 1)
            n += 1
    return n


def repeated(fn: Any, times: int) -> Run:
    """Run a measurement ``times`` times → ``median_run`` of them."""
    return median_run([fn() for _ in range(max(1, times))])


def median_run(runs: list[Run]) -> Run:
    """Runs of one tool → the run with the median wall time, with the largest peak RSS of all
    and every wall time in run order in ``out["walls"]`` (a shared machine is noisy)."""
    ok = [r for r in runs if not r.missing]
    if not ok:
        return runs[-1]
    ok.sort(key=lambda r: r.wall_s)
    best = ok[(len(ok) - 1) // 2]
    best.rss_mb = max(r.rss_mb for r in ok)
    best.out["walls"] = [round(r.wall_s, 3) for r in runs if not r.missing]
    return best


def bench(path: Path, facts: dict[str, Any], scapy_limit: int, times: int = 1) -> list[Run]:
    """Run every tool on ``path`` in ``times`` rounds (each round runs every tool once, so a
    drift in the machine's speed hits all tools alike) → per tool the median run (kubewire CLI
    first, after the cache warm-up)."""
    packets = int(facts["packets"])
    runs = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        for _ in range(2):
            cat = measure("cat (page cache)", ["cat", str(path)], discard=True)
        runs.append(cat)
        steps: list[tuple[str, Any]] = [
            ("kubewire flows (CLI)", lambda: kubewire_cli(path, tmp)),
            ("kubewire assemble (API)", lambda: measure(
                "kubewire assemble (API)", [PY, TOOLS_PY, "kubewire-api", str(path)], stdout_json=True)),
            ("kubewire reader only", lambda: measure(
                "kubewire reader only", [PY, TOOLS_PY, "kubewire-ingest", str(path)], stdout_json=True)),
            ("tshark -z conv,tcp", lambda: measure(
                "tshark -z conv,tcp", ["tshark", "-q", "-z", "conv,tcp", "-r", str(path)],
                count_lines="<->")),
            ("nfstream", lambda: measure("nfstream", [PY, TOOLS_PY, "nfstream", str(path)],
                                         stdout_json=True)),
            ("dpkt loop", lambda: measure("dpkt loop", [PY, TOOLS_PY, "dpkt", str(path)],
                                          stdout_json=True)),
            ("scapy PcapReader", lambda: measure(
                "scapy PcapReader", [PY, TOOLS_PY, "scapy", str(path), "--limit", str(scapy_limit)],
                stdout_json=True)),
        ]
        done: dict[str, list[Run]] = {name: [] for name, _ in steps}
        for k in range(max(1, times)):
            for name, fn in steps:
                print(f"  round {k + 1}/{max(1, times)}: {name} ...", flush=True)
                done[name].append(fn())
        for name, _ in steps:
            r = median_run(done[name])
            if not r.missing and r.out.get("slice"):
                sl = int(r.out["slice"])
                overhead = r.wall_s - float(r.out["work_s"])
                r.seconds = overhead + float(r.out["work_s"]) * packets / sl
                r.note = f"first {sl:,} packets, extrapolated"
            runs.append(r)
    return runs


def dissect_share(path: Path, times: int = 1) -> Run:
    """assemble + dissect in one process → the dissection share."""
    print("  running kubewire assemble + dissect ...", flush=True)
    return repeated(lambda: measure("kubewire assemble+dissect (API)",
                                    [PY, TOOLS_PY, "kubewire-dissect", str(path)],
                                    stdout_json=True), times)


def table(runs: list[Run], packets: int, ref: Run | None) -> str:
    """Runs → the printed table."""
    rows = [f"{'tool':<34}{'seconds':>9}{'cpu s':>8}{'packets/s':>12}{'× kubewire':>12}"
            f"{'peak RSS MB':>13}  note"]
    for r in runs:
        if r.missing:
            rows.append(f"{r.tool:<34}{'missing':>9}{'':>8}{'':>12}{'':>12}{'':>13}  {r.missing}")
            continue
        ratio = (f"{r.seconds / ref.seconds:.1f}" if ref and not ref.missing and ref.seconds
                 else "-")
        pps = int(r.out.get("file_packets", packets)) / r.seconds
        rows.append(f"{r.tool:<34}{r.seconds:>9.2f}{r.cpu_s:>8.2f}{pps:>12,.0f}"
                    f"{ratio:>12}{r.rss_mb:>13.0f}  {r.note}")
    return "\n".join(rows)


def reference(by: dict[str, Run]) -> Run | None:
    """The kubewire run the ratios are taken against: the CLI, else the API when no CLI yet."""
    for name in ("kubewire flows (CLI)", "kubewire assemble (API)"):
        r = by.get(name)
        if r is not None and not r.missing:
            return r
    return None


def paired_ratio(other: Run, kw: Run) -> float:
    """Wall-time ratio other / kubewire: the median of the per-round ratios when both ran in
    the same rounds (each pair ran minutes apart at most), else the ratio of the medians."""
    a, b = other.out.get("walls", []), kw.out.get("walls", [])
    if len(a) == len(b) >= 2 and all(b):
        ratios = sorted(x / y for x, y in zip(a, b, strict=True))
        mid = len(ratios) // 2
        return ratios[mid] if len(ratios) % 2 else (ratios[mid - 1] + ratios[mid]) / 2
    return other.seconds / kw.seconds


def targets(by: dict[str, Run], dis: Run | None, big: Run | None
            ) -> list[tuple[str, str, bool | None]]:
    """Runs → (target, measured, met) rows; met is None when it could not be measured."""
    kw = reference(by)
    out: list[tuple[str, str, bool | None]] = []
    for tool, want in TARGETS.items():
        other = next((r for n, r in by.items() if n.startswith(tool)), None)
        name = f"≥ {want:g}× faster than {tool}"
        if kw is None or other is None or other.missing:
            out.append((name, "not measured", None))
            continue
        x = paired_ratio(other, kw)
        out.append((name, f"{x:.1f}× wall ({other.cpu_s / kw.cpu_s:.1f}× CPU)", x >= want))
    name = f"peak RSS ≤ {RSS_LIMIT_MB:g} MB"
    out.append((name, f"{kw.rss_mb:.0f} MB" if kw else "not measured",
                kw.rss_mb <= RSS_LIMIT_MB if kw else None))
    name = f"RSS flat at 4× (≤ {FLAT_FACTOR:g}× of 1×, ≤ {RSS_LIMIT_MB:g} MB)"
    if kw is not None and big is not None and not big.missing:
        f = big.rss_mb / kw.rss_mb
        out.append((name, f"{big.rss_mb:.0f} MB = {f:.2f}× of 1×",
                    f <= FLAT_FACTOR and big.rss_mb <= RSS_LIMIT_MB))
    else:
        out.append((name, big.missing if big else "not measured", None))
    name = f"dissection ≤ {DISSECT_SHARE:.0%} of flow-table time"
    if dis is not None and not dis.missing:
        o = dis.out
        share = float(o["dissect_s"]) / float(o["flows_s"])
        cpu = float(o.get("dissect_cpu_s", 0)) / max(float(o.get("flows_cpu_s", 0)), 1e-9)
        out.append((name, f"{share:.0%} wall ({o['dissect_s']:.2f} s / {o['flows_s']:.2f} s), "
                          f"{cpu:.0%} CPU", share <= DISSECT_SHARE))
    else:
        out.append((name, dis.missing if dis else "not measured", None))
    return out


def markdown(res: dict[str, Any]) -> str:
    """Results JSON (``--json``) → the Markdown results section for README.md."""
    m, cap = res["machine"], res["capture"]
    runs = [Run(**r) for r in res["runs"]]
    packets = int(cap["packets"])
    by = {r.tool: r for r in runs}
    ref, api = reference(by), by.get("kubewire assemble (API)")
    la0, la1 = m["loadavg_start"][0], m.get("loadavg_end", [0])[0]
    v = m["versions"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['mem_gib']} GiB RAM, Linux {m['kernel']}; "
        f"run {m['date']}. **Shared machine**: load average {la0:.1f} at start, {la1:.1f} at end "
        f"on {m['cores']} cores (other engineers' tests), so wall seconds are inflated and noisy; "
        "CPU seconds are the steadier comparison. The tools ran in "
        f"{m.get('repeat', 1)} rounds (every tool once per round); every figure is the run with "
        "the median wall time per tool (peak RSS: the largest of them), and the target ratios "
        "are the medians of the per-round ratios.",
        "",
        f"Capture: `{Path(cap['path']).name}`, {packets:,} packets, {int(cap['bytes']) / 1e6:,.0f} MB, "
        f"{cap.get('tcp_flows', '?'):,} TCP + {cap.get('udp_flows', '?'):,} UDP flows (seed "
        f"{cap.get('seed', 7)}). Versions: Python {v['python']}, numpy {v['numpy']}, numba "
        f"{v['numba']}, pandas {v['pandas']}, nfstream {v['nfstream']}, dpkt {v['dpkt']}, scapy "
        f"{v['scapy']}, {v.get('tshark', 'tshark missing').rstrip('.')}.",
        "",
        "| tool | seconds | CPU s | packets/s | × kubewire CLI | × kubewire API | peak RSS MB | note |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in runs:
        if r.missing:
            lines.append(f"| {r.tool} | missing | | | | | | {r.missing} |")
            continue
        x_cli = f"{r.seconds / ref.seconds:.2f}" if ref and ref.tool.endswith("(CLI)") else "-"
        x_api = f"{r.seconds / api.seconds:.2f}" if api and not api.missing else "-"
        extra = ""
        if "flows" in r.out:
            extra = f"{int(r.out['flows']):,} flows"
        note = "; ".join(x for x in (r.note, extra) if x)
        pps = int(r.out.get("file_packets", packets)) / r.seconds
        lines.append(f"| {r.tool} | {r.seconds:.2f} | {r.cpu_s:.2f} | {pps:,.0f} | "
                     f"{x_cli} | {x_api} | {r.rss_mb:.0f} | {note} |")
    lines += ["", "| target | measured | |", "|---|---|---|"]
    for t in res["targets"]:
        met = {True: "met", False: "**missed**", None: "not measured"}[t["met"]]
        lines.append(f"| {t['target']} | {t['measured']} | {met} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="~100 k packets (scale 0.05): a smoke run")
    ap.add_argument("--scale", type=float, help="capture length relative to 60 s (default 1)")
    ap.add_argument("--file", type=Path, help="benchmark this capture instead of the generated one")
    ap.add_argument("--no-4x", dest="big", action="store_false", help="skip the 4× memory check")
    ap.add_argument("--scapy-limit", type=int, help="packets scapy reads (default 50k; 5k quick)")
    ap.add_argument("--repeat", type=int, help="runs per tool, the median kept (default 3; 1 quick)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument("--markdown", type=Path, metavar="RESULTS_JSON",
                    help="only print the README results section for a --json file, and exit")
    a = ap.parse_args(argv)
    if a.markdown:
        print(markdown(json.loads(a.markdown.read_text())), end="")
        return 0
    scale = a.scale or (0.05 if a.quick else 1.0)
    scapy_limit = a.scapy_limit or (5_000 if a.quick else 50_000)
    info = machine()
    path, facts = capture(a.file, scale)
    packets = int(facts["packets"])
    print(f"\n{path}: {packets:,} packets, {path.stat().st_size / 1e6:,.0f} MB; "
          f"{info['cores']} cores ({info['cpu']}), load {info['loadavg_start'][0]:.2f}", flush=True)
    times = a.repeat or (1 if a.quick else 3)
    info["repeat"] = times
    runs = bench(path, facts, scapy_limit, times)
    by = {r.tool: r for r in runs}
    dis = dissect_share(path, times)
    ref = reference(by)
    big: Run | None = None
    if a.big and a.file is None and ref is not None:
        big_path, big_facts = capture(None, scale * 4)
        print(f"  running {ref.tool} on the 4× capture ({int(big_facts['packets']):,} packets) ...",
              flush=True)
        if ref.tool.endswith("(CLI)"):
            with tempfile.TemporaryDirectory() as t:
                big = repeated(lambda: kubewire_cli(big_path, Path(t)), times)
        else:
            big = repeated(lambda: measure(ref.tool, [PY, TOOLS_PY, "kubewire-api", str(big_path)],
                                           stdout_json=True), times)
        big.tool = f"{ref.tool}, 4× capture"
        big.out["file_packets"] = int(big_facts["packets"])
        big.note = f"{big.out['file_packets']:,} packets"
    info["loadavg_end"] = os.getloadavg()
    print()
    print(table([*runs, dis] + ([big] if big else []), packets, ref))
    if ref is not None:
        print(f"\nratios are against {ref.tool}")
    print("\nTargets (issue 2 / issue 4):" + (" (quick: start-up dominates; indicative only)"
                                              if a.quick else ""))
    tg = targets(by, dis, big)
    for name, got, met in tg:
        mark = "MET" if met else "not measured" if met is None else "MISSED"
        print(f"  {name:<52} {got:<44} {mark}")
    print(f"\nload average start {info['loadavg_start'][0]:.2f}, end {info['loadavg_end'][0]:.2f} "
          f"on {info['cores']} cores; every time is the median of {times} rounds, the target "
          "ratios the median of the per-round ratios")
    if a.json:
        a.json.parent.mkdir(parents=True, exist_ok=True)
        a.json.write_text(json.dumps({
            "machine": info, "capture": {"path": str(path), **facts},
            "runs": [asdict(r) for r in [*runs, dis] + ([big] if big else [])],
            "targets": [{"target": n, "measured": g, "met": m} for n, g, m in tg]}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
