"""Health-check load for the chaos runner (`--check-load N`): every director checks N distinct
TCP real servers at delay_loop 1 s (~N checks/s each) while the faults run.

    directors d1..d3  eth0: 192.0.2.0/24, the VRRP LAN (faults act here)
                      eth1: 198.51.100.<n>/24, the real-server LAN (no faults)
    real-server node  eth1: 198.51.100.250/24, `local 203.0.113.0/24 dev lo`

The real-server node answers for the whole of 203.0.113.0/24 (a kernel "local" route, no
NAT and so no conntrack): one accept-and-close loop listening on ports 10000.. serves
203.0.113.1-250 on each port, so N targets need ceil(N / 250) ports, one virtual server each.
The health engine de-duplicates identical checks, so every target is a distinct ip:port.
The loop must accept: a checker's RST does not take an unaccepted connection out of the
listen queue, which would fill after 4096 checks and then stall new ones.

The achieved rate is measured twice:
  * by the accept loop, which counts accepted connections per source address (every
    second; measuring this way costs the daemons nothing);
  * by each director's own counters (SIGUSR1 state dump: the `runs` and `failures` of every
    check), read only at the start and the end of the run, because a dump of thousands of
    servers holds the daemon's main loop for ~0.7 s; a SIGKILLed daemon restarts its
    counters from 0, so they cover the span since its last start.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from integration.chaos.invariant import FREEZE, KILL_RESTART
from integration.harness.netns import Netns
from integration.harness.proc import Proc
from integration.harness.topology import Lan, Node
from integration.harness.wait import wait_until

LOAD_SUBNET = "198.51.100.0/24"
FARM_ADDRESS = "198.51.100.250"
TARGET_PREFIX = "203.0.113."
TARGET_NET = TARGET_PREFIX + "0/24"
HOSTS_PER_PORT = 250  # 203.0.113.1-250
FIRST_PORT = 10000
DELAY_LOOP = 1.0
# Generous: a check that waits this long on a 2-core box is a symptom, not noise.
CHECK_TIMING = {"connect_timeout": 2.0, "retry": 1, "delay_before_retry": 1.0}
REPORT_EVERY = 1.0  # the accept loop's cumulative counts, one JSON line per interval

ACCEPT_LOOP = r"""
import json, os, select, socket, sys, time
first_port, ports, lifetime, every = (int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]),
                                      float(sys.argv[4]))
epoll = select.epoll()
listeners = {}
for port in range(first_port, first_port + ports):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(4096)
    s.setblocking(False)
    listeners[s.fileno()] = s
    epoll.register(s.fileno(), select.EPOLLIN)
accepted = {}
close = os.close
print("ready", flush=True)
start = time.monotonic()
next_report = start + every
# Bounded: the runner kills this process, and it ends by itself after `lifetime` seconds.
while True:
    now = time.monotonic()
    if now >= next_report:
        print(json.dumps({"ts": time.time(), "accepted": accepted}), flush=True)
        next_report += every
        if now - start > lifetime:
            break
    for fd, _mask in epoll.poll(max(0.0, next_report - now)):
        accept = listeners[fd]._accept  # a bare fd: no socket object per connection
        while True:
            try:
                conn, peer = accept()
            except BlockingIOError:
                break
            close(conn)
            accepted[peer[0]] = accepted.get(peer[0], 0) + 1
