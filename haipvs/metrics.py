"""The Prometheus endpoint (off unless `global.metrics_listen` is set).

The main loop refreshes a plain snapshot once a second (`Metrics.refresh`); the HTTP thread
only reads that snapshot, so a scrape never waits for, or touches, the VRRP loop.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)

from haipvs.vrrp.messages import State

# One series per VRRP state, in the state machine's order (INIT, BACKUP, MASTER, FAULT, STOP).
STATES = tuple(str(state) for state in State)
LATENESS_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)
CHECK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def parse_listen(text: str) -> tuple[str, int]:
    """"127.0.0.1:9650", "[::1]:9650" or "localhost:9650" -> (host, port)."""
    host, _, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    number = int(port)
    if not 0 < number < 65536:
        raise ValueError(f"port {number} out of range")
    return host, number


class Histogram:
    """Cumulative bucket counts, filled by the main loop."""

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value

    def family(self, name: str, doc: str, labels: dict[str, str] | None = None
               ) -> HistogramMetricFamily:
        family = HistogramMetricFamily(name, doc, labels=list(labels or {}))
        cumulative, running = [], 0
        for bound, count in zip((*map(str, self.buckets), "+Inf"), self.counts, strict=True):
            running += count
            cumulative.append((bound, running))
        family.add_metric(list((labels or {}).values()), cumulative, self.total)
        return family


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._vrrp: dict[str, Any] = {"instances": {}, "interfaces": {}}
        self._ipvs: dict[str, Any] = {}
        self._health: list[dict[str, Any]] = []
        self._extra: dict[str, float] = {}
        self.timer_lateness = Histogram(LATENESS_BUCKETS)
        self.check_latency = Histogram(CHECK_BUCKETS)
        self.timers_seen = 0
        self.reconcile_ops: dict[tuple[str, bool], int] = {}
        self._last_op: Any = None
        self._check_runs: dict[tuple[str, str, str], int] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(self)
        self._server: Any = None
        self.listen: str | None = None

    # -- main loop side --------------------------------------------------------------------

    def refresh(self, *, vrrp: dict[str, Any] | None = None, lateness: Iterable[float] = (),
                ipvs: dict[str, Any] | None = None, ops_log: Iterable[Any] = (),
                health: list[dict[str, Any]] | None = None,
                extra: dict[str, float] | None = None) -> None:
        with self._lock:
            if vrrp is not None:
                self._vrrp = vrrp
            for value in lateness:
                self.timer_lateness.observe(value)
            if ipvs is not None:
                self._ipvs = ipvs
            self._count_ops(list(ops_log))
            if health is not None:
                self._absorb_health(health)
            if extra is not None:
                self._extra = dict(extra)

    def _count_ops(self, records: list[Any]) -> None:
        """The reconciler keeps a bounded log of ops; count those added since last time."""
        fresh = []
        for record in reversed(records):
            if record is self._last_op:
                break
            fresh.append(record)
        if records:
            self._last_op = records[-1]
        for record in fresh:
            key = (str(record.op.kind), record.error is None)
            self.reconcile_ops[key] = self.reconcile_ops.get(key, 0) + 1

    def _absorb_health(self, servers: list[dict[str, Any]]) -> None:
        """Each check's latest latency goes into the histogram once per refresh in which
        its run count advanced (a sample, not every attempt)."""
        self._health = servers
        for server in servers:
            for check in server.get("checks", []):
                key = (server["service"], server["real_server"], check["check"])
                runs = check.get("runs", 0)
                if runs > self._check_runs.get(key, 0):
                    self.check_latency.observe(check.get("latency", 0.0))
                self._check_runs[key] = runs

    # -- HTTP side -------------------------------------------------------------------------

    def start(self, listen: str) -> None:
        host, port = parse_listen(listen)
        self._server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self.listen = listen

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def collect(self) -> Iterable[Any]:
        with self._lock:
            yield from self._collect_vrrp()
            yield from self._collect_health()
            yield from self._collect_ipvs()
            for name, value in sorted(self._extra.items()):
                gauge = GaugeMetricFamily(f"haipvs_{name}", name.replace("_", " "))
                gauge.add_metric([], value)
                yield gauge

    def _collect_vrrp(self) -> Iterable[Any]:
        state = GaugeMetricFamily("haipvs_vrrp_state", "1 for the instance's current state",
                                  labels=["instance", "state"])
        priority = GaugeMetricFamily("haipvs_vrrp_priority", "effective priority",
                                     labels=["instance"])
        base = GaugeMetricFamily("haipvs_vrrp_base_priority", "configured priority",
                                 labels=["instance"])
        transitions = CounterMetricFamily("haipvs_vrrp_transitions", "state transitions",
                                          labels=["instance"])
        sent = CounterMetricFamily("haipvs_vrrp_adverts_sent", "adverts sent",
                                   labels=["instance"])
        received = CounterMetricFamily("haipvs_vrrp_adverts_received",
                                       "adverts received that passed validation",
                                       labels=["instance"])
        drops = CounterMetricFamily("haipvs_vrrp_drops", "received adverts dropped, by reason",
                                    labels=["scope", "reason"])
        for name, inst in sorted(self._vrrp.get("instances", {}).items()):
            for candidate in STATES:
                state.add_metric([name, candidate], 1.0 if inst["state"] == candidate else 0.0)
            priority.add_metric([name], inst["effective_priority"])
            base.add_metric([name], inst["base_priority"])
            counters = inst["counters"]
            transitions.add_metric([name], counters["transitions"])
            sent.add_metric([name], counters["adverts_sent"])
            received.add_metric([name], counters["adverts_received"])
            for reason, count in counters["drops"].items():
                drops.add_metric([name, reason], count)
        for name, iface in sorted(self._vrrp.get("interfaces", {}).items()):
            for reason, count in iface["drops"]["drops"].items():
                drops.add_metric([name, reason], count)
        yield from (state, priority, base, transitions, sent, received, drops)
        yield self.timer_lateness.family("haipvs_vrrp_timer_lateness_seconds",
                                         "how late VRRP timers fired")

    def _collect_health(self) -> Iterable[Any]:
        up = GaugeMetricFamily("haipvs_realserver_up", "1 when the real server is healthy",
                               labels=["service", "real_server"])
        runs = CounterMetricFamily("haipvs_checks", "health checks run",
                                   labels=["service", "real_server", "check"])
        failed = CounterMetricFamily("haipvs_checks_failed", "health checks failed",
                                     labels=["service", "real_server", "check"])
        for server in self._health:
            labels = [server["service"], server["real_server"]]
            up.add_metric(labels, 1.0 if server["up"] else 0.0)
            for check in server.get("checks", []):
                runs.add_metric([*labels, check["check"]], check.get("runs", 0))
                failed.add_metric([*labels, check["check"]], check.get("failures", 0))
        yield from (up, runs, failed)
        yield self.check_latency.family("haipvs_check_latency_seconds",
                                        "health check latency (sampled once per second)")

    def _collect_ipvs(self) -> Iterable[Any]:
        status = GaugeMetricFamily("haipvs_ipvs_status", "1 for the reconciler's status",
                                   labels=["status"])
        current = self._ipvs.get("status")
        for candidate in ("starting", "ok", "error", "unavailable"):
            status.add_metric([candidate], 1.0 if current == candidate else 0.0)
        reconciles = CounterMetricFamily("haipvs_ipvs_reconciles", "reconcile passes")
        reconciles.add_metric([], self._ipvs.get("reconciles", 0))
        ops = CounterMetricFamily("haipvs_ipvs_reconcile_ops", "IPVS operations applied",
                                  labels=["op"])
        errors = CounterMetricFamily("haipvs_ipvs_reconcile_errors",
                                     "IPVS operations the kernel refused", labels=["op"])
        for (kind, ok), count in sorted(self.reconcile_ops.items()):
            (ops if ok else errors).add_metric([kind], count)
        yield from (status, reconciles, ops, errors)
