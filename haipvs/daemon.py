"""The haipvs daemon: wires the config to the VRRP runtime (own thread) and the main loop
(signals, state dump, IPVS reconciler)."""

from __future__ import annotations

import contextlib
import dataclasses
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
from haipvs.ipvs.reconcile import Reconciler
from haipvs.ipvs.status import health_from_dump, render_status, status_json
from haipvs.statedump import DUMP_FORMAT, write_dump
from haipvs.vrrp_binding import bindings_from_config

log = structlog.get_logger("haipvs")


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
        self.health_engine = HealthEngine(specs_from_config(self.config), self._health_changed)
        self.health: ipvs_desired.HealthView = self.health_engine
        self.reconciler = Reconciler()

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
        try:
            try:
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
                await nursery.start(self.health_engine.run)
                self.update_ipvs()
                await nursery.start(self.reconciler.run)
                nursery.start_soon(self._consume_events)
                nursery.start_soon(self._watch_runtime, nursery.cancel_scope)
                exit_code = await self._handle_signals()
                nursery.cancel_scope.cancel()
        finally:
            runtime.request_shutdown()
            await trio.to_thread.run_sync(runtime.join, 10.0)
            rtnl.close()
        if self._runtime_failed:
            exit_code = 1
        log.info("haipvs_stopped", exit_code=exit_code)
        return exit_code

    async def _watch_runtime(self, cancel_scope: trio.CancelScope) -> None:
        """If the VRRP thread dies, exit non-zero so systemd restarts us: running on without
        VRRP would silently break failover."""
        runtime = self.runtime
        assert runtime is not None
        while runtime.alive:
            await trio.sleep(0.5)
        self._runtime_failed = True
        log.error("vrrp_runtime_died")
        os.kill(os.getpid(), signal.SIGTERM)

    async def _consume_events(self) -> None:
        async for event in self._events_out:
            self.recent_events.append(event)
            del self.recent_events[:-100]
            if event["kind"] == "vrrp_transition":
                self.instance_states[event["instance"]] = event["to"]
                if self.config.global_settings.lvs_sync_daemon is not None:
                    self.update_ipvs()

    def _health_changed(self, key: ServerKey, health: ServerHealth) -> None:
        """A real server went up or down (or changed dynamic weight): recompute the desired
        IPVS table; the reconciler applies only the difference."""
        self.recent_events.append(
            {
                "kind": "realserver",
                "at": time.time(),
                "service": str(key.service),
                "real_server": str(key.dest),
                "up": health.up,
                "weight": health.weight,
                "reason": health.reason,
            }
        )
        del self.recent_events[:-100]
        self.update_ipvs()

    def update_ipvs(self) -> None:
        """Desired IPVS state from config + health (+ VRRP state for the sync daemon).
        IPVS entries are kept on MASTER and BACKUP alike, as keepalived does: a BACKUP
        that takes over must not have to program its table first."""
        config = self.config
        self.reconciler.set_desired(
            ipvs_desired.desired_table(config, self.health),
            timeouts=ipvs_desired.desired_timeouts(config),
            sync_daemons=ipvs_desired.desired_sync_daemons(config, self.instance_states),
            owned=ipvs_desired.owned_keys([config]),
        )

    async def _handle_signals(self) -> int:
        wanted = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGHUP)
        with trio.open_signal_receiver(*wanted) as signals:
            async for signum in signals:
                if signum in (signal.SIGTERM, signal.SIGINT):
                    log.info("shutdown_requested", signal=signal.Signals(signum).name)
                    return 1 if self._runtime_failed else 0
                if signum == signal.SIGUSR1:
                    await self.dump_state()
                elif signum == signal.SIGHUP:
                    await self._reload()
        return 0

    async def snapshot(self) -> dict[str, Any]:
        runtime = self.runtime
        vrrp: dict[str, Any] = {"instances": {}, "interfaces": {}}
        if runtime is not None and runtime.alive:
            vrrp = await trio.to_thread.run_sync(runtime.call_in_loop, runtime.snapshot)
        return {
            "format": DUMP_FORMAT,
            "generated_at": time.time(),
            "started_at": self.started_at,
            "pid": os.getpid(),
            "router_id": self.config.global_settings.router_id,
            "config": self.config_path,
            **vrrp,
            "ipvs": self.ipvs_snapshot(),
            "recent_events": list(self.recent_events[-20:]),
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
        snapshot["desired_text"] = render_status(
            self.reconciler.desired, health_from_dump(snapshot["health"])
        )
        return snapshot

    async def dump_state(self) -> None:
        dump = await self.snapshot()
        path = await trio.to_thread.run_sync(write_dump, self.state_dir, dump)
        log.info("state_dumped", path=str(path))

    async def _reload(self) -> None:
        from haipvs.config import ConfigError, load_config

        try:
            new = await trio.to_thread.run_sync(load_config, self.config_path)
            new = with_overrides(new, self.overrides)
        except ConfigError as exc:
            for issue in str(exc).splitlines():
                log.error("reload_rejected", error=issue)
            return
        if new == self.config:
            log.info("reload_unchanged")
            return
        log.warning(
            "reload_needs_restart",
            detail="configuration is valid; live reload is not implemented yet, restart to apply",
        )


def _describe(exc: BaseException) -> str:
    """One readable line for an error that may be wrapped in exception groups."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return f"{type(exc).__name__}: {exc}"


def run(config: Config, *, config_path: str, overrides: dict[str, str] | None = None) -> int:
    daemon = Daemon(config, config_path, overrides)
    with PidFile(daemon.config.global_settings.pid_file):
        return trio.run(daemon.main)
