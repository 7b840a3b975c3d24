"""The haipvs daemon: wiring, nothing decided here.

It starts the VRRP runtime (its own thread) and, on the main loop, the notify runner, the
trackers, the health checkers and the IPVS reconciler; it feeds the director policy
(haipvs/policy/director.py) with VRRP transitions and health changes and turns its outputs
into I/O (event stream, notify scripts, check pauses, the reconciler's desired table,
systemd STATUS). Signals, reload, the state dump and shutdown: haipvs/daemon_control.py;
systemd watchdog, metrics and the VRRP thread watch: haipvs/daemon_tasks.py. Signals and
reload semantics: docs/operations.md.
"""

from __future__ import annotations

import contextlib
import gc
import math
import os
import time
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
import trio

from haipvs import daemon_control, daemon_signals, daemon_tasks, limits, thread_priority
from haipvs.config import Config
from haipvs.daemon_control import with_overrides
from haipvs.dataclass_lean import dataclass
from haipvs.drivers.netlink_thread import NetlinkThread
from haipvs.drivers.nft_table import TableSettings
from haipvs.drivers.vrrp_runtime import VrrpRuntime
from haipvs.events import Event, InstanceNotice, VrrpTransition
from haipvs.health import HealthEngine, ServerHealth, ServerKey, specs_from_config
from haipvs.ipvs.desired import shared_health
from haipvs.ipvs.ownership import LEDGER_NAME as OWNERSHIP_LEDGER_NAME
from haipvs.ipvs.ownership import OwnershipLedger
from haipvs.ipvs.reconcile import Reconciler
from haipvs.notify import EventStream, NotifyRunner, notify_fifos
from haipvs.policy import director
from haipvs.policy.director import Director
from haipvs.policy.notify_scripts import RunNotify
from haipvs.policy.route_entries import static_entries
from haipvs.resources import fix_malloc_mmap_threshold, raise_fd_limit
from haipvs.sdnotify import SystemdNotifier
from haipvs.trackers import Trackers
from haipvs.vrrp_binding import bindings_from_config
from haipvs.vrrp_stats import VrrpStats

if TYPE_CHECKING:
    # Issue 18, "import only what a config uses": each is imported by the first config (at
    # start or reload) that uses its feature: scale_out, bfd, smtp.
    from haipvs.daemon_bfd import BfdWiring
    from haipvs.daemon_scale_out import ScaleOutRuntime
    from haipvs.drivers.smtp_alert import SmtpAlerter
    from haipvs.policy.smtp_alerts import SmtpAlertPolicy

log = structlog.get_logger("haipvs")

HEALTH_MAX_SPREAD = 5.0
RECENT_EVENTS_KEPT = 100
# READY=1 waits at most this long for the first IPVS pass.
FIRST_RECONCILE_TIMEOUT = 30.0


def _make_rtnl():
    from haipvs.drivers.rtnl_socket import RtnlSocket

    return RtnlSocket()


class PidFile:
    def __init__(self, path: str | None) -> None:
        self.path = Path(path) if path else None

    def __enter__(self) -> PidFile:
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_text(f"{os.getpid()}\n")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.path is not None and self.path.exists():
            try:
                if self.path.read_text().strip() == str(os.getpid()):
                    self.path.unlink()
            except OSError:
                pass


@dataclass(frozen=True)
class Flush:
    """Sent down the event channel behind the VRRP thread's last events: `done` is set once
    every event before it has been handled (shutdown waits for it)."""

    done: trio.Event = field(default_factory=trio.Event)


