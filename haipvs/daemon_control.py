"""The daemon's control paths: signals (TERM/INT/QUIT stop, USR1 and SIGJSON state dump,
USR2 and SIGSTATS_CLEAR statistics, HUP reload), the graceful stop, the reload, the state
dump and the statistics. Semantics: docs/operations.md ("Signals", "Stopping")."""

from __future__ import annotations

import dataclasses
import os
import signal
import time
from typing import TYPE_CHECKING, Any

import structlog
import trio

from haipvs import daemon_signals
from haipvs.config import Config
from haipvs.config.process import keep_fixed_at_start
from haipvs.daemon_signals import SIGJSON, SIGSTATS_CLEAR, STOP_SIGNALS
from haipvs.health import specs_from_config
from haipvs.ipvs.status import health_from_dump, render_status, status_json
from haipvs.policy import director
from haipvs.policy.omega import stop_notifies
from haipvs.policy.route_entries import static_entries
from haipvs.reload import plan_reload
from haipvs.resources import count_trio_tasks, process_resources
from haipvs.statedump import DUMP_FORMAT, write_dump, write_stats
from haipvs.vrrp.messages import State
from haipvs.vrrp_stats import VrrpStats, render_stats

if TYPE_CHECKING:
    from haipvs.daemon import Daemon

log = structlog.get_logger("haipvs")

# The graceful stop waits this long at most for the VRRP thread, and for notify_stop.
STOP_TIMEOUT = 10.0


def with_overrides(config: Config, overrides: dict[str, str]) -> Config:
    """Command-line settings (--pid-file, --state-dir) win over the file, also on reload."""
    if not overrides:
        return config
    settings = dataclasses.replace(config.global_settings, **overrides)
    return dataclasses.replace(config, global_settings=settings)


# ---- signals and the graceful stop ----------------------------------------------------------


async def signals_task(daemon: Daemon, cancel_scope: trio.CancelScope,
                       ready: trio.Event) -> None:
    daemon.exit_code = await handle_signals(daemon, ready)
    if daemon.scale_out is not None:  # bgp VIPs: withdraw and drain first (issue 17)
        from haipvs import daemon_scale_out  # loaded already: it made daemon.scale_out

        await daemon_scale_out.stop(daemon)
    await stop_vrrp_and_drain(daemon)
    await release_ipvs(daemon)
    cancel_scope.cancel()


async def handle_signals(daemon: Daemon, ready: trio.Event | None = None) -> int:
    """Until a stop signal; returns the exit code. Every signal in daemon_signals.HANDLED is
    taken here; one that arrives while an earlier one is handled (a reload, a dump) waits in
    the receiver's queue, so none meets its default action."""
    with trio.open_signal_receiver(*daemon_signals.HANDLED) as signals:
        if ready is not None:
            ready.set()
        early = daemon_signals.stop_pending()
        if early is not None:  # TERM/INT/QUIT during start-up: stop now, gracefully
            log.info("shutdown_requested", signal=early.name, during="start-up")
            return 1 if daemon.runtime_failed else 0
        async for signum in signals:
            if signum in STOP_SIGNALS:
                log.info("shutdown_requested", signal=daemon_signals.name(signum))
                return 1 if daemon.runtime_failed else 0
            if signum in (signal.SIGUSR1, SIGJSON):
                # keepalived writes keepalived.data on USR1 and keepalived.json on SIGJSON
                # (vrrp_daemon.c sigusr1_vrrp / sigjson_vrrp); haipvs writes both files on
                # either (statedump.py). A file that cannot be written is logged: a
                # dump request must never end the daemon.
                try:
                    await dump_state(daemon)
                except OSError as exc:
                    log.error("state_dump_failed", error=str(exc))
            elif signum in (signal.SIGUSR2, SIGSTATS_CLEAR):
                try:
                    await dump_stats(daemon, clear=signum == SIGSTATS_CLEAR)
                except OSError as exc:
                    log.error("stats_write_failed", error=str(exc))
            elif signum == signal.SIGHUP:
                await reload(daemon)
    return 0


async def stop_vrrp_and_drain(daemon: Daemon) -> None:
    """Stop VRRP while the main loop still runs, so the STOP transitions reach the event
    stream and notify_stop scripts run (bounded by the notify timeout, at most 10 s)."""
    daemon.systemd.notify("STOPPING=1")
    runtime = daemon.runtime
    if runtime is None:
        return
    runtime.request_shutdown()
    await trio.to_thread.run_sync(runtime.join, STOP_TIMEOUT)
    with trio.move_on_after(min(daemon.notify_runner.timeout, STOP_TIMEOUT)):
        await daemon.flush_events()  # the thread's last transitions are handled
        await daemon.notify_runner.wait_idle()  # and the scripts they queued have run
    if daemon.alerter is not None:  # and the "Stopping" e-mails, briefly (smtp_alert.py)
        await daemon.alerter.drain()


