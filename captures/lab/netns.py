"""An isolated lab "cluster" of network namespaces: hosts on a bridge, pods behind their node.

Nothing is created in the caller's namespace: the bridge itself lives in a switch namespace,
so the host's real interfaces are never touched and there is no uplink, NAT or route out.
Pods hang off a `cni0` bridge in their node's namespace; cross-node pod traffic is routed
host-gw style, or through a real kernel VXLAN device (`flannel.1`, UDP 4789) in overlay mode.
kube-proxy's `kubernetes` VIP DNAT is an nftables rule in each node namespace.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("kubewire.lab")

BRIDGE_NET = "192.168.10"
VXLAN_PORT = 4789  # IANA VXLAN port (RFC 7348 §5); tshark decodes it without options.


@dataclass(frozen=True, slots=True)
class Host:
    """A machine on the bridge: name, address, optional pod subnet (nodes)."""

    name: str
    ip: str
    pod_subnet: str | None = None  # e.g. "10.244.1" (a /24)


@dataclass(frozen=True, slots=True)
class Pod:
    """A pod: namespace/name, node it runs on, pod IP."""

    namespace: str
    name: str
    node: str
    ip: str

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, slots=True)
class Dnat:
    """One kube-proxy service rule: VIP:port/proto → backend:port."""

    vip: str
    port: int
    proto: str
    backend: str
    backend_port: int


@dataclass
class Lab:
    """The namespaces of one scenario run; `up()` builds, `down()` removes everything."""

    prefix: str
    hosts: list[Host]
    pods: list[Pod]
    dnat: list[Dnat] = field(default_factory=list)
    overlay: str = "host-gw"  # or "vxlan"
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    # --- names ---------------------------------------------------------------------------
    @property
    def switch(self) -> str:
        return f"{self.prefix}-sw"

    def ns(self, name: str) -> str:
        """Namespace of a host name or a pod ref ('ns/name')."""
        if "/" in name:
            idx = [p.ref for p in self.pods].index(name)
            return f"{self.prefix}-pod{idx}"
        return f"{self.prefix}-{name}"

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def pod(self, ref: str) -> Pod:
        return next(p for p in self.pods if p.ref == ref)

    # --- running things ------------------------------------------------------------------
    def sh(self, ns: str | None, *argv: str, check: bool = True, timeout: float = 60,
           env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run argv (in namespace `ns` when given) to completion; raise on failure if check."""
        cmd = (["ip", "netns", "exec", ns] if ns else []) + list(argv)
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False,
                             env=env)
        if check and res.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")
        return res

    def spawn(self, ns: str, argv: list[str], logfile: Path,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        """Start argv in namespace `ns` in the background, in its own process group."""
        out = logfile.open("ab")
        p = subprocess.Popen(["ip", "netns", "exec", ns, *argv], stdout=out, stderr=out,
                             stdin=subprocess.DEVNULL, start_new_session=True, env=env)
        out.close()
        self.procs.append(p)
        return p

    @staticmethod
    def kill(p: subprocess.Popen[bytes], sig: int) -> None:
        """Signal the process group of one process we started, if it still runs."""
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, sig)

    def stop(self, p: subprocess.Popen[bytes], sig: int = signal.SIGTERM, wait: float = 5) -> None:
        """Signal one process group we started and reap it."""
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, sig)
            try:
                p.wait(wait)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait(5)

    # --- lifecycle -----------------------------------------------------------------------
    def all_ns(self) -> list[str]:
        return [self.switch] + [self.ns(h.name) for h in self.hosts] + [self.ns(p.ref)
                                                                         for p in self.pods]

    def _add_ns(self, ns: str) -> None:
        self.sh(None, "ip", "netns", "add", ns)
        self.created.append(ns)
        self.sh(ns, "ip", "link", "set", "lo", "up")
        for knob in ("all", "default"):
            self.sh(ns, "sysctl", "-q", "-w", f"net.ipv6.conf.{knob}.disable_ipv6=1")
        # Ephemeral ports above every port the lab binds on purpose (all < 50000), so a
        # discovered connection can never take a planned one and labels stay exact.
        self.sh(ns, "sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=50000 60999")

    def up(self) -> None:
        """Create namespaces, links, addresses, routes and service DNAT rules."""
        self.down_leftovers()
        self._add_ns(self.switch)
        self.sh(self.switch, "ip", "link", "add", "br0", "type", "bridge", "stp_state", "0")
        self.sh(self.switch, "ip", "link", "set", "br0", "up")
        for i, h in enumerate(self.hosts):
            ns = self.ns(h.name)
            self._add_ns(ns)
            last = h.ip.rsplit(".", 1)[1]
            self.sh(self.switch, "ip", "link", "add", f"vh{i}", "type", "veth", "peer", "name", "eth0",
                    "netns", ns)
            self.sh(self.switch, "ip", "link", "set", f"vh{i}", "master", "br0", "up")
            self.sh(ns, "ip", "link", "set", "eth0", "address", f"52:54:00:0a:00:{int(last):02x}")
            self.sh(ns, "ip", "addr", "add", f"{h.ip}/24", "dev", "eth0")
            self.sh(ns, "ip", "link", "set", "eth0", "up")
            self.sh(ns, "ip", "link", "set", "eth0", "mtu", "1500")
            self.sh(ns, "sysctl", "-q", "-w", "net.ipv4.ip_forward=1")
            if h.pod_subnet:
                self._node_networking(h)
        self._pod_routes()
        for i, p in enumerate(self.pods):
            self._pod(i, p)
        self._kube_proxy()

    def _node_networking(self, h: Host) -> None:
        ns = self.ns(h.name)
        self.sh(ns, "ip", "link", "add", "cni0", "type", "bridge")
        self.sh(ns, "ip", "addr", "add", f"{h.pod_subnet}.1/24", "dev", "cni0")
        self.sh(ns, "ip", "link", "set", "cni0", "up")
        if self.overlay == "vxlan":
            idx = h.pod_subnet.rsplit(".", 1)[1] if h.pod_subnet else "0"
            self.sh(ns, "ip", "link", "add", "flannel.1", "address", f"0a:58:0a:f4:{int(idx):02x}:00",
                    "type", "vxlan", "id", "1", "local", h.ip, "dev", "eth0",
                    "dstport", str(VXLAN_PORT), "nolearning")
            self.sh(ns, "ip", "addr", "add", f"{h.pod_subnet}.0/32", "dev", "flannel.1")
            self.sh(ns, "ip", "link", "set", "flannel.1", "mtu", "1450", "up")

    def _pod_routes(self) -> None:
        """Each host with a pod subnet (and every host without one) learns the others' subnets."""
        nodes = [h for h in self.hosts if h.pod_subnet]
        for h in self.hosts:
            ns = self.ns(h.name)
            for other in nodes:
                if other.name == h.name:
                    continue
                subnet = f"{other.pod_subnet}.0/24"
                if self.overlay == "vxlan" and h.pod_subnet:
                    gw = f"{other.pod_subnet}.0"
                    idx = int(other.pod_subnet.rsplit(".", 1)[1]) if other.pod_subnet else 0
                    mac = f"0a:58:0a:f4:{idx:02x}:00"
                    self.sh(ns, "ip", "neigh", "add", gw, "lladdr", mac, "dev", "flannel.1")
                    self.sh(ns, "bridge", "fdb", "append", mac, "dev", "flannel.1", "dst", other.ip)
                    self.sh(ns, "ip", "route", "add", subnet, "via", gw, "dev", "flannel.1", "onlink")
                else:
                    self.sh(ns, "ip", "route", "add", subnet, "via", other.ip)

    def _pod(self, i: int, p: Pod) -> None:
        ns = self.ns(p.ref)
        node = self.host(p.node)
        self._add_ns(ns)
        nns = self.ns(node.name)
        self.sh(nns, "ip", "link", "add", f"veth{i}", "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.sh(nns, "ip", "link", "set", f"veth{i}", "master", "cni0", "up")
        last = int(p.ip.rsplit(".", 1)[1])
        sub = int(p.ip.split(".")[2])
        self.sh(ns, "ip", "link", "set", "eth0", "address", f"0a:58:0a:f4:{sub:02x}:{last:02x}")
        self.sh(ns, "ip", "addr", "add", f"{p.ip}/24", "dev", "eth0")
        self.sh(ns, "ip", "link", "set", "eth0", "mtu", "1450" if self.overlay == "vxlan" else "1500")
        self.sh(ns, "ip", "link", "set", "eth0", "up")
        self.sh(ns, "ip", "route", "add", "default", "via", f"{node.pod_subnet}.1")

    def _kube_proxy(self) -> None:
        """kube-proxy (nftables mode): DNAT service VIPs to endpoints in every host namespace."""
        if not self.dnat:
            return
        rules = ["table ip kube-proxy {", " chain services {"]
        for d in self.dnat:
            rules.append(f"  ip daddr {d.vip} {d.proto} dport {d.port} dnat to {d.backend}:{d.backend_port}")
        rules += [" }",
                  " chain prerouting {", "  type nat hook prerouting priority dstnat; policy accept;",
                  "  jump services", " }",
                  " chain output {", "  type nat hook output priority -100; policy accept;",
                  "  jump services", " }", "}"]
        text = "\n".join(rules) + "\n"
        for h in self.hosts:
            if not h.pod_subnet:
                continue
            res = subprocess.run(["ip", "netns", "exec", self.ns(h.name), "nft", "-f", "-"], input=text,
                                 text=True, check=False, capture_output=True)
            if res.returncode != 0:
                raise RuntimeError(f"nft in {h.name}: {res.stderr.strip()}")

    def down_leftovers(self) -> None:
        """Remove namespaces of a previous interrupted run with our exact names (idempotence)."""
        existing = set(subprocess.run(["ip", "netns", "list"], capture_output=True, text=True,
                                      check=False).stdout.split())
        for ns in self.all_ns():
            if ns in existing:
                self._kill_ns_pids(ns)
                subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)

    @staticmethod
    def _kill_ns_pids(ns: str) -> None:
        """Processes still inside one of our namespaces were started by an earlier run of ours."""
        pids = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True,
                              check=False).stdout.split()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)

    def down(self) -> None:
        """Stop every process we started, then delete every namespace we created."""
        for p in reversed(self.procs):
            self.stop(p, wait=3)
        self.procs.clear()
        for ns in reversed(self.created):
            self._kill_ns_pids(ns)
        time.sleep(0.2)
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
        self.created.clear()
