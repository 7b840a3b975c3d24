"""The chaos runner: three haipvs directors and an observer on one LAN, N seeded random
faults, each followed by a settle period and a short checked quiet period.

    sudo .venv/bin/python -m integration.chaos --faults 200 --seed 1
    sudo .venv/bin/python -m integration.chaos --faults 30 --seed 7 --check-load 5000

`--check-load N`: every director also health-checks N distinct TCP real servers at
delay_loop 1 s throughout, and the summary reports the rate each achieved (load.py).

Faults (target picked at random among the directors):

| kind | what | active for |
|---|---|---|
| kill_restart | SIGKILL the daemon (no goodbye), restart it | 0.5-3 s down + start-up |
| freeze | SIGSTOP, SIGCONT | 1-5 s |
| link_down | `ip link set eth0 down`, then up | 1-4 s |
| loss_30 / loss_100 | nft netdev ingress+egress on the node's eth0, 30% / 100% drop | 2-5 s |
| priority | the node's track file (weight -1) goes to 40 or 60, then back to 0 | 2-6 s |
| reload | the node's priority in its config moves by 5 (order kept), SIGHUP | instant |
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import statistics
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from integration.chaos.invariant import (
    FREEZE,
    KILL_RESTART,
    KINDS,
    LINK_DOWN,
    LOSS_30,
    LOSS_100,
    PRIORITY,
    RELOAD,
    FaultRecord,
    Violation,
    excluded_windows,
    find_violations,
    stale_garp_periods,
    takeovers,
)
from integration.chaos.load import (
    LoadSummary,
    Reading,
    RealServerFarm,
    accepted_between,
    director_load,
    down_event_count,
    host_cpu_jiffies,
    paused_seconds,
    process_cpu_seconds,
    reading_from_dump,
    virtual_servers,
)
from integration.chaos.observer import Observer
from integration.harness.instance import VrrpInstance
from integration.harness.topology import Lan
from integration.harness.vrrp import master_down_interval
from integration.harness.wait import wait_until
from integration.test_ops_support import OpsNode

VIP = "192.0.2.100"
BASE = VrrpInstance(version=2, advert_int=1.0, password="1111", vrid=51,
                    vips=(f"{VIP}/24",), preempt=True)
PRIORITIES = {"d1": 150, "d2": 120, "d3": 100}
TRACK_WEIGHT = -1
TRACKER_POLL = 0.5  # haipvs reads track files every 0.5 s (docs/operations.md)
QUIET = 1.0  # checked time after each settle window, before the next fault
DUMP_TIMEOUT = 10.0  # a state dump of thousands of real servers on a loaded box


def settle_seconds(advert_int: float = BASE.advert_int) -> float:
    """Master_Down_Interval of the lowest priority + one advert, + the track-file poll
    (a priority fault acts up to one poll after the file is written)."""
    lowest = min(PRIORITIES.values())
    return master_down_interval(lowest, advert_int) + advert_int + TRACKER_POLL


@dataclass
class Summary:
    seed: int
    faults: list[FaultRecord]
    violations: list[Violation]
    takeovers: list[float]
    checked_seconds: float
    wall_seconds: float
    samples: int
    observer_errors: list[str] = field(default_factory=list)
    double_owner_excluded: float = 0.0  # seconds with 2+ VIP holders inside excluded windows
    stale_garps: list[Violation] = field(default_factory=list)
    load: LoadSummary | None = None  # with --check-load

    @property
    def longest_violation(self) -> float:
        return max((v.duration for v in self.violations), default=0.0)

    def render(self) -> str:
        kinds = Counter(f.kind for f in self.faults)
        lines = [
            f"seed {self.seed}: {len(self.faults)} faults in {self.wall_seconds:.0f} s "
            f"({', '.join(f'{k} {kinds[k]}' for k in KINDS if kinds[k])})",
            f"samples {self.samples}, checked {self.checked_seconds:.0f} s outside the settle "
            f"windows ({settle_seconds():.2f} s)",
            f"violations {len(self.violations)}, longest {self.longest_violation:.2f} s",
        ]
        if self.takeovers:
            lines.append(f"takeovers {len(self.takeovers)}: mean "
                         f"{statistics.mean(self.takeovers):.3f} s, max "
                         f"{max(self.takeovers):.3f} s (old master's last advert -> new "
                         f"master's first)")
        lines.append(f"two or more VIP holders inside excluded windows: "
                     f"{self.double_owner_excluded:.1f} s (frozen/partitioned masters)")
        origin = self.faults[0].started if self.faults else 0.0
        stale = sum(p.duration for p in self.stale_garps)
        lines.append(f"stale GARP (last gratuitous ARP from a node without the VIP) in checked "
                     f"time: {len(self.stale_garps)} periods, {stale:.1f} s")
        for violation in self.violations:
            lines.append(f"  violation at +{violation.start - origin:.2f} s "
                         f"for {violation.duration:.2f} s: {'; '.join(violation.reasons)}")
        for period in self.stale_garps:
            lines.append(f"  stale GARP at +{period.start - origin:.2f} s "
                         f"for {period.duration:.2f} s: {period.reasons[0]}")
        lines.extend(f"  observer error: {e}" for e in self.observer_errors)
        if self.load is not None:
            lines.append(self.load.render())
        return "\n".join(lines)


class ChaosCluster:
    """The LAN (three directors + observer) with daemons; a context manager that tears all
    of it down, also on failure."""

    def __init__(self, workdir: Path, prefix: str = "hc", check_load: int = 0,
                 load_lifetime: float = 3600.0) -> None:
        """`check_load` > 0: each director also health-checks that many distinct TCP real
        servers per second (see load.py); the real-server loop ends by itself after
        `load_lifetime` seconds."""
        self.workdir = Path(workdir)
        self.lan = Lan(prefix=prefix)
        self.directors: dict[str, OpsNode] = {}
        self.track_files: dict[str, Path] = {}
        self.priority_shift: dict[str, int] = {}
        self.farm: RealServerFarm | None = None
        try:
            nodes = {name: self.lan.add_node(name) for name in PRIORITIES}
            self.observer_node = self.lan.add_node("obs")
            extra: dict[str, object] = {}
            if check_load > 0:
                self.farm = RealServerFarm(self.lan, nodes, self.workdir, check_load,
                                           lifetime=load_lifetime)
                extra["virtual_servers"] = virtual_servers(check_load, VIP)
            for name, node in nodes.items():
                track = self.workdir / f"track-{name}"
                track.write_text("0\n")
                self.track_files[name] = track
                self.priority_shift[name] = 0
                self.directors[name] = OpsNode(
                    node, self.workdir, [self._instance(name)],
                    top={"vrrp_track_files": [{"name": "chaos", "file": str(track),
                                               "weight": TRACK_WEIGHT}], **extra},
                    per_instance={"VI_1": {"track_file": ["chaos"]}})
            self.observer = Observer(self.observer_node, nodes,
                                     {n: d.log_path for n, d in self.directors.items()},
                                     VIP, BASE.vrid)
        except BaseException:
            if self.farm is not None:
                self.farm.close()
            self.lan.close()
            raise

    def _instance(self, name: str) -> VrrpInstance:
        return BASE.but(priority=PRIORITIES[name] - self.priority_shift[name])

    def start(self, timeout: float = 20.0) -> None:
        """Observer first (it must see the first GARP), then the directors highest priority
        first (cold starts race otherwise), until d1 is the only VIP holder."""
        self.observer.start()
        for daemon in self.directors.values():
            daemon.start()
            daemon.wait_ready()
        wait_until(lambda: self.observer.current_holders() == {"d1"}, timeout,
                   what="d1 alone holding the VIP", describe=self.describe)
        if self.farm is not None:
            # Every director's first round of checks reached the real servers. Watched
            # from the real servers' side: a state dump would stall the daemon's loop.
            farm = self.farm
            wait_until(lambda: all(farm.accepted_total(address) >= farm.targets
                                   for address in farm.director_addresses.values()),
                       timeout, interval=0.5,
                       what=f"a first round of {farm.targets} checks from every director",
                       describe=self.describe)

    def read_load(self) -> dict[str, Reading]:
        """Each director's check counters, from a fresh state dump."""
        readings = {}
        for name, daemon in self.directors.items():
            dump = daemon.dump(timeout=DUMP_TIMEOUT)
            readings[name] = reading_from_dump(dump, process_cpu_seconds(daemon.proc.pid))
        return readings

    def load_summary(self, first: dict[str, Reading], last: dict[str, Reading],
                     faults: list[FaultRecord]) -> LoadSummary:
        """The check rate each director achieved between two sets of readings."""
        assert self.farm is not None
        reports = self.farm.accepted()
        summary = LoadSummary(self.farm.checks_per_second)
        for name, daemon in self.directors.items():
            start, end = first[name].ts, last[name].ts
            summary.directors.append(director_load(
                name, first[name], last[name],
                accepted_between(reports, self.farm.director_addresses[name], start, end),
                paused=paused_seconds(faults, name, start, end),
                down_events=down_event_count(daemon.log_path)))
        return summary

    def describe(self) -> str:
        return "\n".join(d.describe() for d in self.directors.values())

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.observer.stop()
        for daemon in self.directors.values():
            if daemon.proc is not None:
                with contextlib.suppress(Exception):
                    daemon.proc.signal(signal.SIGCONT)  # a frozen daemon cannot handle TERM
                    daemon.proc.stop(timeout=3)
        if self.farm is not None:
            self.farm.close()
        self.lan.close()

    def __enter__(self) -> ChaosCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- faults ---

    def apply(self, record: FaultRecord, rng: random.Random) -> None:
        """Run one fault to its end (blocking) and fill in `record.ended` / `detail`."""
        daemon = self.directors[record.target]
        node = daemon.node
        if record.kind == KILL_RESTART:
            daemon.kill()
            self.observer.note_stopped(record.target, time.time())
            down = rng.uniform(0.5, 3.0)
            time.sleep(down)
            daemon.start()
            daemon.wait_ready()
            record.detail = f"down {down:.1f} s"
        elif record.kind == FREEZE:
            frozen = rng.uniform(1.0, 5.0)
            daemon.proc.signal(signal.SIGSTOP)
            try:
                time.sleep(frozen)
            finally:
                daemon.proc.signal(signal.SIGCONT)
            record.detail = f"frozen {frozen:.1f} s"
        elif record.kind == LINK_DOWN:
            held = rng.uniform(1.0, 4.0)
            node.set_link(False)
            try:
                time.sleep(held)
            finally:
                node.set_link(True)
            record.detail = f"down {held:.1f} s"
        elif record.kind in (LOSS_30, LOSS_100):
            held = rng.uniform(2.0, 5.0)
            node.netns.nft(loss_ruleset(30 if record.kind == LOSS_30 else 100))
            try:
                time.sleep(held)
            finally:
                node.netns.run("nft", "delete", "table", "netdev", "chaos")
            record.detail = f"for {held:.1f} s"
        elif record.kind == PRIORITY:
            value = rng.choice((40, 60))
            held = rng.uniform(2.0, 6.0)
            self.track_files[record.target].write_text(f"{value}\n")
            try:
                time.sleep(held)
            finally:
                self.track_files[record.target].write_text("0\n")
            record.detail = f"priority -{value} for {held:.1f} s"
        elif record.kind == RELOAD:
            self.priority_shift[record.target] = 5 - self.priority_shift[record.target]
            daemon.write_config([self._instance(record.target)])
            daemon.reload()
            record.detail = f"priority {self._instance(record.target).priority}"
        else:
            raise ValueError(f"unknown fault kind {record.kind!r}")
        record.ended = time.time()


