"""Scale-out wiring (issue 17): feeds haipvs/policy/announce.py and carries out its outputs
with haipvs/drivers/route_table.py. Decides nothing.

Inputs, all read on the main loop:
- `ServiceHealth`: every virtual server on the VIP has its quorum (by default: one live real
  server), from the director's quorum states (haipvs/policy/director.py);
- `OwnChecks.ipvs_present`: every such service is in the reconciler's observed kernel table.
  Where the kernel has no IPVS at all (reconciler "unavailable", e.g. a test host) it is the
  desired table instead, and that is logged once: there is then nothing to check against,
  and the announce still follows the health checks;
- `OwnChecks.uplink_up`: `scale_out.uplink`'s operational state (link_monitor.py wakes it);
- `ActiveConns`: while a VIP drains, its services' active connections from an IPVS dump;
- `Drain`/`Undrain` from the control socket (`haipvs drain`), `Stop` from the graceful stop.

The daemon pokes it whenever the director publishes a desired IPVS table (every health
change), and it looks again every SCALE_OUT_EVALUATE_INTERVAL seconds.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog
import trio

from haipvs import limits
from haipvs.config import Config
from haipvs.config.scale_out import ScaleOut
from haipvs.dataclass_lean import dataclass
from haipvs.drivers import addresses, control_socket
from haipvs.drivers.link_monitor import LinkMonitor
from haipvs.drivers.netlink_thread import NetlinkThread
from haipvs.drivers.route_table import RouteTable, Vip
from haipvs.drivers.routes import REASSERT_DELAY, DeletionMonitor
from haipvs.ipvs.desired import service_key
from haipvs.ipvs.model import ServiceKey
from haipvs.policy import announce
from haipvs.policy.announce import Phase

if TYPE_CHECKING:
    from haipvs.daemon import Daemon

log = structlog.get_logger("haipvs.scale_out")

CONNS_POLL = 0.2  # seconds between active-connection counts while a VIP drains
STOP_GRACE = 5.0  # a stop waits drain_timeout plus this for the drain, at most
MIN_WAIT = 0.005  # the evaluation loop never spins, whatever deadline it is given


@dataclass(frozen=True)
class Resync:
    """Something was deleted in the kernel: put back what should be there."""


@dataclass(frozen=True)
class LoAddresses:
    """A reload added or removed bgp VIPs: their addresses on lo follow."""

    add: tuple[Vip, ...]
    remove: tuple[Vip, ...]


def _policy_settings(settings: ScaleOut) -> announce.Settings:
    return announce.Settings(
        rise=settings.rise, fall=settings.fall, hold_down=settings.hold_down,
        drain_timeout=settings.drain_timeout, graceful_shutdown=settings.graceful_shutdown)


class ScaleOutRuntime:
    def __init__(self, daemon: Daemon, rtnl: NetlinkThread, settings: ScaleOut) -> None:
        self.daemon = daemon
        self.rtnl = rtnl
        self.settings = settings
        self.metrics = {vip.address: vip.route_metric for vip in settings.vips}
        self.policy = announce.AnnouncePolicy(self.metrics, _policy_settings(settings))
        self.table = RouteTable(rtnl, settings.table, list(self.metrics))
        self.uplink_up: bool | None = None if settings.uplink else True
        self._wake = trio.Event()
        self._deadline = math.inf
        self._send, self._receive = trio.open_memory_channel[
            announce.Output | LoAddresses | Resync](math.inf)
        self._said_unavailable = False
        self._services: tuple[object, dict[Vip, list[ServiceKey]]] = (None, {})
        self._pending = 0  # route outputs queued or being carried out
        self._idle = trio.Event()
        self._idle.set()
        self.drained = trio.Event()  # set once every VIP is drained after Stop
        self.recent: list[dict[str, Any]] = []  # the last transitions, for the dump

    # ---- the policy ----------------------------------------------------------------------

    def feed(self, item: announce.Input) -> None:
        # The policy runs on the monotonic clock: a wall-clock step must not stretch a
        # hold-down or a drain.
        for output in self.policy.handle(time.monotonic(), item):
            if isinstance(output, announce.TimerAt):
                self._deadline = output.at
            elif isinstance(output, announce.Transition):
                record = {"vip": str(output.vip), "transition": output.name,
                          "from": str(output.before), "to": str(output.after), "at": time.time()}
                self.recent = [*self.recent[-19:], record]
                log.info("scale_out_transition", **record)
            else:
                self._queue(output)
        if self.policy.stopping and self.policy.all_drained:
            self.drained.set()

    def _queue(self, job: announce.Output | LoAddresses | Resync) -> None:
        self._pending += 1
        if self._idle.is_set():  # waiters hold the event until pending is 0 again
            self._idle = trio.Event()
        self._send.send_nowait(job)

    def reconfigure(self, settings: ScaleOut | None) -> None:
        """A reload (main loop, no await): VIPs added, removed or with a new metric, and the
        policy's settings. The table and the uplink stay until a restart: moving the routes
        to another table would withdraw and re-announce every VIP at once."""
        old = self.settings
        if settings is None:  # the section is gone: withdraw everything, keep the settings
            settings = dataclasses.replace(old, vips=())
        if (settings.table, settings.uplink) != (old.table, old.uplink):
            log.warning("reload_setting_ignored", setting="scale_out.table/uplink",
                        detail="kept until a restart")
            settings = dataclasses.replace(settings, table=old.table, uplink=old.uplink)
        metrics = {vip.address: vip.route_metric for vip in settings.vips}
        added = tuple(vip for vip in metrics if vip not in self.metrics)
        removed = tuple(vip for vip in self.metrics if vip not in metrics)
        self.settings, self.metrics = settings, metrics
        self._services = (None, {})  # the VIPs changed: map their services again
        self.feed(announce.Reconfigure(tuple(metrics.items()), _policy_settings(settings)))
        if added or removed:
            self._queue(LoAddresses(added, removed))
        self.poke()

    def poke(self) -> None:
        """Health or the desired table changed: look again now."""
        self._wake.set()

    def _observe(self) -> None:
        """Feed the current health and own checks of every VIP."""
        director, reconciler = self.daemon.director, self.daemon.reconciler
        quorum = director.quorum.states
        state = reconciler.state
        if state == "unavailable" and not self._said_unavailable:
            self._said_unavailable = True
            log.warning("scale_out_ipvs_unavailable", detail="this kernel has no IPVS: "
                        "'IPVS service present' is read from the desired table")
        kernel = reconciler.desired if state == "unavailable" else reconciler.observed
        present_keys = kernel.keys() if kernel is not None else set()
        services = self._services_by_vip()
        for vip in self.metrics:
            keys = services.get(vip, [])
            if keys and all(key in quorum for key in keys):
                self.feed(announce.ServiceHealth(vip, all(quorum[key] for key in keys)))
            if state != "starting" and kernel is not None and self.uplink_up is not None:
                present = bool(keys) and all(key in present_keys for key in keys)
                self.feed(announce.OwnChecks(vip, present, self.uplink_up))
        self.feed(announce.Tick())

    def _services_by_vip(self) -> dict[Vip, list[ServiceKey]]:
        """Each VIP's virtual services (their quorum keys), once per config: this runs on
        every health change and twice a second."""
        config = self.daemon.config
        if self._services[0] is not config:
            by_vip: dict[Vip, list[ServiceKey]] = {}
            for vs in config.virtual_servers:
                if vs.address in self.metrics:
                    by_vip.setdefault(vs.address, []).append(service_key(vs))
            self._services = (config, by_vip)
        return self._services[1]

    # ---- tasks ---------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                  ) -> None:
        adopted = await self.table.start(self.metrics)
        for vip, metric in adopted.items():
            self.feed(announce.Adopted(vip, metric))
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._carry_out)
            if self.settings.uplink:
                await nursery.start(self._watch_uplink, self.settings.uplink)
            await nursery.start(self._serve_control)
            nursery.start_soon(self._count_conns)
            await nursery.start(self._watch_deletions)
            task_status.started()
            await self._evaluate_loop()

    async def _evaluate_loop(self) -> None:
        while True:
            self._observe()
            now = time.monotonic()
            wake_at = min(self._deadline, now + limits.SCALE_OUT_EVALUATE_INTERVAL)
            with trio.move_on_after(max(MIN_WAIT, wake_at - now)):
                await self._wake.wait()
            self._wake = trio.Event()

    async def _carry_out(self) -> None:
        """The policy's route outputs, in order, one at a time."""
        async for output in self._receive:
            try:
                match output:
                    case announce.Announce(vip, metric, graceful):
                        await self.table.announce(vip, metric, graceful)
                    case announce.Withdraw(vip):
                        await self.table.withdraw(vip, self.metrics.get(vip))
                    case announce.DrainDone(vip):
                        log.info("scale_out_drain_done", vip=str(vip))
                    case LoAddresses(add, remove):
                        await self.table.hold_on_lo(list(add), list(remove))
                    case Resync():
                        await self.table.resync()
            except OSError as exc:  # NetlinkError too: logged, the next change retries
                log.error("scale_out_route_failed", output=repr(output), error=str(exc))
            finally:
                self._pending -= 1
                if not self._pending:
                    self._idle.set()

    async def _watch_uplink(self, ifname: str, *,
                            task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                            ) -> None:
        monitor = LinkMonitor()
        try:
            await monitor.bind()
            while True:
                link = await self.rtnl.call(addresses.sync_link_state, ifname)
                if link.up != self.uplink_up:
                    log.info("scale_out_uplink", interface=ifname, up=link.up)
                    self.uplink_up = link.up
                    self.poke()
                task_status.started()
                task_status = trio.TASK_STATUS_IGNORED
                await monitor.next_change()
        finally:
            monitor.close()

    async def _serve_control(self, *,
                             task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                             ) -> None:
        """`haipvs drain`'s socket. One that cannot be made (a state_dir path too long for
        a Unix socket, a read-only directory) is logged: the VIPs are still announced."""
        path = Path(self.daemon.state_dir) / limits.SCALE_OUT_CONTROL_SOCKET
        try:
            listener = await control_socket.listen(path)
        except OSError as exc:
            log.error("scale_out_control_socket_failed", path=str(path), error=str(exc))
            task_status.started()
            return
        await control_socket.serve_on(listener, path, self._control, task_status=task_status)

    async def _watch_deletions(self, *,
                               task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
                               ) -> None:
        """A route of ours or an address deleted (by anyone, our own withdraws included):
        one resync after the burst (routes.py's monitor, read on this loop)."""
        monitor = DeletionMonitor()
        try:
            await monitor.bind()
            task_status.started()
            while True:
                await monitor.next_deletion()
                await trio.sleep(REASSERT_DELAY)  # a flush deletes many: look once after
                monitor.drain()
                self._queue(Resync())
        finally:
            monitor.close()

    async def _count_conns(self) -> None:
        dump = operator.methodcaller("dump")
        while True:
            await trio.sleep(CONNS_POLL)
            draining = [vip for vip, s in self.policy.vips.items() if s.phase is Phase.DRAINING]
            if not draining:
                continue
            reconciler = self.daemon.reconciler
            table = None
            if reconciler.state != "unavailable":
                try:
                    table = await reconciler.call(dump)
                except Exception as exc:  # an unavailable IPVS: no connections through it
                    log.info("scale_out_conns_unknown", error=str(exc))
            for vip in draining:
                count = 0
                if table is not None:
                    count = sum(dest.active_conns for svc in table for dest in svc.destinations
                                if svc.key.address == str(vip))
                self.feed(announce.ActiveConns(vip, count))

    async def _control(self, request: control_socket.Request) -> dict:
        if request.vip is not None and request.vip not in self.metrics:
            return {"ok": False, "error": f"{request.vip} is not a bgp VIP (scale_out.vips)"}
        item = (announce.Drain(request.vip) if request.command == "drain"
                else announce.Undrain(request.vip))
        log.info("scale_out_" + request.command, vip=str(request.vip or "all"))
        self.feed(item)
        # The reply waits until the route changes are done: `haipvs drain` returning means
        # the withdraw is in the kernel.
        await self._flushed()
        return {"ok": True, "vips": self.snapshot()}

    async def _flushed(self) -> None:
        """Until every route output queued so far is carried out."""
        await self._idle.wait()

    # ---- stop and the dump ----------------------------------------------------------------

    async def stop(self) -> None:
        """Drain every VIP, then return (the daemon then releases IPVS and exits)."""
        self.feed(announce.Stop())
        # The drain may outlast the unit's TimeoutStopSec: tell systemd how long it may take.
        budget = self.settings.drain_timeout + STOP_GRACE
        self.daemon.systemd.notify("STOPPING=1", "STATUS=draining the bgp VIPs",
                                   f"EXTEND_TIMEOUT_USEC={int(budget * 1_000_000)}")
        with trio.move_on_after(budget):
            await self.drained.wait()
        await self._flushed()
        log.info("scale_out_stopped", drained=self.drained.is_set())

    def snapshot(self) -> dict[str, Any]:
        """Each VIP's state; a hold-down's end in wall-clock seconds, as the rest of the dump."""
        offset = time.time() - time.monotonic()
        out = {}
        for vip, state in self.policy.snapshot().items():
            held = state["held_until"]
            out[vip] = {**state, "announce_mode": "bgp",
                        "held_until": None if held is None else held + offset}
        return out

    def dump(self) -> dict[str, Any]:
        return {"table": self.settings.table, "uplink": self.settings.uplink,
                "uplink_up": self.uplink_up, "vips": self.snapshot(),
                "installed": sorted(str(vip) for vip in self.table.installed),
                "recent_transitions": list(self.recent)}


async def start(daemon: Daemon, rtnl: NetlinkThread, nursery: trio.Nursery) -> None:
    """From the daemon's start-up, when the config has `scale_out`."""
    settings = daemon.config.scale_out
    if settings is None:
        return
    runtime = ScaleOutRuntime(daemon, rtnl, settings)
    daemon.scale_out = runtime
    await nursery.start(runtime.run)


def reconfigure(daemon: Daemon, config: Config) -> None:
    """From a reload, once the director has the new config."""
    if daemon.scale_out is not None:
        daemon.scale_out.reconfigure(config.scale_out)
    elif config.scale_out is not None:
        log.warning("reload_setting_ignored", setting="scale_out",
                    detail="scale_out added: it starts with the next restart")


async def stop(daemon: Daemon) -> None:
    """From the graceful stop, before VRRP and IPVS go. With --dont-release-ipvs the routes
    stay as they are, like the IPVS services: that stop is a restart, and a restart must
    cause no BGP update."""
    runtime = daemon.scale_out
    if runtime is None:
        return
    if not daemon.release_ipvs:
        log.info("scale_out_routes_kept", reason="--dont-release-ipvs: a restart")
        return
    await runtime.stop()
