"""Resource soak: two haipvs directors flapping once a second for a long time, sampled for fd,
thread, task and memory growth (issue 9).

    sudo .venv/bin/python bench/soak.py --minutes 30 --out docs/soak [--plot docs/soak.png]

Topology (all in network namespaces this script creates; the host's is never touched):

    director LAN 192.0.2.0/24 (br0):   d1 .1   d2 .2            VIP 192.0.2.100 (VRRPv3, VRID 51)
    real-server LAN 198.51.100.0/24:   d1 .1   d2 .2   rs .3 + .11 .12 .13 (listeners on :8080)

d1 (priority 150) and d2 (120) run VRRPv3 with advert_int 0.1 s and preempt, a track file
(weight -1) on d1, a `notify` script, an event log and the metrics endpoint, and health-check
the three real servers (tcp_check, delay_loop 1 s, no retry) of virtual server VIP:80.

Every second one flap, alternately:
  (a) mastership: d1's track file goes 0 -> 60 (150 - 60 = 90 < 120: d2 preempts) or back
      (d1 preempts again); VIPs move, GARPs go out, events and notify scripts fire;
  (b) health: one real server's listener closes or reopens; both directors see it go
      down or up (events, reconciler pass).
Every 60 flaps both daemons get SIGHUP with a changed config (base priorities -1 / back,
one real server's connect_timeout 1 s / 1.5 s, so its check is replaced).

Every 10 s each daemon is sampled: fds (/proc/PID/fd), OS threads (/proc/PID/task), RSS
(VmRSS), CPU time, and from the SIGUSR1 dump's `process` section the Python threads and the
trio tasks of the main and VRRP loops; plus VRRP transitions (dump counters) and real-server
transitions (the event log), so the report proves the flapping happened.

IPVS is absent on the test kernel, so the daemon's reconciler keeps retrying (at once after
every real-server change). The samples count the NETLINK_GENERIC sockets the daemon holds:
since 409daf9 that is the reconciler's one IPVS family probe socket, kept across retries.
Before b60a7da each failed open left 4 fds behind (docs/soak/run1 counts them as
"ipvs_probe_leftovers"), and until 409daf9 each retry built and dropped a thread and
pyroute2's IPVS object.

Before the first flap and after the last one the cluster is brought back to its baseline
(d1 MASTER, every real server up) and read once its fds and threads have not changed for
12 s ("settled" readings, compared in the summary; integration/test_soak_short.py uses them).

Output in --out: soak.csv (one row per daemon per sample, written as it goes) and
summary.json; the summary is printed too (warm-up value, end value, max and least-squares
slope per hour after warm-up, per daemon and metric). Everything is torn down on exit,
also on Ctrl-C, SIGTERM or an error.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: bench/ is on sys.path, the repo is not
    sys.path.insert(0, str(REPO_ROOT))

from integration.harness.instance import VrrpInstance  # noqa: E402
from integration.harness.netns import call_in_netns  # noqa: E402
from integration.harness.proc import Proc  # noqa: E402
from integration.harness.topology import Lan  # noqa: E402
from integration.harness.wait import wait_until  # noqa: E402
from integration.test_ops_support import OpsNode  # noqa: E402

VIP = "192.0.2.100"
PRIORITIES = {"d1": 150, "d2": 120}
DEMOTION = 60  # d1's track-file value while demoted: 150 - 60 = 90, below d2's 120
BASE = VrrpInstance(version=3, advert_int=0.1, password=None, vrid=51, vips=(f"{VIP}/24",),
                    preempt=True)
REAL_SERVER_SUBNET = "198.51.100.0/24"
REAL_SERVERS = ("198.51.100.11", "198.51.100.12", "198.51.100.13")
REAL_SERVER_PORT = 8080
DELAY_LOOP = 1.0
METRICS_PORT = 9650
FLAP_INTERVAL = 1.0
FLAP_KINDS = ("mastership", "health")  # even flaps, odd flaps
RELOAD_EVERY = 60  # flaps
SAMPLE_EVERY = 10.0  # seconds
WARMUP = 120.0  # seconds; the reference point for growth

NETLINK_GENERIC = 16
SETTLE_STILL = 12.0  # s; longer than trio's 10 s idle timeout for worker threads

# Summary metrics: CSV column -> what it is.
METRICS = {
    "fds": "open fds (/proc/PID/fd)",
    "genl_sockets": "NETLINK_GENERIC sockets (the IPVS family probe's)",
    "os_threads": "OS threads (/proc/PID/task)",
    "py_threads": "Python threads (dump: threading.active_count)",
    "main_loop_tasks": "trio tasks, main loop (dump)",
    "vrrp_loop_tasks": "trio tasks, VRRP loop (dump)",
    "rss_mib": "RSS, MiB (/proc/PID/status VmRSS)",
}

# The real servers: one process, one listening socket per address; a `down-<address>` file
# in the control directory closes that listener (connects are refused), removing it reopens
# it. Exits by itself if the soak that started it goes away (reparented).
LISTENERS = r"""
import os, selectors, socket, sys
control, port, addresses = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
parent = os.getppid()
selector = selectors.DefaultSelector()
listening = {}
announced = False
while os.getppid() == parent:
    for address in addresses:
        down = os.path.exists(os.path.join(control, "down-" + address))
        if down and address in listening:
            sock = listening.pop(address)
            selector.unregister(sock)
            sock.close()
        elif not down and address not in listening:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((address, port))
            sock.listen(64)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
            listening[address] = sock
    if not announced:
        print("ready", flush=True)
        announced = True
    for key, _ in selector.select(timeout=0.05):
        try:
            key.fileobj.accept()[0].close()
        except BlockingIOError:
            pass