async def release_ipvs(daemon: Daemon) -> None:
    """After VRRP has stopped (priority 0 sent, VIPs gone), as keepalived's checker process
    stops after its VRRP one: remove the IPVS services haipvs owns, unless
    `--dont-release-ipvs`. Not after the VRRP thread died: that exit is a crash, and the
    restart systemd makes adopts the services through the ownership ledger."""
    if daemon.runtime_failed:
        log.info("ipvs_services_kept", reason="the VRRP thread failed; a restart adopts them")
        return
    keep = not daemon.release_ipvs
    with trio.move_on_after(STOP_TIMEOUT):
        await daemon.reconciler.release(keep_services=keep)
    if keep:
        log.info("ipvs_services_kept", reason="--dont-release-ipvs")
    else:
        log.info("ipvs_services_released", state=daemon.reconciler.state)
        await run_omega_scripts(daemon)


async def run_omega_scripts(daemon: Daemon) -> None:
    """The virtual servers with `omega` run their down scripts at stop (policy/omega.py,
    keepalived ipwrapper.c clear_services); bounded like notify_stop."""
    if not any(vs.omega for vs in daemon.config.virtual_servers):
        return
    runs = stop_notifies(time.time(), daemon.config, daemon.director.health.health)
    for run in runs:
        daemon.notify_runner.submit(run.owner, run.scripts, run.env, run.users)
    if runs:
        with trio.move_on_after(min(daemon.notify_runner.timeout, STOP_TIMEOUT)):
            await daemon.notify_runner.wait_idle()
    # and omega's "Shutting down" e-mails (policy/smtp_stop.py), tried briefly; only a
    # config with an smtp section has an alerter (and mails)
    if daemon.alerter is not None:
        from haipvs.policy.smtp_stop import stop_alerts

        for alert in stop_alerts(time.time(), daemon.config, daemon.director.health.health):
            daemon.alerter.submit(alert)
        await daemon.alerter.drain()


# ---- reload -----------------------------------------------------------------------------


async def reload(daemon: Daemon) -> None:
    """SIGHUP: parse and validate; an invalid file changes nothing. A valid one is applied
    as a difference (haipvs/reload.py): unchanged instances keep their state."""
    from haipvs.config import ConfigError, load_config

    daemon.systemd.notify("RELOADING=1", "STATUS=reloading")
    try:
        try:
            new = await trio.to_thread.run_sync(load_config, daemon.config_path)
            new = with_overrides(new, daemon.overrides)
            new = _keep_fixed_at_start(daemon.config, new)
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
        from haipvs.config.warnings import config_warnings

        for warning in config_warnings(new):
            log.warning("config_warning", where=warning.where, warning=warning.message)
        from haipvs.script_creds import secure_config

        # keepalived re-checks its scripts on reload; stat calls, off the loop
        new = await trio.to_thread.run_sync(secure_config, new, log)
        if new == daemon.config:
            log.info("reload_unchanged")
            return
        await apply_config(daemon, new)
    finally:
        daemon.systemd.notify("READY=1", f"STATUS={daemon.status_line()}")


def _keep_fixed_at_start(old: Config, new: Config) -> Config:
    """instance, net_namespace and the paths derived from them stay until a restart
    (haipvs/config/process.py, as keepalived's reload)."""
    settings, changed = keep_fixed_at_start(old.global_settings, new.global_settings)
    for name in changed:
        log.warning("reload_setting_ignored", setting=f"global.{name}",
                    detail="kept until a restart, as keepalived does")
    return dataclasses.replace(new, global_settings=settings) if changed else new


