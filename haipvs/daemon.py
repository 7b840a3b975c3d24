"""The haipvs daemon: wires the config to the VRRP runtime (own thread) and the main loop
(signals, state dump, health checks, IPVS reconciler, trackers, notify scripts and event
stream, systemd notification and watchdog, metrics). Signals and reload semantics:
docs/operations.md."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import math
import os
import signal
import time
from pathlib import Path
from typing import Any

import structlog
import trio

from haipvs.config import Config
from haipvs.drivers.netlink_thread import NetlinkThread
from haipvs.drivers.vrrp_runtime import VrrpRuntime
from haipvs.health import HealthEngine, ServerHealth, ServerKey, specs_from_config
from haipvs.ipvs import desired as ipvs_desired
from haipvs.ipvs.ownership import LEDGER_NAME as OWNERSHIP_LEDGER_NAME
from haipvs.ipvs.ownership import OwnershipLedger
from haipvs.ipvs.quorum import QuorumChange, QuorumTracker
from haipvs.ipvs.reconcile import Reconciler
from haipvs.ipvs.status import health_from_dump, render_status, status_json
from haipvs.notify import EventStream, NotifyRunner, transition_scripts
from haipvs.reload import plan_reload
from haipvs.resources import count_trio_tasks, fix_malloc_mmap_threshold, process_resources
from haipvs.sdnotify import SystemdNotifier
from haipvs.statedump import DUMP_FORMAT, write_dump
from haipvs.trackers import Trackers
from haipvs.vrrp_binding import bindings_from_config

log = structlog.get_logger("haipvs")

HEALTH_MAX_SPREAD = 5.0

# TEST HOOK ONLY: with HAIPVS_TEST_HOOKS=1 in the environment, SIGUSR2 freezes the VRRP loop
# for HAIPVS_TEST_BLOCK_SECONDS (default 5) so tests can watch the watchdog pings stop.
TEST_HOOKS_ENV = "HAIPVS_TEST_HOOKS"
TEST_BLOCK_SECONDS_ENV = "HAIPVS_TEST_BLOCK_SECONDS"
# WATCHDOG=1 is withheld once the VRRP loop's heartbeat is older than this many seconds.
HEARTBEAT_STALE_AFTER = 2.0


def _make_iproute():
    from pyroute2 import IPRoute

    return IPRoute()


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


def with_overrides(config: Config, overrides: dict[str, str]) -> Config:
    """Command-line settings (--pid-file, --state-dir) win over the file, also on reload."""
    if not overrides:
        return config
    settings = dataclasses.replace(config.global_settings, **overrides)
    return dataclasses.replace(config, global_settings=settings)


class Daemon:
    def __init__(
        self, config: Config, config_path: str, overrides: dict[str, str] | None = None
    ) -> None:
        self.overrides = dict(overrides or {})
        self.config = with_overrides(config, self.overrides)
        self.config_path = config_path
        self.started_at = time.time()
        self._events_in, self._events_out = trio.open_memory_channel[dict[str, Any]](math.inf)
        self._token: trio.lowlevel.TrioToken | None = None
        self.runtime: VrrpRuntime | None = None
        self.recent_events: list[dict[str, Any]] = []
        self._runtime_failed = False
        self.instance_states: dict[str, str] = {i.name: "INIT" for i in config.vrrp_instances}
        # The health engine is also the IPVS HealthView: the desired table asks it.
        # First checks are spread over at most HEALTH_MAX_SPREAD seconds, not the whole
        # delay_loop: with alpha and keepalived's 60 s default a server would otherwise stay
        # out of the table for up to a minute after start.
        self.health_engine = HealthEngine(
            specs_from_config(self.config), self._health_changed, max_spread=HEALTH_MAX_SPREAD
        )
        self.health: ipvs_desired.HealthView = self.health_engine
        self.quorum = QuorumTracker()
        self.ha_suspended: set[Any] = set()  # service keys whose checks ha_suspend stopped
        self.reconciler = Reconciler(
            ownership=OwnershipLedger(Path(self.state_dir) / OWNERSHIP_LEDGER_NAME))
        self.systemd = SystemdNotifier()
        self.events = EventStream()
        self.notify_runner = NotifyRunner()
        self.trackers: Trackers | None = None
        self.metrics: Any = None  # haipvs.metrics.Metrics while metrics_listen is set
        self.group_states: dict[str, str] = {}
        self.reloads = 0
        self._exit_code = 1
        self.test_hooks = os.environ.get(TEST_HOOKS_ENV) == "1"

    @property
    def state_dir(self) -> str:
        return self.config.global_settings.state_dir

    def _event_from_vrrp_thread(self, event: dict[str, Any]) -> None:
        """Called in the VRRP thread; hands the event to the main loop without blocking."""
        if self._token is not None:
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._events_in.send_nowait, event)

    async def main(self) -> int:
        self._token = trio.lowlevel.current_trio_token()
        rtnl = NetlinkThread(_make_iproute, name="rtnl")
        rtnl.start()
        runtime = VrrpRuntime(bindings_from_config(self.config), rtnl, self._event_from_vrrp_thread)
        self.runtime = runtime
        exit_code = 1
        try:
            try:
                self._configure_outputs(self.config)
                await trio.to_thread.run_sync(runtime.start)
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
                # Signals first: a SIGHUP/SIGUSR1 during start-up must not kill the daemon.
                signals_ready = trio.Event()
                nursery.start_soon(self._signals_task, nursery.cancel_scope, signals_ready)
                await signals_ready.wait()
                await nursery.start(self.notify_runner.run)
                nursery.start_soon(self._consume_events)
                self.trackers = Trackers(self.config, runtime.set_tracker)
                await nursery.start(self.trackers.run)
                # Every instance starts in INIT: ha_suspend services start suspended.
                self._apply_ha_suspend()
                await nursery.start(self.health_engine.run)
                self.update_ipvs()
                await nursery.start(self.reconciler.run)
                # Everything loaded so far lives as long as the process: keep it out of the
                # collector's way (full collections at 10k checkers took 50-170 ms).
                gc.freeze()
                nursery.start_soon(self._watch_runtime, nursery.cancel_scope)
                nursery.start_soon(self._watchdog)
                nursery.start_soon(self._metrics_loop)
                await self._first_reconcile()
                self.systemd.notify("READY=1", f"STATUS={self.status_line()}")
                log.info("haipvs_ready", status=self.status_line())
                await trio.sleep_forever()
            exit_code = self._exit_code
        finally:
            runtime.request_shutdown()
            await trio.to_thread.run_sync(runtime.join, 10.0)
            rtnl.close()
            self.events.close()
            if self.metrics is not None:
                self.metrics.stop()
            self.systemd.close()
        if self._runtime_failed:
            exit_code = 1
        log.info("haipvs_stopped", exit_code=exit_code)
        return exit_code

    def _configure_outputs(self, config: Config) -> None:
        """Event stream, notify timeout and the metrics endpoint, from `global`."""
        settings = config.global_settings
        self.notify_runner.timeout = settings.notify_timeout
        if (settings.notify_fifo, settings.event_log) != (
            self.events.fifo_path, self.events.json_path
        ):
            stream = EventStream(settings.notify_fifo, settings.event_log)
            stream.open()
            self.events.close()
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

    async def _first_reconcile(self) -> None:
        """READY=1 waits for the first IPVS pass (or IPVS reported unavailable)."""
        with trio.move_on_after(30):
            while self.reconciler.state == "starting":
                await trio.sleep(0.02)

    def status_line(self) -> str:
        """systemd STATUS=, e.g. "VI_1 MASTER, VI_2 BACKUP; IPVS ok, 3 services"."""
        states = ", ".join(f"{name} {state}" for name, state in self.instance_states.items())
        services = len(self.reconciler.desired.services)
        return (f"{states or 'no VRRP instances'}; IPVS {self.reconciler.state}, "
                f"{services} service{'' if services == 1 else 's'}")

    async def _watchdog(self) -> None:
        """WATCHDOG=1 only while the VRRP loop ticks: a stuck VRRP thread gets no pings, so
        systemd restarts the daemon rather than keep a director that cannot fail over."""
        interval = self.systemd.watchdog_interval
        runtime = self.runtime
        if interval is None or runtime is None:
            return
        while True:
            age = time.monotonic() - runtime.heartbeat
            if runtime.alive and age < HEARTBEAT_STALE_AFTER:
                self.systemd.notify("WATCHDOG=1")
            else:
                log.warning("watchdog_withheld", heartbeat_age=round(age, 3))
            await trio.sleep(interval)

    async def _metrics_loop(self) -> None:
        """Refresh the metrics snapshot once a second while the endpoint is on."""
        runtime = self.runtime
        assert runtime is not None
        while True:
            metrics = self.metrics
            if metrics is not None and runtime.alive:
                seen = metrics.timers_seen

                def gather(seen: int = seen) -> tuple:
                    return runtime.snapshot(), runtime.take_timer_lateness(seen)

                vrrp, (metrics.timers_seen, lateness) = await trio.to_thread.run_sync(
                    runtime.call_in_loop, gather)
                metrics.refresh(
                    vrrp=vrrp, lateness=lateness, ipvs=self.reconciler.snapshot(),
                    ops_log=list(self.reconciler.ops_log),
                    health=self.health_engine.snapshot(),
                    extra={"reloads_total": self.reloads,
                           "notify_scripts_failed_total": self.notify_runner.failures,
                           "events_dropped_total": self.events.dropped},
                )
            await trio.sleep(1.0)

    async def _watch_runtime(self, cancel_scope: trio.CancelScope) -> None:
        """If the VRRP thread dies, exit non-zero so systemd restarts us: running on without
        VRRP would silently break failover."""
        runtime = self.runtime
        assert runtime is not None
        while runtime.alive:
            await trio.sleep(0.5)
        if runtime.shutdown_requested:
            # A stop in progress: the signal task ends the thread and drains. Signalling
            # ourselves now would hit the default SIGTERM action and kill the drain.
            return
        self._runtime_failed = True
        log.error("vrrp_runtime_died")
        os.kill(os.getpid(), signal.SIGTERM)

    async def _consume_events(self) -> None:
        async for event in self._events_out:
            self.emit_event(event)
            if event["kind"] == "vrrp_transition":
                self.instance_states[event["instance"]] = event["to"]
                self._notify_instance(event)
                self._update_groups()
                self._apply_ha_suspend()
                self.systemd.notify(f"STATUS={self.status_line()}")
                if self.config.global_settings.lvs_sync_daemon is not None:
                    self.update_ipvs()

    def emit_event(self, event: dict[str, Any]) -> None:
        """The one path every event takes, in order: recent events in the dump, the notify
        FIFO and the JSON event log. Main loop only. Real-server changes come in as
        `{"kind": "realserver", "service": str, "real_server": str, "up": bool, ...}`."""
        event.setdefault("at", time.time())
        self.recent_events.append(event)
        del self.recent_events[:-100]
        self.events.write(event)

    def _notify_instance(self, event: dict[str, Any]) -> None:
        name = event["instance"]
        try:
            instance = self.config.instance(name)
        except KeyError:
            return
        priority = event.get("priority", 0)
        scripts = transition_scripts(instance, "INSTANCE", name, event["to"], priority)
        env = {"HAIPVS_TYPE": "INSTANCE", "HAIPVS_NAME": name, "HAIPVS_STATE": event["to"],
               "HAIPVS_PREVIOUS_STATE": event["from"], "HAIPVS_REASON": event["reason"],
               "HAIPVS_PRIORITY": str(priority)}
        self.notify_runner.submit(f"instance:{name}", scripts, env)

    def _update_groups(self) -> None:
        """A sync group is FAULT when any member is, MASTER/BACKUP/STOP once all members
        are; a group change is an event and runs the group's notify scripts."""
        for group in self.config.vrrp_sync_groups:
            states = {self.instance_states.get(member, "INIT") for member in group.group}
            if "FAULT" in states:
                state = "FAULT"
            elif len(states) == 1 and states <= {"MASTER", "BACKUP", "STOP"}:
                state = next(iter(states))
            else:
                continue
            previous = self.group_states.get(group.name, "INIT")
            if previous == state:
                continue
            self.group_states[group.name] = state
            self.emit_event({"kind": "vrrp_group_transition", "group": group.name,
                             "from": previous, "to": state})
            scripts = transition_scripts(group, "GROUP", group.name, state, 0)
            env = {"HAIPVS_TYPE": "GROUP", "HAIPVS_NAME": group.name, "HAIPVS_STATE": state,
                   "HAIPVS_PREVIOUS_STATE": previous}
            self.notify_runner.submit(f"group:{group.name}", scripts, env)

    def _health_changed(self, key: ServerKey, health: ServerHealth) -> None:
        """A real server went up or down (or changed dynamic weight): recompute the desired
        IPVS table; the reconciler applies only the difference."""
        self.emit_event(
            {
                "kind": "realserver",
                "service": str(key.service),
                "real_server": str(key.dest),
                "up": health.up,
                "weight": health.weight,
                "reason": health.reason,
            }
        )
        self.update_ipvs()

    def _apply_ha_suspend(self) -> None:
        """ha_suspend: checks of a service stop while no VRRP instance holding its address is
        MASTER, and resume when one is. Health (and so the IPVS table) keeps its last state
        meanwhile, as keepalived does."""
        wanted = ipvs_desired.ha_suspended_services(self.config, self.instance_states)
        suspended = {key for key, paused in wanted.items() if paused}
        # Always applied, not only on a change: a reload may add services or drop the flag.
        self.health_engine.pause_services(suspended, True)
        self.health_engine.pause_services(
            [key for key in wanted if key not in suspended], False)
        for key in sorted(suspended ^ self.ha_suspended, key=str):
            log.info("health_checks_suspended" if key in suspended else "health_checks_resumed",
                     service=str(key))
        self.ha_suspended = suspended

    def _update_quorum(self, config: Config) -> None:
        """Track each service's quorum; a gain or loss is an event and runs quorum_up /
        quorum_down (argv, through the notify runner, one at a time per service)."""
        changes = self.quorum.update(
            ipvs_desired.quorum_input(vs, self.health) for vs in config.virtual_servers)
        if not changes:
            return
        by_key = {ipvs_desired.service_key(vs): vs for vs in config.virtual_servers}
        for change in changes:
            self._quorum_changed(by_key[change.service], change)

    def _quorum_changed(self, vs: Any, change: QuorumChange) -> None:
        service = str(change.service)
        self.emit_event({"kind": "quorum", "service": service, "up": change.up,
                         "weight": change.weight, "initial": change.initial})
        log.info("quorum_gained" if change.up else "quorum_lost", service=service,
                 weight=change.weight, quorum=vs.quorum, hysteresis=vs.hysteresis)
        script = vs.quorum_up if change.up else vs.quorum_down
        if script:
            env = {"HAIPVS_TYPE": "QUORUM", "HAIPVS_SERVICE": service,
                   "HAIPVS_STATE": "UP" if change.up else "DOWN",
                   "HAIPVS_WEIGHT": str(change.weight), "HAIPVS_QUORUM": str(vs.quorum),
                   "HAIPVS_HYSTERESIS": str(vs.hysteresis)}
            self.notify_runner.submit(f"quorum:{service}", [tuple(script)], env)

    def update_ipvs(self) -> None:
        """Desired IPVS state from config + health + quorum (+ VRRP state for the sync
        daemon). IPVS entries are kept on MASTER and BACKUP alike, as keepalived does: a
        BACKUP that takes over must not have to program its table first."""
        config = self.config
        self._update_quorum(config)
        self.reconciler.set_desired(
            ipvs_desired.desired_table(config, self.health, self.quorum.states),
            timeouts=ipvs_desired.desired_timeouts(config),
            sync_daemons=ipvs_desired.desired_sync_daemons(config, self.instance_states),
            owned=ipvs_desired.owned_keys([config]),
        )

    async def _signals_task(self, cancel_scope: trio.CancelScope, ready: trio.Event) -> None:
        self._exit_code = await self._handle_signals(ready)
        await self._stop_vrrp_and_drain()
        cancel_scope.cancel()

    async def _stop_vrrp_and_drain(self) -> None:
        """Stop VRRP while the main loop still runs, so the STOP transitions reach the event
        stream and notify_stop scripts run (bounded by the notify timeout, at most 10 s)."""
        self.systemd.notify("STOPPING=1")
        runtime = self.runtime
        if runtime is None:
            return
        runtime.request_shutdown()
        await trio.to_thread.run_sync(runtime.join, 10.0)
        with trio.move_on_after(min(self.notify_runner.timeout, 10.0)):
            # The thread's last events arrive through run_sync_soon; let them land first.
            await trio.sleep(0.02)
            while self._events_out.statistics().current_buffer_used:
                await trio.sleep(0.01)
            await self.notify_runner.wait_idle()

    async def _handle_signals(self, ready: trio.Event | None = None) -> int:
        wanted = [signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP]
        if self.test_hooks:
            wanted.append(signal.SIGUSR2)
        with trio.open_signal_receiver(*wanted) as signals:
            if ready is not None:
                ready.set()
            async for signum in signals:
                if signum in (signal.SIGTERM, signal.SIGINT):
                    log.info("shutdown_requested", signal=signal.Signals(signum).name)
                    return 1 if self._runtime_failed else 0
                if signum == signal.SIGUSR1:
                    await self.dump_state()
                elif signum == signal.SIGHUP:
                    await self._reload()
                elif signum == signal.SIGUSR2 and self.runtime is not None:
                    seconds = float(os.environ.get(TEST_BLOCK_SECONDS_ENV, "5"))
                    log.warning("test_hook_blocking_vrrp_loop", seconds=seconds)
                    self.runtime.block_loop_for_test(seconds)
        return 0

    async def snapshot(self) -> dict[str, Any]:
        runtime = self.runtime
        vrrp: dict[str, Any] = {"instances": {}, "interfaces": {}}
        if runtime is not None and runtime.alive:
            vrrp = await trio.to_thread.run_sync(runtime.call_in_loop, runtime.snapshot)
        vrrp_loop_tasks = vrrp.pop("vrrp_loop_tasks", None)
        return {
            "format": DUMP_FORMAT,
            "generated_at": time.time(),
            "started_at": self.started_at,
            "pid": os.getpid(),
            "router_id": self.config.global_settings.router_id,
            "config": self.config_path,
            **vrrp,
            "sync_groups": {
                group.name: {"members": list(group.group),
                             "state": self.group_states.get(group.name, "INIT")}
                for group in self.config.vrrp_sync_groups
            },
            "trackers": self.trackers.snapshot() if self.trackers is not None else {},
            "ipvs": self.ipvs_snapshot(),
            "reloads": self.reloads,
            "recent_events": list(self.recent_events[-20:]),
            "process": {
                **process_resources(),
                "main_loop_tasks": count_trio_tasks(),
                "vrrp_loop_tasks": vrrp_loop_tasks,
            },
        }

    def ipvs_snapshot(self) -> dict[str, Any]:
        snapshot = self.reconciler.snapshot()
        snapshot["desired"] = status_json(self.reconciler.desired)["services"]
        servers = self.health_engine.snapshot()
        # What `haipvs status` joins with the kernel table.
        snapshot["health"] = [
            {
                "service": s["service"],
                "dest": s["real_server"],
                "up": s["up"],
                "reason": s["reason"],
            }
            for s in servers
        ]
        snapshot["real_servers"] = servers
        snapshot["quorum"] = {str(key): up for key, up in self.quorum.states.items()}
        snapshot["ha_suspended"] = sorted(str(key) for key in self.ha_suspended)
        snapshot["desired_text"] = render_status(
            self.reconciler.desired, health_from_dump(snapshot["health"])
        )
        return snapshot

    async def dump_state(self) -> None:
        dump = await self.snapshot()
        path = await trio.to_thread.run_sync(write_dump, self.state_dir, dump)
        log.info("state_dumped", path=str(path))

    async def _reload(self) -> None:
        """SIGHUP: parse and validate; an invalid file changes nothing. A valid one is applied
        as a difference (haipvs/reload.py): unchanged instances keep their state."""
        from haipvs.config import ConfigError, load_config

        self.systemd.notify("RELOADING=1", "STATUS=reloading")
        try:
            try:
                new = await trio.to_thread.run_sync(load_config, self.config_path)
                new = with_overrides(new, self.overrides)
            except ConfigError as exc:
                for issue in exc.issues:
                    log.error("reload_rejected", error=str(issue))
                log.error("reload_failed", errors=len(exc.issues),
                          detail="the running configuration is kept")
                return
            except OSError as exc:
                log.error("reload_failed", error=str(exc),
                          detail="the running configuration is kept")
                return
            if new == self.config:
                log.info("reload_unchanged")
                return
            await self._apply_config(new)
        finally:
            self.systemd.notify("READY=1", f"STATUS={self.status_line()}")

    async def _apply_config(self, new: Config) -> None:
        runtime = self.runtime
        assert runtime is not None
        plan = plan_reload(self.config, new)
        try:
            self._configure_outputs(new)
        except OSError as exc:
            log.error("reload_outputs_failed", error=str(exc))
        await trio.to_thread.run_sync(runtime.reconfigure, list(plan.keep), list(plan.add),
                                      list(plan.remove))
        self.config = new
        for name in plan.remove:
            self.instance_states.pop(name, None)
        for binding in plan.add:
            self.instance_states.setdefault(binding.name, "INIT")
        if self.trackers is not None:
            self.trackers.update(new)
        # Unchanged checks keep their state; the reconciler only applies differences.
        self.health_engine.update(specs_from_config(new))
        self._apply_ha_suspend()
        groups = {g.name for g in new.vrrp_sync_groups}
        self.group_states = {k: v for k, v in self.group_states.items() if k in groups}
        self._update_groups()
        self.update_ipvs()
        self.reloads += 1
        log.info("reload_applied", **plan.describe())


def _describe(exc: BaseException) -> str:
    """One readable line for an error that may be wrapped in exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def run(config: Config, *, config_path: str, overrides: dict[str, str] | None = None) -> int:
    fix_malloc_mmap_threshold()  # see resources.py: netlink buffers kept in the heap
    daemon = Daemon(config, config_path, overrides)
    with PidFile(daemon.config.global_settings.pid_file):
        return trio.run(daemon.main)