"""

# --trace-memory: the daemon runs under this wrapper, which starts tracemalloc and every
# `interval` seconds appends one JSON line to `trace_path`: RSS, traced memory, gc counters
# and object counts, and (after `baseline_after` s) the biggest allocation growth by source
# line and by object type against the snapshot taken then. Diagnosis only: tracemalloc
# slows the daemon down and the watcher is one more thread.
MEMORY_TRACER = r"""
import gc, json, sys, threading, time, tracemalloc
from collections import Counter
trace_path, interval, baseline_after = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
sys.argv = ["haipvs", *sys.argv[4:]]
tracemalloc.start(10)
started = time.monotonic()

def rss_kib():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

def watch():
    baseline = base_types = None
    while True:
        time.sleep(interval)
        snapshot = tracemalloc.take_snapshot().filter_traces(
            [tracemalloc.Filter(False, tracemalloc.__file__)])
        types = Counter(type(o).__name__ for o in gc.get_objects())
        entry = {"t": round(time.monotonic() - started, 1), "rss_kib": rss_kib(),
                 "traced_kib": tracemalloc.get_traced_memory()[0] // 1024,
                 "gc_count": gc.get_count(), "gc_objects": sum(types.values()),
                 "gc_collections": [g["collections"] for g in gc.get_stats()],
                 "gc_collected": [g["collected"] for g in gc.get_stats()],
                 "gc_garbage": len(gc.garbage)}
        if baseline is None and entry["t"] >= baseline_after:
            baseline, base_types = snapshot, types
        if baseline is not None:
            entry["growth_by_line"] = [
                {"where": str(stat.traceback[0]), "kib": round(stat.size_diff / 1024, 1),
                 "count": stat.count_diff}
                for stat in snapshot.compare_to(baseline, "lineno")[:12]]
            entry["growth_by_traceback"] = [
                {"kib": round(stat.size_diff / 1024, 1), "count": stat.count_diff,
                 "traceback": [str(frame) for frame in stat.traceback]}
                for stat in snapshot.compare_to(baseline, "traceback")[:4]]
            entry["growth_by_type"] = (types - base_types).most_common(12)
        with open(trace_path, "a") as out:
            out.write(json.dumps(entry) + "\n")