class Daemon:
    def __init__(
        self, config: Config, config_path: str, overrides: dict[str, str] | None = None,
        *, release_ipvs: bool = True,
    ) -> None:
        self.overrides = dict(overrides or {})
        # A graceful stop removes the owned IPVS services unless --dont-release-ipvs.
        self.release_ipvs = release_ipvs
        # SIGSTATS_CLEAR: haipvs.stats counts from this copy (the counters stay monotonic).
        self.stats_baseline: VrrpStats | None = None
        self.config_path = config_path
        self.started_at = time.time()
        # The policy: instance, group, quorum and ha_suspend state, and the config in force.
        self.director = Director(with_overrides(config, self.overrides))
        self._events_in, self._events_out = trio.open_memory_channel[
            VrrpTransition | InstanceNotice | Flush](math.inf)
        self._token: trio.lowlevel.TrioToken | None = None
        self.runtime: VrrpRuntime | None = None
        self.recent_events: list[dict[str, Any]] = []  # as_record() of the last events
        self._health_pending: list[director.HealthChanged] = []  # see _health_changed
        self.runtime_failed = False
        # First checks are spread over at most HEALTH_MAX_SPREAD seconds, not the whole
        # delay_loop: with alpha and keepalived's 60 s default a server would otherwise stay
        # out of the table for up to a minute after start.
        self.health_engine = HealthEngine(
            specs_from_config(self.config), self._health_changed, max_spread=HEALTH_MAX_SPREAD,
            on_first_down=self._health_settled_down,
        )
        self.reconciler = Reconciler(
            ownership=OwnershipLedger(Path(self.state_dir) / OWNERSHIP_LEDGER_NAME),
            flush_at_start=self.config.global_settings.lvs_flush)
        self.systemd = SystemdNotifier()
        self.events = EventStream()
        self.notify_runner = NotifyRunner()
        # e-mail alerts: the pure policy decides, the alerter sends from this loop; made by
        # the first config with an smtp section (configure_outputs)
        self.smtp_alerts: SmtpAlertPolicy | None = None
        self.alerter: SmtpAlerter | None = None
        self.nursery: trio.Nursery | None = None  # _run's, for what a reload starts
        self.trackers: Trackers | None = None
        self.bfd: BfdWiring | None = None  # track_bfd from BIRD (haipvs/daemon_bfd.py)
        self.metrics: Any = None  # haipvs.metrics.Metrics while metrics_listen is set
        # bgp-mode VIPs (issue 17), while the config has scale_out: haipvs/daemon_scale_out.py
        self.scale_out: ScaleOutRuntime | None = None
        self.reloads = 0
        self.exit_code = 1

    @property
    def config(self) -> Config:
        return self.director.config

    @property
    def state_dir(self) -> str:
        return self.config.global_settings.state_dir

    def _event_from_vrrp_thread(self, event: VrrpTransition | InstanceNotice) -> None:
        """Called in the VRRP thread; hands the event to the main loop without blocking."""
        if self._token is not None:
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._events_in.send_nowait, event)

    async def main(self) -> int:
        self._token = trio.lowlevel.current_trio_token()
        early = daemon_signals.stop_pending()
        if early is not None:  # asked to stop before anything started: nothing to undo
            log.info("shutdown_requested", signal=early.name, during="start-up")
            return 0
        settings = self.config.global_settings
        if settings.startup_script is not None:  # keepalived: before any child starts
            from haipvs.drivers import process_options  # issue 18: with such a script only

            await process_options.run_process_script(
                "startup", settings.startup_script, settings.startup_script_timeout,
                settings.script_user)
        try:
            early = daemon_signals.stop_pending()
            if early is not None:  # during the startup script: VRRP never starts
                log.info("shutdown_requested", signal=early.name, during="startup_script")
                return 0
            return await self._run()
        finally:
            # keepalived: once every child has stopped (main.c, after the children exit).
            settings = self.config.global_settings
            if settings.shutdown_script is not None:
                from haipvs.drivers import process_options

                await process_options.run_process_script(
                    "shutdown", settings.shutdown_script, settings.shutdown_script_timeout,
                    settings.script_user)

    async def _run(self) -> int:
        # No garbage collection while start-up builds what lives as long as the process:
        # each full collection then found nothing to free and held the GIL for 16-45 ms (at
        # 10,000 real servers), while the VRRP thread was already advertising. It comes back
        # once everything has started, with those objects frozen out of its way.
        gc.disable()
        rtnl = NetlinkThread(_make_rtnl, name="rtnl")
        rtnl.start()
        runtime = VrrpRuntime(bindings_from_config(self.config), rtnl, self._event_from_vrrp_thread,
                              static=static_entries(self.config),
                              nft=TableSettings(self.config.global_settings.nftables,
                                                self.config.global_settings.nftables_priority,
                                                self.config.global_settings.nftables_counters))
        self.runtime = runtime
        # Track files are read before the instances start: one faulty at start puts its
        # instance straight into FAULT, as keepalived (haipvs/trackers.py).
        self.trackers = Trackers(self.config, runtime.set_tracker)
        self.start_bfd(self.config)
        exit_code = 1
        try:
            try:
                self.configure_outputs(self.config)
                self.trackers.read_files(runtime.preset_tracker)
                if self.bfd is not None:  # sessions down until BIRD answers
                    self.bfd.preset(runtime.preset_tracker)
                await trio.to_thread.run_sync(runtime.start)
                self.apply_priorities(self.config)
            except Exception as exc:
                log.error("vrrp_start_failed", error=_describe(exc))
                return 1
            log.info(
                "haipvs_started",
                config=self.config_path,
                instances=len(self.config.vrrp_instances),
                virtual_servers=len(self.config.virtual_servers),
            )
            async with trio.open_nursery() as nursery:
                self.nursery = nursery
                # Signals first: a SIGHUP/SIGUSR1 during start-up must not kill the daemon.
                signals_ready = trio.Event()
                nursery.start_soon(daemon_control.signals_task, self, nursery.cancel_scope,
                                   signals_ready)
                await signals_ready.wait()
                await nursery.start(self.notify_runner.run)
                if self.alerter is not None:
                    await nursery.start(self.alerter.run)
                nursery.start_soon(self.consume_events)
                await nursery.start(self.trackers.run)
                if self.bfd is not None:
                    await nursery.start(self.bfd.run)
                # Every instance starts in INIT: ha_suspend services start suspended.
                self.feed(director.Start())
                await nursery.start(self.health_engine.run)
                self.feed(director.RefreshIpvs())
                await nursery.start(self.reconciler.run)
                if self.config.scale_out is not None:  # bgp-mode VIPs (issue 17)
                    from haipvs import daemon_scale_out  # issue 18: only what a config uses

                    await daemon_scale_out.start(self, rtnl, nursery)
                # Everything loaded so far lives as long as the process: keep it out of the
                # collector's way (full collections at 10k checkers took 50-170 ms).
                gc.freeze()
                gc.enable()
                nursery.start_soon(daemon_tasks.trim_heap_loop)
                nursery.start_soon(daemon_tasks.watch_runtime, self)
                nursery.start_soon(daemon_tasks.watchdog, self)
                nursery.start_soon(daemon_tasks.metrics_loop, self)
                with trio.move_on_after(FIRST_RECONCILE_TIMEOUT):
                    # READY=1 waits for the first IPVS pass (or IPVS reported unavailable).
                    await self.reconciler.wait_first_pass()
                self.systemd.notify("READY=1", f"STATUS={self.status_line()}")
                log.info("haipvs_ready", status=self.status_line())
                await trio.sleep_forever()
            exit_code = self.exit_code
        finally:
            gc.enable()  # a start-up that failed before the freeze
            self.nursery = None
            runtime.request_shutdown()
            await trio.to_thread.run_sync(runtime.join, 10.0)
            rtnl.close()
            await self.events.aclose()
            if self.metrics is not None:
                self.metrics.stop()
            self.systemd.close()
        if self.runtime_failed:
            exit_code = 1
        log.info("haipvs_stopped", exit_code=exit_code)
        return exit_code

    def start_bfd(self, config: Config) -> None:
        """track_bfd from BIRD (haipvs/daemon_bfd.py), from the first config with a `bfd`
        section: at start, or on the reload that adds it (made with the config in force,
        which the reload then updates to the new one, as it would a running one)."""
        runtime = self.runtime
        if self.bfd is not None or runtime is None or (
                config.bfd is None and not any(i.track_bfd for i in config.vrrp_instances)):
            return
        from haipvs.daemon_bfd import BfdWiring

        self.bfd = BfdWiring(self.config, runtime.set_tracker)
        if self.nursery is not None:
            self.nursery.start_soon(self.bfd.run)

    def apply_priorities(self, config: Config) -> None:
        """global.vrrp_priority and checker_priority (haipvs/thread_priority.py): at start
        once the VRRP thread runs, and on each reload."""
        settings = config.global_settings
        runtime = self.runtime
        thread_priority.apply(settings.vrrp_priority, settings.checker_priority,
                              None if runtime is None else runtime.thread_id)

    def configure_outputs(self, config: Config) -> None:
        """Event stream, notify timeout and the metrics endpoint, from `global`."""
        settings = config.global_settings
        self.notify_runner.timeout = settings.notify_timeout
        self.notify_runner.user = settings.script_user  # filled in by script_creds
        if settings.smtp is not None and self.alerter is None:
            from haipvs.drivers.smtp_alert import SmtpAlerter
            from haipvs.policy.smtp_alerts import SmtpAlertPolicy

            # an smtp section without recipients sends nothing: the policy never has state
            # until there is one, so it may start now
            self.smtp_alerts = SmtpAlertPolicy()
            self.alerter = SmtpAlerter()
            if self.nursery is not None:
                self.nursery.start_soon(self.alerter.run)
        if self.alerter is not None:
            self.alerter.smtp = settings.smtp
        fifos, notes = notify_fifos(settings)
        if (fifos, settings.event_log) != (self.events.fifos, self.events.json_path):
            for note in notes:
                log.info("notify_fifo_ignored", detail=note)
            # The old FIFOs go first: one it created and the new config names again is
            # unlinked and made anew, its script restarted, as keepalived does on reload.
            self.events.close()
            self.events = EventStream()
            stream = EventStream(json_lines=settings.event_log, fifos=fifos)
            stream.open()
            self.events = stream
        listen = settings.metrics_listen
        if listen != getattr(self.metrics, "listen", None):
            if self.metrics is not None:
                self.metrics.stop()
                self.metrics = None
            if listen is not None:
                from haipvs.metrics import Metrics

                metrics = Metrics()
                metrics.start(listen)
                self.metrics = metrics
                log.info("metrics_listening", listen=listen)

    def status_line(self) -> str:
        """systemd STATUS=, e.g. "VI_1 MASTER, VI_2 BACKUP; IPVS ok, 3 services"."""
        states = ", ".join(f"{name} {state}"
                           for name, state in self.director.instance_states.items())
        services = len(self.reconciler.desired.services)
        return (f"{states or 'no VRRP instances'}; IPVS {self.reconciler.state}, "
                f"{services} service{'' if services == 1 else 's'}")

    # ---- the director policy: inputs in, outputs to I/O ---------------------------------------

    def feed(self, item: director.Input) -> None:
        """Main loop only: one input to the policy, its outputs carried out in order. Health
        changes not handed over yet go first: the policy sees every input in arrival order."""
        if self._health_pending and not isinstance(item, director.HealthBatch):
            self._flush_health()
        for output in self.director.handle(time.time(), item):
            self._perform(output)

    def _perform(self, output: director.Output) -> None:
        match output:
            case director.Emit(event):
                self.emit_event(event)
            case RunNotify(owner, scripts, env, users):
                self.notify_runner.submit(owner, scripts, env, users)
            case director.SuspendChecks(services):
                self.health_engine.pause_services(services, True)
            case director.ResumeChecks(services):
                self.health_engine.pause_services(services, False)
            case director.Log(event, fields):
                log.info(event, **fields)
            case director.StatusChanged():
                self.systemd.notify(f"STATUS={self.status_line()}")
            case director.DesiredIpvs(table, timeouts, sync_daemons, owned):
                self.reconciler.set_desired(table, timeouts=timeouts,
                                            sync_daemons=sync_daemons, owned=owned)
                if self.scale_out is not None:  # health changed: the announce looks again
                    self.scale_out.poke()

    async def consume_events(self) -> None:
        """VRRP transitions, in the order the VRRP thread saw them."""
        async for item in self._events_out:
            if isinstance(item, Flush):
                item.done.set()
            else:
                self.feed(item)

    def emit_event(self, event: Event) -> None:
        """The one path every event takes, in order: recent events in the dump, the notify
        FIFO and the JSON event log. Main loop only."""
        self.recent_events.append(event.as_record())
        del self.recent_events[:-RECENT_EVENTS_KEPT]
        self.events.write(event)
        if self.smtp_alerts is not None and self.alerter is not None:
            for alert in self.smtp_alerts.handle(self.config, event):
                self.alerter.submit(alert)

    def alert_stats(self) -> dict[str, int]:
        """The e-mail counters of the metrics (0 without an smtp section so far)."""
        if self.alerter is not None:
            return self.alerter.stats()
        return dict.fromkeys(limits.SMTP_ALERT_COUNTERS, 0)

    def _health_changed(self, key: ServerKey, health: ServerHealth) -> None:
        """A real server went up or down (or changed dynamic weight): the director records
        it and recomputes quorum and the table; the reconciler applies only the difference.
        The changes of one loop turn reach the director as one HealthBatch, so the table is
        built once for all of them (a check round that flips thousands of servers stays
        linear); any other input hands them over first (feed)."""
        self._health_pending.append(director.HealthChanged(
            key.service, key.dest,  # IPVS ServiceKey and DestKey (specs_from_config)
            shared_health(health.up, health.weight, health.reason)))
        if len(self._health_pending) == 1:
            try:
                trio.lowlevel.current_trio_token().run_sync_soon(self._flush_health)
            except RuntimeError:  # not in a trio run (tools): at once
                self._flush_health()

    def _flush_health(self) -> None:
        """Hand the collected health changes to the director. Also a run_sync_soon callback,
        where an exception would abort the whole trio run: it is logged instead, as the
        engine logs a failed on_change callback."""
        batch = tuple(self._health_pending)
        self._health_pending.clear()
        if not batch:
            return
        try:
            self.feed(director.HealthBatch(batch))
        except Exception:
            log.exception("health_batch_failed", changes=len(batch))

    def _health_settled_down(self, key: ServerKey, health: ServerHealth) -> None:
        """An alpha checker's first evaluation failed (director.HealthSettledDown)."""
        self.feed(director.HealthSettledDown(
            key.service, key.dest, shared_health(health.up, health.weight, health.reason)))

    async def flush_events(self) -> None:
        """Until every VRRP event queued so far has been handled. The VRRP thread's events
        arrive through run_sync_soon; a marker queued the same way lands behind them."""
        assert self._token is not None
        marker = Flush()
        self._token.run_sync_soon(self._events_in.send_nowait, marker)
        await marker.done.wait()


def _describe(exc: BaseException) -> str:
    """One readable line for an error that may be wrapped in exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def run(config: Config, *, config_path: str, overrides: dict[str, str] | None = None,
        release_ipvs: bool = True) -> int:
    fix_malloc_mmap_threshold()  # see resources.py: netlink buffers kept in the heap
    raise_fd_limit()  # see resources.py: a socket per check in flight
    netns = config.global_settings.net_namespace
    if netns is not None:  # before any thread or socket: both keep the namespace they got
        from haipvs.drivers import proc_watch, process_options

        proc_watch.remember_start_netns()  # track_process's proc connector lives there
        try:
            process_options.enter_net_namespace(netns)
        except OSError as exc:
            log.error("net_namespace_failed", net_namespace=netns, error=exc.strerror)
            return 1
        log.info("net_namespace_entered", net_namespace=netns)
    daemon = Daemon(config, config_path, overrides, release_ipvs=release_ipvs)
    with PidFile(daemon.config.global_settings.pid_file):
        return trio.run(daemon.main)