"""


def target_count_ports(checks_per_second: int) -> tuple[int, int]:
    """(targets, ports) for a wanted rate at DELAY_LOOP."""
    targets = round(checks_per_second * DELAY_LOOP)
    return targets, math.ceil(targets / HOSTS_PER_PORT)


def virtual_servers(checks_per_second: int, vip: str) -> list[dict[str, Any]]:
    """One virtual server per port on the VIP, each with up to 250 TCP-checked real servers;
    `checks_per_second` distinct targets in all."""
    targets, ports = target_count_ports(checks_per_second)
    services = []
    for index in range(ports):
        port = FIRST_PORT + index
        hosts = min(HOSTS_PER_PORT, targets - index * HOSTS_PER_PORT)
        services.append({
            "address": vip, "port": port, "protocol": "TCP", "lb_algo": "rr",
            "lb_kind": "NAT", "delay_loop": DELAY_LOOP,
            "real_servers": [{"address": f"{TARGET_PREFIX}{host}", "port": port,
                              "tcp_check": dict(CHECK_TIMING)}
                             for host in range(1, hosts + 1)],
        })
    return services


class RealServerFarm:
    """The real-server segment, routes and the accept loop; `close()` stops the loop (the
    namespaces go with the Lan)."""

    def __init__(self, lan: Lan, directors: dict[str, Node], workdir: Path,
                 checks_per_second: int, lifetime: float) -> None:
        self.checks_per_second = checks_per_second
        self.targets, self.ports = target_count_ports(checks_per_second)
        self.log_path = Path(workdir) / "real-servers.log"
        self.proc: Proc | None = None
        segment = lan.add_segment(LOAD_SUBNET)
        self.director_addresses: dict[str, str] = {}
        for name, node in directors.items():
            lan.attach(node, segment)
            self.director_addresses[name] = node.interfaces["eth1"].split("/")[0]
            node.netns.ip("route", "add", TARGET_NET, "via", FARM_ADDRESS, "dev", "eth1")
        # Built by hand rather than lan.add_node: this node has no leg on the VRRP LAN. It
        # is registered with the Lan so that Lan.close() deletes its namespace.
        self.node = Node("rs", Netns(f"{lan.prefix}rs"), len(lan.nodes) + 1)
        lan.nodes["rs"] = self.node
        lan.attach(self.node, segment, FARM_ADDRESS)
        self.node.netns.ip("route", "add", "local", TARGET_NET, "dev", "lo")
        self.proc = Proc(self.node.netns,
                         [sys.executable, "-c", ACCEPT_LOOP, str(FIRST_PORT), str(self.ports),
                          str(lifetime), str(REPORT_EVERY)],
                         self.log_path, name="real-servers")
        wait_until(lambda: "ready" in self.proc.log_text() or not self.proc.alive(), 10,
                   what="the real-server accept loop")
        if not self.proc.alive():
            raise RuntimeError(f"real-server accept loop exited\n{self.proc.log_tail()}")

    def accepted(self) -> list[tuple[float, dict[str, int]]]:
        """The accept loop's reports: (ts, cumulative accepted connections per source)."""
        reports = []
        text = self.proc.log_text() if self.proc else ""
        for line in text.splitlines():
            if line.startswith("{"):
                with contextlib.suppress(ValueError, KeyError):
                    entry = json.loads(line)
                    reports.append((entry["ts"], entry["accepted"]))
        return reports

    def accepted_total(self, address: str) -> int:
        """Connections accepted from `address` so far (as of the last report)."""
        reports = self.accepted()
        return reports[-1][1].get(address, 0) if reports else 0

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()


@dataclass(frozen=True)
class Reading:
    """One director's check counters at `ts` (from its state dump)."""

    ts: float
    started_at: float  # when this run of the daemon started (a restart resets the counters)
    runs: int
    failures: int
    servers: int
    servers_up: int
    cpu_seconds: float  # the daemon's user + system CPU time so far (this run)
    # How the checks' last runs were spread: distinct 10 ms slots in which they started
    # (5,000 checks evenly spread over 1 s would use ~100) and the median time from a
    # check's start to its result being collected.
    start_slots: int = 0
    median_latency: float = 0.0