threading.Thread(target=watch, name="memtrace", daemon=True).start()
from haipvs.cli import main
sys.exit(main())
"""


class SoakNode(OpsNode):
    """An OpsNode that can run its daemon under MEMORY_TRACER."""

    trace: tuple[Path, float, float] | None = None  # (trace file, interval, baseline after)

    def start(self) -> SoakNode:
        if self.trace is None:
            super().start()
            return self
        path, interval, baseline_after = self.trace
        argv = [sys.executable, "-c", MEMORY_TRACER, str(path), str(interval),
                str(baseline_after), "--config", str(self.conf_path), "--state-dir",
                str(self.state_dir), "--pid-file", str(self.pid_path), "--log-format", "json"]
        self.runs += 1
        env = None if self.env is None else {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **self.env}
        self.proc = Proc(self.node.netns, argv, self.log_path, name=f"haipvs-{self.node.name}",
                         env=env)
        return self


@dataclass
class Sample:
    """One daemon at one moment."""

    elapsed_s: float
    daemon: str
    flaps: int
    fds: int
    genl_sockets: int
    os_threads: int
    rss_kib: int
    cpu_s: float
    py_threads: int
    main_loop_tasks: int
    vrrp_loop_tasks: int
    state: str
    vrrp_transitions: int
    health_transitions: int
    reloads: int

    @property
    def rss_mib(self) -> float:
        return self.rss_kib / 1024

    def metric(self, name: str) -> float:
        return self.rss_mib if name == "rss_mib" else getattr(self, name)


CSV_FIELDS = [f.name for f in fields(Sample)]
SETTLED_KEYS = ("fds", "genl_sockets", "os_threads",
                "py_threads", "main_loop_tasks", "vrrp_loop_tasks", "rss_kib")


def proc_status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(f"{field} not in /proc/{pid}/status")


def netlink_generic_sockets(pid: int) -> int:
    """NETLINK_GENERIC sockets among the process's fds (/proc/PID/net/netlink is the table
    of the process's own network namespace)."""
    generic = set()
    for line in Path(f"/proc/{pid}/net/netlink").read_text().splitlines()[1:]:
        columns = line.split()
        if int(columns[1]) == NETLINK_GENERIC:
            generic.add(f"socket:[{columns[-1]}]")
    count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(OSError):  # an fd may close while we look
            count += os.readlink(f"/proc/{pid}/fd/{fd}") in generic
    return count


@dataclass
class ProcReading:
    """What /proc says about a process, without asking it anything."""

    fds: int
    genl_sockets: int
    os_threads: int
    rss_kib: int
    cpu_s: float


def read_proc(pid: int) -> ProcReading:
    return ProcReading(fds=len(os.listdir(f"/proc/{pid}/fd")),
                       genl_sockets=netlink_generic_sockets(pid),
                       os_threads=len(os.listdir(f"/proc/{pid}/task")),
                       rss_kib=proc_status_kib(pid, "VmRSS"),
                       cpu_s=round(proc_cpu_seconds(pid), 2))


def proc_cpu_seconds(pid: int) -> float:
    # Fields after the ")" of the command name: utime and stime are the 12th and 13th.
    after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / os.sysconf("SC_CLK_TCK")