def loss_ruleset(percent: int) -> str:
    """Ingress and egress drops on eth0 at the device level, so ARP and AF_PACKET GARPs are
    lost too, not only IP (a lossy link, not a firewall)."""
    verdict = "drop" if percent >= 100 else f"numgen random mod 100 < {percent} drop"
    return (
        "table netdev chaos {\n"
        "  chain in { type filter hook ingress device eth0 priority 0; policy accept;\n"
        f"    {verdict}\n  }}\n"
        "  chain out { type filter hook egress device eth0 priority 0; policy accept;\n"
        f"    {verdict}\n  }}\n"
        "}\n"
    )


def run_chaos(workdir: Path, faults: int, seed: int, kinds: tuple[str, ...] = KINDS,
              progress=None, check_load: int = 0) -> Summary:
    """Build the cluster, apply `faults` random faults, evaluate, tear down. With
    `check_load`, every director health-checks that many real servers per second
    throughout, and the summary says what rate each one achieved."""
    rng = random.Random(seed)
    settle = settle_seconds()
    records: list[FaultRecord] = []
    started = time.monotonic()
    # A bound for the real-server loop, far above the run's own length (~10 s a fault).
    lifetime = 300.0 + 60.0 * faults
    with ChaosCluster(workdir, check_load=check_load, load_lifetime=lifetime) as cluster:
        cluster.start()
        steady_at = time.time()
        load_start = cluster.read_load() if cluster.farm is not None else None
        cpu_start = host_cpu_jiffies()
        for index in range(faults):
            kind = rng.choice(kinds)
            target = rng.choice(sorted(PRIORITIES))
            holders = cluster.observer.current_holders()
            record = FaultRecord(index, kind, target, target_was_master=target in holders,
                                 started=time.time())
            records.append(record)
            cluster.apply(record, rng)
            if progress is not None:
                progress(f"fault {index + 1}/{faults}: {kind} on {target}"
                         f"{' (master)' if record.target_was_master else ''} {record.detail}")
            time.sleep(settle + QUIET)
        load = None
        if load_start is not None:
            load = cluster.load_summary(load_start, cluster.read_load(), records)
            busy, total = (b - a for a, b in zip(cpu_start, host_cpu_jiffies(), strict=True))
            load.cores = os.cpu_count() or 1
            load.busy_cores = load.cores * busy / total if total else None
        cluster.observer.stop()
        summary = evaluate(cluster.observer, records, seed, steady_at,
                           wall_seconds=time.monotonic() - started)
        summary.load = load
        return summary


def evaluate(observer: Observer, records: list[FaultRecord], seed: int, steady_at: float,
             wall_seconds: float) -> Summary:
    """Join what the (stopped) observer recorded and check it against the invariant."""
    settle = settle_seconds()
    samples = observer.samples()
    adverts = observer.advert_list()
    run_end = samples[-1].ts if samples else time.time()
    # Nothing is checked before the cluster first converged (cold start).
    windows = [(0.0, steady_at), *excluded_windows(records, settle, run_end)]
    interval = observer.interval
    violations = find_violations(samples, adverts, windows, BASE.advert_int,
                                 gap=3 * interval)
    checked = [s for s in samples if not any(a <= s.ts < b for a, b in windows)]
    excluded_double = sum(1 for s in samples if len(s.holders) > 1
                          and any(a <= s.ts < b for a, b in windows))
    return Summary(
        seed=seed, faults=records, violations=violations,
        takeovers=takeovers(records, adverts, limit=settle),
        checked_seconds=len(checked) * interval,
        wall_seconds=wall_seconds, samples=len(samples),
        observer_errors=list(observer.errors), double_owner_excluded=excluded_double * interval,
        stale_garps=stale_garp_periods(samples, windows, gap=3 * interval))
