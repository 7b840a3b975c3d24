"""The VRRP runtime: its own thread, its own trio loop, nothing else on it.

It owns the raw sockets, the core state machines and their timers, GARP/NA, VIP changes
(through the rtnetlink owner thread, so netlink never blocks this loop) and the link
monitor. Checker load on the main loop cannot make adverts late: the only thing shared
is the GIL, and the switch interval is lowered so this thread gets it back quickly.
"""

from __future__ import annotations

import collections
import contextlib
import ipaddress
import math
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import structlog
import trio

from haipvs.drivers import addresses
from haipvs.drivers.announce import Announcer
from haipvs.drivers.link_monitor import LinkMonitor
from haipvs.drivers.netlink_thread import NetlinkThread
from haipvs.drivers.vrrp_socket import VrrpSocket
from haipvs.vrrp import core

log = structlog.get_logger("haipvs.vrrp")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
EventSink = Callable[[dict[str, Any]], None]

# Python hands the GIL to another thread every 5 ms by default; a busy main loop would
# then delay an advert by up to that much. 1 ms keeps VRRP punctual at little cost.
GIL_SWITCH_INTERVAL = 0.001


@dataclass(frozen=True)
class InstanceBinding:
    """What the runtime needs for one instance: the core's parameters plus the I/O facts."""

    params: core.InstanceParams
    ifname: str
    vips: tuple[addresses.Vip, ...]
    unicast_src: IPAddress | None = None
    unicast_peers: tuple[IPAddress, ...] = ()

    @property
    def name(self) -> str:
        return self.params.name

    @property
    def family(self) -> int:
        return self.params.family


@dataclass
class _Instance:
    binding: InstanceBinding
    machine: core.VrrpMachine
    group: _InterfaceGroup
    timers: dict[str, float] = field(default_factory=dict)
    timer_scope: trio.CancelScope | None = None
    primary: IPAddress | None = None
    faulted: bool = False
    vips_held: bool = False
    transitions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.binding.name

    @property
    def family(self) -> int:
        return self.binding.family


@dataclass
class _InterfaceGroup:
    """Instances sharing one interface and address family share one socket pair."""

    ifname: str
    family: int
    ifindex: int
    sock: VrrpSocket
    announcer: Announcer
    dispatcher: core.Dispatcher
    instances: dict[int, _Instance] = field(default_factory=dict)
    # Every core input of this group and the execution of its actions happen under this
    # lock, so a state change and the I/O it asks for are never interleaved with another.
    lock: trio.Lock = field(default_factory=trio.Lock)