def reading_from_dump(dump: dict[str, Any], cpu_seconds: float) -> Reading:
    servers = dump["ipvs"]["real_servers"]
    runs = failures = 0
    slots: set[int] = set()
    latencies = []
    for server in servers:
        for check in server["checks"]:
            runs += check["runs"]
            failures += check["failures"]
            if check["last_checked"] is not None:
                slots.add(round((check["last_checked"] - check["latency"]) * 100))
                latencies.append(check["latency"])
    latencies.sort()
    return Reading(dump["generated_at"], dump["started_at"], runs, failures, len(servers),
                   sum(1 for s in servers if s["up"]), cpu_seconds, start_slots=len(slots),
                   median_latency=latencies[len(latencies) // 2] if latencies else 0.0)


def host_cpu_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of `pid` from /proc (0.0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def accepted_between(reports: list[tuple[float, dict[str, int]]], address: str, start: float,
                     end: float) -> tuple[int, float] | None:
    """(connections from `address`, seconds) between the accept loop's first and last
    reports inside [start, end]; None with fewer than two reports there."""
    inside = [(ts, counts) for ts, counts in reports if start <= ts <= end]
    if len(inside) < 2:
        return None
    (first_ts, first), (last_ts, last) = inside[0], inside[-1]
    return last.get(address, 0) - first.get(address, 0), last_ts - first_ts


def paused_seconds(faults: Iterable[Any], name: str, start: float, end: float) -> float:
    """Time within [start, end] in which the runner had `name` killed or frozen. A restarted
    daemon spreads its first round of checks over one delay_loop by design, so that second
    counts as paused too."""
    total = 0.0
    for fault in faults:
        if fault.target != name or fault.kind not in (KILL_RESTART, FREEZE):
            continue
        ended = fault.ended if fault.ended is not None else end
        if fault.kind == KILL_RESTART:
            ended += DELAY_LOOP
        total += max(0.0, min(ended, end) - max(fault.started, start))
    return total


def down_event_count(log_path: Path) -> int:
    """'real server down' lines in a daemon's log (all its runs: the log is appended)."""
    try:
        text = log_path.read_text(errors="replace")
    except FileNotFoundError:
        return 0
    return text.count('"real server down"')


@dataclass
class DirectorLoad:
    """What one director's health checks did over the measured window.

    The rate comes from the real servers (connections they accepted from this director),
    so measuring it does not disturb the daemon. The daemon's own counters give the failed
    fraction; they are read at the window's start and end only (a dump of thousands of
    servers holds the daemon's main loop for a fraction of a second), so after a restart
    they cover the span since that restart."""

    name: str
    window: float  # seconds between the accept loop's first and last report in the window
    accepted: int  # connections the real servers accepted from this director
    paused: float  # seconds of the window the runner had this director killed or frozen
    counted_checks: int  # checks by the daemon's counters over `counted_span`
    counted_failures: int
    counted_span: float
    cpu_seconds: float  # the daemon's CPU time over `counted_span`
    servers: int
    servers_up_at_end: int
    down_events: int  # "real server down" lines in its log, whole run
    start_slots_at_end: int = 0
    median_latency_at_end: float = 0.0

    @property
    def rate(self) -> float:
        """Checks per second of wall clock, faults included."""
        return self.accepted / self.window if self.window > 0 else 0.0

    @property
    def running_rate(self) -> float:
        """Checks per second while the daemon was neither killed nor frozen."""
        running = self.window - self.paused
        return self.accepted / running if running > 0 else 0.0

    @property
    def success(self) -> float:
        if not self.counted_checks:
            return 0.0
        return 1 - self.counted_failures / self.counted_checks

    @property
    def counted_rate(self) -> float:
        return self.counted_checks / self.counted_span if self.counted_span > 0 else 0.0


def director_load(name: str, first: Reading, last: Reading,
                  accepted: tuple[int, float] | None, paused: float,
                  down_events: int) -> DirectorLoad:
    """`first`/`last`: the daemon's readings at the window's start and end. When it was
    restarted in between, its counters and CPU time started again from 0 with the last
    run: they are counted from that run's start."""
    if last.started_at == first.started_at:
        base = first
    else:
        base = Reading(last.started_at, last.started_at, 0, 0, 0, 0, 0.0)
    count, window = accepted if accepted is not None else (0, 0.0)
    return DirectorLoad(
        name, window=window, accepted=count, paused=paused,
        counted_checks=last.runs - base.runs, counted_failures=last.failures - base.failures,
        counted_span=last.ts - base.ts, cpu_seconds=last.cpu_seconds - base.cpu_seconds,
        servers=last.servers, servers_up_at_end=last.servers_up, down_events=down_events,
        start_slots_at_end=last.start_slots, median_latency_at_end=last.median_latency)


@dataclass
class LoadSummary:
    target: int  # checks/s configured per director (targets / delay_loop)
    directors: list[DirectorLoad] = field(default_factory=list)
    busy_cores: float | None = None  # the whole machine's busy CPUs over the window
    cores: int = 0

    @property
    def lowest_running_rate(self) -> float:
        return min((d.running_rate for d in self.directors), default=0.0)

    @property
    def lowest_success(self) -> float:
        return min((d.success for d in self.directors), default=0.0)

    def render(self) -> str:
        lines = [f"check load: {self.target:,} TCP real servers per director at delay_loop "
                 f"{DELAY_LOOP:g} s (nominal {self.target:,} checks/s each)"
                 + ("" if self.busy_cores is None else
                    f"; machine {self.busy_cores:.2f} of {self.cores} CPUs busy")]
        for d in self.directors:
            lines.append(
                f"  {d.name}: real servers accepted {d.accepted:,} checks in {d.window:.0f} s"
                f" = {d.rate:,.0f}/s, {d.running_rate:,.0f}/s while running "
                f"({d.paused:.1f} s killed/frozen)")
            lines.append(
                f"      daemon counters: {d.counted_checks:,} checks in {d.counted_span:.0f} s"
                f" ({d.counted_rate:,.0f}/s), {d.counted_failures:,} failed "
                f"({d.success:.3%} succeeded), CPU {d.cpu_seconds / d.counted_span:.0%} of "
                f"a core; up at end {d.servers_up_at_end:,}/{d.servers:,}; "
                f"'real server down' log lines {d.down_events}"
                if d.counted_span > 0 else "      daemon counters: none")
            lines.append(
                f"      last round of checks: started in {d.start_slots_at_end} distinct "
                f"10 ms slots, median start->result {d.median_latency_at_end * 1000:.0f} ms")
        lowest = self.lowest_running_rate
        verdict = "reached" if lowest >= self.target * 0.98 else "NOT reached"
        lines.append(f"  nominal rate {verdict}: lowest achieved while running "
                     f"{lowest:,.0f}/s = {lowest / self.target:.0%} of {self.target:,}")
        return "\n".join(lines)
