"""The daemon's periodic tasks on the main loop: the systemd watchdog (pings only while the
VRRP loop ticks), the metrics refresh, the watch on the VRRP thread, and the heap trim."""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

import structlog
import trio

from haipvs import resources

if TYPE_CHECKING:
    from haipvs.daemon import Daemon

log = structlog.get_logger("haipvs")

# WATCHDOG=1 is withheld once the VRRP loop's heartbeat is older than this many seconds.
HEARTBEAT_STALE_AFTER = 2.0
METRICS_INTERVAL = 1.0
# How often the VRRP thread's liveness is looked at (a thread has no trio event to wait on).
RUNTIME_CHECK_INTERVAL = 0.5
TRIM_HEAP_INTERVAL = 10.0  # a trim with nothing to give back costs ~20 µs; 100 MiB freed, ~3 ms


async def watchdog(daemon: Daemon) -> None:
    """WATCHDOG=1 only while the VRRP loop ticks: a stuck VRRP thread gets no pings, so
    systemd restarts the daemon rather than keep a director that cannot fail over."""
    interval = daemon.systemd.watchdog_interval
    runtime = daemon.runtime
    if interval is None or runtime is None:
        return
    while True:
        age = time.monotonic() - runtime.heartbeat
        if runtime.alive and age < HEARTBEAT_STALE_AFTER:
            daemon.systemd.notify("WATCHDOG=1")
        else:
            log.warning("watchdog_withheld", heartbeat_age=round(age, 3))
        await trio.sleep(interval)


async def metrics_loop(daemon: Daemon) -> None:
    """Refresh the metrics snapshot once a second while the endpoint is on."""
    runtime = daemon.runtime
    assert runtime is not None
    while True:
        metrics = daemon.metrics
        if metrics is not None and runtime.alive:
            seen = metrics.timers_seen

            def gather(seen: int = seen) -> tuple:
                return runtime.snapshot(), runtime.take_timer_lateness(seen)

            vrrp, (metrics.timers_seen, lateness) = await trio.to_thread.run_sync(
                runtime.call_in_loop, gather)
            metrics.refresh(
                vrrp=vrrp, lateness=lateness, ipvs=daemon.reconciler.snapshot(),
                ops_log=list(daemon.reconciler.ops_log),
                health=daemon.health_engine.snapshot(),
                extra={"reloads_total": daemon.reloads,
                       "notify_scripts_failed_total": daemon.notify_runner.failures,
                       "events_dropped_total": daemon.events.dropped,
                       **daemon.alert_stats()},
            )
        await trio.sleep(METRICS_INTERVAL)


async def watch_runtime(daemon: Daemon) -> None:
    """If the VRRP thread dies, exit non-zero so systemd restarts us: running on without
    VRRP would silently break failover."""
    runtime = daemon.runtime
    assert runtime is not None
    while runtime.alive:
        await trio.sleep(RUNTIME_CHECK_INTERVAL)
    if runtime.shutdown_requested:
        # A stop in progress: the signal task ends the thread and drains. A SIGTERM to
        # ourselves now would only be remembered (daemon_signals.py), and the stop must
        # not be taken for a crash (runtime_failed keeps the IPVS services).
        return
    daemon.runtime_failed = True
    log.error("vrrp_runtime_died")
    os.kill(os.getpid(), signal.SIGTERM)


async def trim_heap_loop() -> None:
    """resources.trim_heap() once everything has started, and every ten seconds after: the
    first health round, a reload or a state dump of thousands of servers leave freed heap
    behind."""
    while True:
        resources.trim_heap()
        await trio.sleep(TRIM_HEAP_INTERVAL)