async def apply_config(daemon: Daemon, new: Config) -> None:
    runtime = daemon.runtime
    assert runtime is not None
    plan = plan_reload(daemon.config, new)
    try:
        daemon.configure_outputs(new)
        daemon.apply_priorities(new)
    except OSError as exc:
        log.error("reload_outputs_failed", error=str(exc))
    # Before the runtime stops them: their STOP is told FAULT, as keepalived (director).
    daemon.feed(director.InstancesRemoving(tuple(plan.remove)))
    if daemon.trackers is not None:  # added instances start with their track files read
        daemon.trackers.read_files(runtime.preset_tracker, new,
                                   frozenset(b.name for b in plan.add))
    await trio.to_thread.run_sync(runtime.reconfigure, list(plan.keep), list(plan.add),
                                  list(plan.remove), static_entries(new))
    # From here on no await: the policy, trackers and checkers switch in one step.
    daemon.start_bfd(new)  # the first config with bfd, with the old one in force (issue 18)
    daemon.feed(director.ConfigChanged(new, removed=tuple(plan.remove),
                                       added=tuple(b.name for b in plan.add)))
    if daemon.trackers is not None:
        daemon.trackers.update(new)
    if daemon.bfd is not None:  # track_bfd users and sessions (haipvs/daemon_bfd.py)
        daemon.bfd.update(new)
    # Unchanged checks keep their state; changes reach the director as HealthChanged.
    daemon.health_engine.update(specs_from_config(new))
    daemon.feed(director.ConfigApplied())
    if daemon.scale_out is not None or new.scale_out is not None:
        # bgp VIPs added, removed, new metrics; imported only by a config with scale_out
        from haipvs import daemon_scale_out

        daemon_scale_out.reconfigure(daemon, new)
    daemon.reloads += 1
    log.info("reload_applied", **plan.describe())


# ---- the state dump and the statistics (formats: docs/operations.md) -----------------------


async def dump_stats(daemon: Daemon, *, clear: bool) -> None:
    """SIGUSR2 (and SIGSTATS_CLEAR, which then starts the counts again from 0): haipvs.stats.
    The counters are copied inside the VRRP loop in one call, between two of its inputs, so
    the numbers are of one moment (the same path as the dump's VRRP part)."""
    runtime = daemon.runtime
    stats = VrrpStats()
    if runtime is not None and runtime.alive:
        stats = await trio.to_thread.run_sync(runtime.call_in_loop, runtime.stats)
    shown = stats.minus(daemon.stats_baseline)
    if clear:
        daemon.stats_baseline = stats
    path = await trio.to_thread.run_sync(write_stats, daemon.state_dir, render_stats(shown))
    log.info("stats_written", path=str(path), cleared=clear)


async def dump_state(daemon: Daemon) -> None:
    dump = await snapshot(daemon)
    path = await trio.to_thread.run_sync(write_dump, daemon.state_dir, dump)
    log.info("state_dumped", path=str(path))


async def snapshot(daemon: Daemon) -> dict[str, Any]:
    runtime = daemon.runtime
    vrrp: dict[str, Any] = {"instances": {}, "interfaces": {}}
    if runtime is not None and runtime.alive:
        vrrp = await trio.to_thread.run_sync(runtime.call_in_loop, runtime.snapshot)
    vrrp_loop_tasks = vrrp.pop("vrrp_loop_tasks", None)
    config = daemon.config
    groups = daemon.director.group_states
    return {
        "format": DUMP_FORMAT,
        "generated_at": time.time(),
        "started_at": daemon.started_at,
        "pid": os.getpid(),
        "router_id": config.global_settings.router_id,
        "config": daemon.config_path,
        **vrrp,
        "sync_groups": {
            group.name: {"members": list(group.group),
                         "state": str(groups.get(group.name, State.INIT))}
            for group in config.vrrp_sync_groups
        },
        "trackers": daemon.trackers.snapshot() if daemon.trackers is not None else {},
        "ipvs": ipvs_snapshot(daemon),
        "scale_out": daemon.scale_out.dump() if daemon.scale_out is not None else None,
        "reloads": daemon.reloads,
        "recent_events": list(daemon.recent_events[-20:]),
        "process": {
            **process_resources(),
            "main_loop_tasks": count_trio_tasks(),
            "vrrp_loop_tasks": vrrp_loop_tasks,
        },
    }


def ipvs_snapshot(daemon: Daemon) -> dict[str, Any]:
    reconciler = daemon.reconciler
    snapshot = reconciler.snapshot()
    snapshot["desired"] = status_json(reconciler.desired)["services"]
    servers = daemon.health_engine.snapshot()
    # What `haipvs status` joins with the kernel table.
    snapshot["health"] = [
        {"service": s["service"], "dest": s["real_server"], "up": s["up"],
         "reason": s["reason"]}
        for s in servers
    ]
    snapshot["real_servers"] = servers
    snapshot["quorum"] = {str(key): up for key, up in daemon.director.quorum.states.items()}
    snapshot["ha_suspended"] = sorted(str(key) for key in daemon.director.ha_suspended)
    snapshot["desired_text"] = render_status(reconciler.desired,
                                             health_from_dump(snapshot["health"]))
    return snapshot