class SoakCluster:
    """d1, d2 and the real-server node with their daemons; a context manager that tears all
    of it down, also on failure."""

    def __init__(self, workdir: Path, prefix: str = "hs",
                 trace_memory: tuple[float, float] | None = None,
                 daemon_env: dict[str, str] | None = None,
                 flap_kinds: tuple[str, ...] = FLAP_KINDS) -> None:
        self.flap_kinds = flap_kinds
        self.workdir = Path(workdir)
        self.control = self.workdir / "control"
        self.control.mkdir(parents=True, exist_ok=True)
        self.lan = Lan(prefix=prefix)
        self.directors: dict[str, SoakNode] = {}
        self.listeners: Proc | None = None
        self.track_file = self.workdir / "track-d1"
        self.track_file.write_text("0\n")
        self.demoted = False
        self.down: set[str] = set()
        self.variant = 0  # flips on every reload
        self.flaps = 0
        self.mastership_flaps = 0
        self.health_flaps = 0
        self.reloads = 0
        try:
            nodes = {name: self.lan.add_node(name) for name in PRIORITIES}
            self.rs_node = self.lan.add_node("rs")
            backend = self.lan.add_segment(REAL_SERVER_SUBNET)
            for node in (*nodes.values(), self.rs_node):
                self.lan.attach(node, backend)
            for address in REAL_SERVERS:
                self.rs_node.netns.ip("addr", "add", f"{address}/24", "dev", "eth1")
            for name, node in nodes.items():
                self.directors[name] = SoakNode(node, self.workdir, [self._instance(name)],
                                                top=self._top(name),
                                                per_instance={"VI_1": self._per_instance(name)},
                                                env=daemon_env)
                if trace_memory is not None:
                    self.directors[name].trace = (self.memory_trace(name), *trace_memory)
        except BaseException:
            self.lan.close()
            raise

    # --- configuration ---

    def memory_trace(self, name: str) -> Path:
        return self.workdir / f"memtrace-{name}.jsonl"

    def event_log(self, name: str) -> Path:
        return self.workdir / f"events-{name}.jsonl"

    def _instance(self, name: str) -> VrrpInstance:
        return BASE.but(priority=PRIORITIES[name] - self.variant)

    def _per_instance(self, name: str) -> dict[str, Any]:
        extra: dict[str, Any] = {"notify": ["/bin/true"]}
        if name == "d1":
            extra["track_file"] = ["flap"]
        return extra

    def _top(self, name: str) -> dict[str, Any]:
        servers = []
        for index, address in enumerate(REAL_SERVERS):
            connect_timeout = 1.0 + 0.5 * self.variant if index == 0 else 1.0
            servers.append({"address": address, "port": REAL_SERVER_PORT,
                            "tcp_check": {"connect_timeout": connect_timeout, "retry": 0}})
        top: dict[str, Any] = {
            "global": {"event_log": str(self.event_log(name)),
                       "metrics_listen": f"127.0.0.1:{METRICS_PORT}"},
            "virtual_servers": [{"address": VIP, "port": 80, "protocol": "TCP",
                                 "lb_algo": "rr", "lb_kind": "NAT", "delay_loop": DELAY_LOOP,
                                 "real_servers": servers}],
        }
        if name == "d1":
            top["vrrp_track_files"] = [{"name": "flap", "file": str(self.track_file),
                                        "weight": -1}]
        return top

    def _write_configs(self) -> None:
        for name, daemon in self.directors.items():
            daemon.top = self._top(name)
            daemon.write_config([self._instance(name)])

    # --- life cycle ---

    def start(self, timeout: float = 60.0) -> None:
        """Listeners, then d1 (until MASTER: cold starts race otherwise), then d2; until both
        see every real server up."""
        log = self.workdir / "listeners.log"
        self.listeners = Proc(self.rs_node.netns,
                              [sys.executable, "-c", LISTENERS, str(self.control),
                               str(REAL_SERVER_PORT), *REAL_SERVERS], log, name="listeners")
        wait_until(lambda: "ready" in log.read_text(), timeout, what="real-server listeners",
                   describe=self.listeners.log_tail)
        d1, d2 = self.directors["d1"], self.directors["d2"]
        d1.start()
        d1.wait_state("MASTER", timeout)
        d2.start()
        d2.wait_state("BACKUP", timeout)
        self.wait_baseline(timeout)

    def wait_baseline(self, timeout: float = 20.0) -> None:
        """Until d1 is MASTER, d2 BACKUP and both see every real server up."""
        wait_until(self.at_baseline, timeout, interval=0.2,
                   what="d1 MASTER, d2 BACKUP, every real server up on both",
                   describe=self.describe)

    def at_baseline(self) -> bool:
        dumps = {name: daemon.dump() for name, daemon in self.directors.items()}
        if (dumps["d1"]["instances"]["VI_1"]["state"], dumps["d2"]["instances"]["VI_1"]["state"]
                ) != ("MASTER", "BACKUP"):
            return False
        return all(len(servers := dump["ipvs"]["real_servers"]) == len(REAL_SERVERS)
                   and all(s["up"] for s in servers) for dump in dumps.values())

    def restore_baseline(self, timeout: float = 20.0) -> None:
        """Undo the flaps in force (d1 promoted, every listener open) and wait for it."""
        if self.demoted:
            self.track_file.write_text("0\n")
            self.demoted = False
        for address in sorted(self.down):
            (self.control / f"down-{address}").unlink()
        self.down.clear()
        self.wait_baseline(timeout)

    def check_alive(self) -> None:
        for name, daemon in self.directors.items():
            if not daemon.alive:
                raise RuntimeError(f"haipvs on {name} exited with {daemon.proc.returncode}\n"
                                   f"{daemon.describe()}")
        if self.listeners is None or not self.listeners.alive():
            raise RuntimeError("the real-server listeners exited")

    def describe(self) -> str:
        return "\n".join(d.describe() for d in self.directors.values())

    def close(self) -> None:
        for daemon in self.directors.values():
            if daemon.proc is not None:
                with contextlib.suppress(Exception):
                    daemon.proc.stop(timeout=5)
        if self.listeners is not None:
            self.listeners.kill()
        self.lan.close()

    def __enter__(self) -> SoakCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- flaps ---

    def flap(self) -> str:
        """One flap; even ones move mastership, odd ones flip a real server's health (a kind
        left out of `flap_kinds` leaves its slots empty, so the other keeps its pace)."""
        index = self.flaps
        self.flaps += 1
        kind = FLAP_KINDS[index % 2]
        if kind not in self.flap_kinds:
            did = f"({kind} left out)"
        elif kind == "mastership":
            self.demoted = not self.demoted
            self.track_file.write_text(f"{DEMOTION if self.demoted else 0}\n")
            self.mastership_flaps += 1
            did = f"d1 {'demoted' if self.demoted else 'promoted'}"
        else:
            # Each server goes down, comes back up on the next health flap, then the next one.
            address = REAL_SERVERS[(self.health_flaps // 2) % len(REAL_SERVERS)]
            marker = self.control / f"down-{address}"
            if address in self.down:
                marker.unlink()
                self.down.discard(address)
                did = f"{address} up"
            else:
                marker.write_text("")
                self.down.add(address)
                did = f"{address} down"
            self.health_flaps += 1
        if self.flaps % RELOAD_EVERY == RELOAD_EVERY // 2:
            self.reload()
            did += ", reload"
        return did

    def reload(self) -> None:
        """SIGHUP both daemons with a changed config (priorities, one check's timeout)."""
        self.variant = 1 - self.variant
        self._write_configs()
        for daemon in self.directors.values():
            daemon.reload()
        self.reloads += 1

    # --- sampling ---

    def health_transitions(self, name: str) -> int:
        path = self.event_log(name)
        if not path.exists():
            return 0
        return sum(1 for line in path.read_text().splitlines()
                   if '"kind": "realserver"' in line)

    def scrape_metrics(self, name: str) -> str:
        """GET /metrics from inside the director's netns (the endpoint's sockets are soaked
        too)."""
        def get() -> str:
            url = f"http://127.0.0.1:{METRICS_PORT}/metrics"
            with urllib.request.urlopen(url, timeout=5) as reply:
                return reply.read().decode()

        return call_in_netns(self.directors[name].node.ns, get)

    def sample(self, elapsed: float) -> list[Sample]:
        """Every daemon: /proc first (the outside view), then the SIGUSR1 dump."""
        self.check_alive()
        samples = []
        for name, daemon in self.directors.items():
            samples.append(self._sample_one(name, elapsed, read_proc(daemon.proc.pid)))
            self.scrape_metrics(name)
        return samples

    def _sample_one(self, name: str, elapsed: float, proc: ProcReading) -> Sample:
        dump = self.directors[name].dump(timeout=10)
        process = dump["process"]
        instance = dump["instances"]["VI_1"]
        return Sample(
            elapsed_s=round(elapsed, 2), daemon=name, flaps=self.flaps, fds=proc.fds,
            genl_sockets=proc.genl_sockets, os_threads=proc.os_threads,
            rss_kib=proc.rss_kib, cpu_s=proc.cpu_s, py_threads=process["threads"],
            main_loop_tasks=process["main_loop_tasks"],
            vrrp_loop_tasks=process["vrrp_loop_tasks"], state=instance["state"],
            vrrp_transitions=instance["counters"]["transitions"],
            health_transitions=self.health_transitions(name), reloads=dump["reloads"])

    def settled_sample(self, elapsed: float, still_for: float = SETTLE_STILL,
                       timeout: float = 120.0) -> list[Sample]:
        """Back to the baseline, then one sample per daemon once its fds, NETLINK_GENERIC
        sockets and OS threads have not changed for `still_for` seconds: no
        notify script, GARP burst, in-flight check or idle trio worker thread is in the
        numbers. /proc only while waiting (a dump would start a worker thread itself)."""
        self.restore_baseline()
        pids = {name: daemon.proc.pid for name, daemon in self.directors.items()}

        def reading() -> dict[str, ProcReading]:
            self.check_alive()
            return {name: read_proc(pid) for name, pid in pids.items()}

        def shape(readings: dict[str, ProcReading]) -> dict[str, tuple[int, int, int]]:
            return {n: (r.fds, r.genl_sockets, r.os_threads)
                    for n, r in readings.items()}

        deadline = time.monotonic() + timeout
        readings = reading()
        still_since = time.monotonic()
        while time.monotonic() - still_since < still_for:
            if time.monotonic() > deadline:
                raise RuntimeError(f"/proc never still for {still_for} s in {timeout} s; "
                                   f"last {shape(readings)}")
            time.sleep(0.5)
            latest = reading()
            if shape(latest) != shape(readings):
                still_since = time.monotonic()
            readings = latest
        return [self._sample_one(name, elapsed, readings[name]) for name in pids]

    def log_levels(self) -> dict[str, dict[str, int]]:
        """Per daemon: warning/error log events by name (a soak should not produce many)."""
        result = {}
        for name, daemon in self.directors.items():
            counts = Counter(f"{e.get('level')}:{e.get('event')}" for e in daemon.log_events()
                             if e.get("level") in ("warning", "error", "critical"))
            result[name] = dict(sorted(counts.items()))
        return result


def run_flaps(cluster: SoakCluster, count: int, on_sample: Callable[[list[Sample]], None],
              sample_every: float = SAMPLE_EVERY, clock_start: float | None = None,
              progress: Callable[[str], None] | None = None) -> None:
    """`count` flaps, one per FLAP_INTERVAL (paced on the monotonic clock, so a slow sample
    does not stretch the run), sampling every `sample_every` seconds from `clock_start`."""
    started = time.monotonic()
    clock_start = started if clock_start is None else clock_start
    next_sample = clock_start + sample_every * (1 + int((started - clock_start) / sample_every))
    for index in range(count):
        flap_at = started + index * FLAP_INTERVAL
        while True:
            now = time.monotonic()
            if now >= next_sample:
                on_sample(cluster.sample(now - clock_start))
                next_sample += sample_every
                continue
            if now >= flap_at:
                break
            time.sleep(min(flap_at, next_sample) - now)
        did = cluster.flap()
        if progress is not None:
            progress(f"flap {cluster.flaps}: {did}")


# --- summary ---


def least_squares_slope(points: list[tuple[float, float]]) -> float:
    """Slope of the least-squares line through (x, y) points (0 for fewer than two)."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread == 0:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def summarize(samples: list[Sample], warmup: float) -> dict[str, Any]:
    """Per daemon and metric: value at the first sample at or after `warmup`, at the end,
    min/max after warm-up, least-squares slope per hour after warm-up."""
    result: dict[str, Any] = {}
    for name in sorted({s.daemon for s in samples}):
        mine = [s for s in samples if s.daemon == name]
        after = [s for s in mine if s.elapsed_s >= warmup] or mine[-1:]
        first, last = after[0], mine[-1]
        metrics = {}
        for metric in METRICS:
            values = [s.metric(metric) for s in after]
            slope = least_squares_slope([(s.elapsed_s / 3600, s.metric(metric)) for s in after])
            metrics[metric] = {
                "warmup": round(first.metric(metric), 3), "end": round(last.metric(metric), 3),
                "min": round(min(values), 3), "max": round(max(values), 3),
                "overall_max": round(max(s.metric(metric) for s in mine), 3),
                "slope_per_hour": round(slope, 3)}
        result[name] = {
            "warmup_at_s": first.elapsed_s, "end_at_s": last.elapsed_s,
            "samples_after_warmup": len(after), "metrics": metrics,
            "vrrp_transitions": last.vrrp_transitions,
            "health_transitions": last.health_transitions, "reloads": last.reloads,
            "cpu_s": last.cpu_s}
    return result


def render_summary(summary: dict[str, Any]) -> str:
    lines = [f"soak: {summary['flaps']} flaps ({summary['mastership_flaps']} mastership, "
             f"{summary['health_flaps']} health), reloads: {summary['reloads']}, "
             f"{summary['wall_seconds'] / 60:.1f} min, {summary['samples']} samples per daemon; "
             f"warm-up {summary['warmup_s']:.0f} s"]
    for name, per in summary["daemons"].items():
        lines.append(f"{name}: {per['vrrp_transitions']} VRRP transitions, "
                     f"{per['health_transitions']} real-server transitions, "
                     f"reloads applied: {per['reloads']}, CPU {per['cpu_s']:.0f} s; "
                     f"warm-up at {per['warmup_at_s']:.0f} s, end at {per['end_at_s']:.0f} s")
        lines.append(f"  {'metric':<23}{'warm-up':>10}{'end':>10}{'min':>10}{'max':>10}"
                     f"{'slope/h':>10}")
        for metric, values in per["metrics"].items():
            lines.append(f"  {metric:<23}{values['warmup']:>10g}{values['end']:>10g}"
                         f"{values['min']:>10g}{values['max']:>10g}"
                         f"{values['slope_per_hour']:>10.3g}")
    settled = summary.get("settled", {})
    if "before" in settled and "after" in settled:
        lines.append("settled (baseline, /proc still for 12 s), before the first flap -> "
                     "after the last:")
        for before, after in zip(settled["before"], settled["after"], strict=True):
            lines.append(f"  {before['daemon']}: " + ", ".join(
                f"{key} {before[key]} -> {after[key]}" for key in SETTLED_KEYS))
    for name, levels in summary.get("log_levels", {}).items():
        if levels:
            lines.append(f"{name} warnings/errors logged: "
                         + ", ".join(f"{k} x{v}" for k, v in levels.items()))
    return "\n".join(lines)


# --- the command ---


@contextlib.contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM behaves like Ctrl-C, so the `with` blocks tear everything down."""
    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_soak(out: Path, minutes: float, warmup: float, workdir: Path,
             progress: Callable[[str], None],
             trace_memory: tuple[float, float] | None = None,
             daemon_env: dict[str, str] | None = None,
             flap_kinds: tuple[str, ...] = FLAP_KINDS) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    samples: list[Sample] = []
    csv_path = out / "soak.csv"
    started_wall = time.time()
    load_before = os.getloadavg()
    completed = False
    with SoakCluster(workdir, trace_memory=trace_memory, daemon_env=daemon_env,
                     flap_kinds=flap_kinds) as cluster, \
            open(csv_path, "w", newline="") as csv_file:
        writer = csv.DictWriter(csv_file, fieldnames=CSV_FIELDS)
        writer.writeheader()

        def record(batch: list[Sample]) -> None:
            samples.extend(batch)
            for sample in batch:
                writer.writerow(asdict(sample))
            csv_file.flush()
            progress("  ".join(
                f"{s.daemon} t={s.elapsed_s:.0f}s fds={s.fds} thr={s.os_threads} "
                f"tasks={s.main_loop_tasks}/{s.vrrp_loop_tasks} rss={s.rss_mib:.1f}MiB "
                f"vrrp={s.vrrp_transitions} rs={s.health_transitions}" for s in batch))

        settled: dict[str, list[Sample]] = {}
        try:
            cluster.start()
            progress("settling before the first flap")
            settled["before"] = cluster.settled_sample(0.0)
            clock_start = time.monotonic()
            record(cluster.sample(0.0))
            run_flaps(cluster, int(minutes * 60 / FLAP_INTERVAL), record,
                      clock_start=clock_start, progress=progress)
            record(cluster.sample(time.monotonic() - clock_start))
            progress("settling after the last flap")
            settled["after"] = cluster.settled_sample(time.monotonic() - clock_start)
            completed = True
        finally:
            summary = {
                "completed": completed,
                "command": " ".join(["bench/soak.py", *sys.argv[1:]]),
                "started_at": started_wall, "wall_seconds": round(time.time() - started_wall, 1),
                "minutes": minutes, "warmup_s": warmup, "sample_every_s": SAMPLE_EVERY,
                "flap_interval_s": FLAP_INTERVAL, "reload_every_flaps": RELOAD_EVERY,
                "flaps": cluster.flaps, "mastership_flaps": cluster.mastership_flaps,
                "health_flaps": cluster.health_flaps, "reloads": cluster.reloads,
                "samples": len(samples) // max(1, len(cluster.directors)),
                "loadavg_before": load_before, "loadavg_after": os.getloadavg(),
                "cpus": os.cpu_count(), "daemon_env": daemon_env or {},
                "flap_kinds": list(flap_kinds),
                "daemons": summarize(samples, warmup) if samples else {},
                "settled": {when: [asdict(s) for s in batch] for when, batch in settled.items()},
                "log_levels": cluster.log_levels(),
            }
            (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0, help="flapping time (30)")
    parser.add_argument("--warmup", type=float, default=None,
                        help=f"seconds before the reference sample ({WARMUP:.0f}, or a third "
                             "of a shorter run)")
    parser.add_argument("--out", type=Path, default=Path("docs/soak"),
                        help="directory for soak.csv and summary.json (docs/soak)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep configs, daemon logs and event logs here (default: a "
                             "temporary directory, removed at the end)")
    parser.add_argument("--plot", type=Path, default=None,
                        help="also draw the curves (matplotlib) to this PNG")
    parser.add_argument("--quiet", action="store_true", help="no per-flap progress lines")
    parser.add_argument("--trace-memory", type=float, default=None, metavar="SECONDS",
                        help="diagnosis: run the daemons under tracemalloc and write "
                             "WORKDIR/memtrace-dN.jsonl every SECONDS (growth against the "
                             "snapshot at warm-up); use with --workdir")
    parser.add_argument("--daemon-env", action="append", default=[], metavar="KEY=VALUE",
                        help="diagnosis: run the daemons with this environment variable "
                             "(e.g. MALLOC_ARENA_MAX=1); repeatable. Without it they "
                             "inherit the soak's environment")
    parser.add_argument("--flaps", choices=("both", *FLAP_KINDS), default="both",
                        help="diagnosis: only one kind of flap, in its usual slots (both)")
    args = parser.parse_args(argv)
    flap_kinds = FLAP_KINDS if args.flaps == "both" else (args.flaps,)
    daemon_env = dict(item.split("=", 1) for item in args.daemon_env) or None
    from integration.harness.requirements import (
        haipvs_unavailable_reason,
        netns_unavailable_reason,
    )

    reason = netns_unavailable_reason() or haipvs_unavailable_reason()
    if reason:
        print(f"cannot run the soak: {reason}", file=sys.stderr)
        return 2
    warmup = args.warmup if args.warmup is not None else min(WARMUP, args.minutes * 60 / 3)

    def progress(line: str) -> None:
        if not args.quiet or not line.startswith("flap"):
            print(line, flush=True)

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="haipvs-soak-"))
    try:
        with terminate_as_interrupt():
            trace = None if args.trace_memory is None else (args.trace_memory, warmup)
            summary = run_soak(args.out, args.minutes, warmup, workdir, progress, trace,
                               daemon_env, flap_kinds)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print(render_summary(summary))
    if args.plot is not None:
        from bench.plot_soak import plot

        plot(args.out / "soak.csv", args.plot, warmup)
        print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