class VrrpRuntime:
    def __init__(
        self,
        bindings: list[InstanceBinding],
        rtnl: NetlinkThread,
        event_sink: EventSink,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bindings = bindings
        self._rtnl = rtnl
        self._event_sink = event_sink
        self._wall_clock = clock
        self._instances: dict[str, _Instance] = {}
        self._groups: dict[tuple[str, int], _InterfaceGroup] = {}
        self._shutdown = trio.Event()
        self._token: trio.lowlevel.TrioToken | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self.heartbeat = 0.0  # monotonic time of the last loop tick; read by the watchdog
        # How late each timer fired (seconds), newest last: the timer-safety evidence.
        self.timer_lateness: collections.deque[tuple[str, float]] = collections.deque(
            maxlen=100_000
        )

    # ---- thread control (called from the main thread) ----------------------------------

    def start(self, timeout: float = 10.0) -> None:
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        self._thread = threading.Thread(target=self._thread_main, name="vrrp", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("VRRP runtime did not start in time")
        if self._failure is not None:
            raise self._failure

    def _thread_main(self) -> None:
        try:
            trio.run(self._main)
        except BaseException as exc:
            self._failure = exc
            log.error("vrrp_runtime_failed", error=repr(exc))
        finally:
            self._ready.set()

    def request_shutdown(self) -> None:
        """Thread-safe: MASTERs send prio 0 and release their VIPs, then the loop ends."""
        if self._token is not None:
            with contextlib.suppress(trio.RunFinishedError):
                self._token.run_sync_soon(self._shutdown.set)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def call_in_loop(self, fn: Callable[[], Any]) -> Any:
        """Thread-safe, blocking: run fn inside the VRRP loop and return its result."""
        if self._token is None:
            raise RuntimeError("VRRP runtime is not running")
        return trio.from_thread.run_sync(fn, trio_token=self._token)

    def set_priority(self, name: str, effective_priority: int) -> None:
        """Thread-safe: trackers change an instance's effective priority."""

        async def apply() -> None:
            await self._feed(self._instances[name], core.PriorityChanged(effective_priority))

        if self._token is not None:
            trio.from_thread.run(apply, trio_token=self._token)

    # ---- the loop ---------------------------------------------------------------------

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        monitor = LinkMonitor()
        try:
            await monitor.bind()
            await self._release_stale_vips()
            await self._open_groups()
            async with trio.open_nursery() as nursery:
                for group in self._groups.values():
                    nursery.start_soon(self._receive_loop, group)
                for instance in self._instances.values():
                    nursery.start_soon(self._timer_loop, instance)
                nursery.start_soon(self._heartbeat_loop)
                for instance in self._instances.values():
                    await self._start_instance(instance)
                nursery.start_soon(self._link_loop, monitor)
                self._ready.set()
                await self._shutdown.wait()
                await self._stop_all()
                nursery.cancel_scope.cancel()
        finally:
            monitor.close()
            for group in self._groups.values():
                group.sock.close()
                group.announcer.close()

    async def _release_stale_vips(self) -> None:
        """After a crash the kernel may still hold VIPs we marked; we start as BACKUP, so
        none of them may stay. Only configured VIPs carrying haipvs' mark are removed."""
        configured = [vip for b in self._bindings for vip in b.vips]
        changes = await self._rtnl.call(addresses.sync_remove_stale, configured, set())
        for change in changes:
            if change.action == "remove":
                log.info("stale_vip_removed", vip=str(change.vip.interface), dev=change.vip.ifname)

    async def _open_groups(self) -> None:
        for binding in self._bindings:
            key = (binding.ifname, binding.family)
            group = self._groups.get(key)
            if group is None:
                state = await self._rtnl.call(addresses.sync_link_state, binding.ifname)
                if state.index is None:
                    raise RuntimeError(f"interface {binding.ifname} does not exist")
                group = _InterfaceGroup(
                    ifname=binding.ifname,
                    family=binding.family,
                    ifindex=state.index,
                    sock=VrrpSocket(binding.ifname, state.index, binding.family),
                    announcer=Announcer(binding.ifname, state.index, state.mac),
                    dispatcher=core.Dispatcher(),
                )
                self._groups[key] = group
            machine = core.VrrpMachine(binding.params)
            instance = _Instance(binding=binding, machine=machine, group=group)
            group.instances[binding.params.vrid] = instance
            group.dispatcher.add(machine)
            self._instances[binding.name] = instance

    async def _start_instance(self, instance: _Instance) -> None:
        state = await self._rtnl.call(addresses.sync_link_state, instance.binding.ifname)
        instance.primary = self._source_address(instance, state)
        instance.faulted = not self._usable(instance, state)
        fault = self._fault_reason(instance, state) if instance.faulted else None
        await self._feed(instance, core.Startup(primary_address=instance.primary, fault=fault))

    async def _stop_all(self) -> None:
        for instance in self._instances.values():
            await self._feed(instance, core.Shutdown())

    async def _heartbeat_loop(self) -> None:
        while True:
            self.heartbeat = trio.current_time()
            await trio.sleep(0.5)

    # ---- inputs -----------------------------------------------------------------------

    async def _receive_loop(self, group: _InterfaceGroup) -> None:
        while True:
            try:
                data, source, destination, hop_limit = await group.sock.receive()
            except OSError as exc:
                log.warning("vrrp_receive_error", interface=group.ifname, error=str(exc))
                await trio.sleep(0.1)
                continue
            if group.family == 4:
                datagram = core.parse_ipv4_datagram(data)
            else:
                datagram = core.Datagram(
                    family=6,
                    src=source,
                    dst=destination or group.sock.multicast_group,
                    ttl=hop_limit if hop_limit is not None else -1,
                    payload=data,
                    ip_total_length=None,
                )
            async with group.lock:
                verdict = group.dispatcher.receive(trio.current_time(), datagram)
                if verdict.machine is not None:
                    instance = group.instances[verdict.machine.params.vrid]
                    await self._execute_locked(instance, verdict.actions)

    async def _timer_loop(self, instance: _Instance) -> None:
        while True:
            with trio.CancelScope(deadline=self._next_deadline(instance)) as scope:
                instance.timer_scope = scope
                await trio.sleep_forever()
            instance.timer_scope = None
            now = trio.current_time()
            due = sorted(
                (deadline, name) for name, deadline in instance.timers.items() if deadline <= now
            )
            for deadline, name in due:
                if instance.timers.get(name, math.inf) <= now:
                    del instance.timers[name]
                    self.timer_lateness.append((name, now - deadline))
                    await self._feed(instance, core.TimerExpired(name))

    def _next_deadline(self, instance: _Instance) -> float:
        return min(instance.timers.values(), default=math.inf)

    async def _link_loop(self, monitor: LinkMonitor) -> None:
        while True:
            changed = await monitor.next_change()
            for instance in self._instances.values():
                if 0 in changed or instance.group.ifindex in changed:
                    await self._recheck_link(instance)

    async def _recheck_link(self, instance: _Instance) -> None:
        state = await self._rtnl.call(addresses.sync_link_state, instance.binding.ifname)
        usable = self._usable(instance, state)
        if not usable and not instance.faulted:
            instance.faulted = True
            await self._feed(instance, core.FaultDetected(self._fault_reason(instance, state)))
        elif usable and instance.faulted:
            instance.faulted = False
            instance.primary = self._source_address(instance, state)
            await self._feed(instance, core.FaultCleared(primary_address=instance.primary))

    def _source_address(self, instance: _Instance, state: addresses.LinkState) -> IPAddress | None:
        if instance.binding.unicast_src is not None:
            return instance.binding.unicast_src
        return state.primary_v4 if instance.family == 4 else state.primary_v6_linklocal

    def _usable(self, instance: _Instance, state: addresses.LinkState) -> bool:
        return state.up and self._source_address(instance, state) is not None

    def _fault_reason(self, instance: _Instance, state: addresses.LinkState) -> str:
        if state.index is None:
            return f"interface {instance.binding.ifname} is gone"
        if not state.up:
            return f"interface {instance.binding.ifname} is down"
        return f"interface {instance.binding.ifname} has no usable source address"

    # ---- core → actions ---------------------------------------------------------------

    async def _feed(self, instance: _Instance, event: Any) -> None:
        async with instance.group.lock:
            actions = instance.machine.handle(trio.current_time(), event)
            await self._execute_locked(instance, actions)

    async def _execute_locked(self, instance: _Instance, actions: list[Any]) -> None:
        for action in actions:
            match action:
                case core.SendAdvert():
                    await self._send_advert(instance, action)
                case core.SetTimer(name=name, deadline=deadline):
                    instance.timers[name] = deadline
                case core.CancelTimer(name=name):
                    instance.timers.pop(name, None)
                case core.AddVips():
                    await self._add_vips(instance)
                case core.RemoveVips():
                    await self._remove_vips(instance)
                case core.SendGratuitous(count=count):
                    self._announce(instance, count)
                case core.NotifyTransition():
                    self._notify(instance, action)
                case core.Log(event=event, fields=fields):
                    log.info(event, instance=instance.name, **fields)
        if instance.timer_scope is not None:
            instance.timer_scope.deadline = self._next_deadline(instance)

    async def _send_advert(self, instance: _Instance, action: Any) -> None:
        binding = instance.binding
        src = instance.primary
        if src is None:
            return
        destinations = binding.unicast_peers or (instance.group.sock.multicast_group,)
        advert = instance.machine.advert(action.priority)
        for dst in destinations:
            message = core.encode_advert(advert, src, dst)
            try:
                await instance.group.sock.send(message, src, dst)
            except OSError as exc:
                log.warning(
                    "vrrp_send_failed", instance=instance.name, dst=str(dst), error=str(exc)
                )

    async def _add_vips(self, instance: _Instance) -> None:
        changes = await self._rtnl.call(addresses.sync_add, list(instance.binding.vips))
        instance.vips_held = True
        self._log_changes(instance, changes)

    async def _remove_vips(self, instance: _Instance) -> None:
        changes = await self._rtnl.call(addresses.sync_remove, list(instance.binding.vips))
        instance.vips_held = False
        self._log_changes(instance, changes)

    def _log_changes(self, instance: _Instance, changes: list[addresses.AddressChange]) -> None:
        for change in changes:
            level = log.warning if change.action in ("failed", "kept-foreign") else log.info
            level(
                f"vip_{change.action.replace('-', '_')}",
                instance=instance.name,
                vip=str(change.vip.interface),
                dev=change.vip.ifname,
                detail=change.detail or None,
            )

    def _announce(self, instance: _Instance, count: int) -> None:
        vips = [vip.address for vip in instance.binding.vips]
        for _ in range(count):
            instance.group.announcer.announce(vips)

    def _notify(self, instance: _Instance, action: Any) -> None:
        record = {
            "at": self._wall_clock(),
            "from": str(action.old),
            "to": str(action.new),
            "reason": action.reason,
        }
        instance.transitions.append(record)
        del instance.transitions[:-10]
        log.info(
            "vrrp_transition",
            instance=instance.name,
            old=record["from"],
            new=record["to"],
            reason=action.reason,
        )
        self._event_sink({"kind": "vrrp_transition", "instance": instance.name, **record})

    # ---- state dump -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Called inside the VRRP loop (see call_in_loop)."""
        instances = {}
        for name, instance in self._instances.items():
            machine = instance.machine
            params = machine.params
            instances[name] = {
                "state": str(machine.state),
                "interface": instance.binding.ifname,
                "vrid": params.vrid,
                "version": params.version,
                "family": params.family,
                "base_priority": params.base_priority,
                "effective_priority": machine.effective_priority,
                "advert_int": machine.advert_int,
                "master_ip": str(machine.master_ip) if machine.master_ip else None,
                "source_ip": str(instance.primary) if instance.primary else None,
                "vips_held": [str(v.interface) for v in instance.binding.vips]
                if instance.vips_held
                else [],
                "counters": machine.counters.as_dict(),
                "last_transitions": list(instance.transitions),
                "garp_sent": instance.group.announcer.sent,
            }
        interfaces = {
            f"{group.ifname}/ipv{group.family}": {"drops": group.dispatcher.counters.as_dict()}
            for group in self._groups.values()
        }
        return {"instances": instances, "interfaces": interfaces}
