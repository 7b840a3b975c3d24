"""The VRRP runtime: its own thread, its own trio loop, nothing else on it.

It owns the raw sockets, the core state machines and their timers, GARP/NA, VIP changes
(through the rtnetlink owner thread, so netlink never blocks this loop), the link monitor,
track_interface and sync groups. Checker load on the main loop cannot make adverts late: the
only thing shared is the GIL, and the switch interval is lowered so this thread gets it back
quickly.

Faults and priority have several sources (the instance's own link, tracked interfaces, the
main loop's track_script / track_file, the sync group). Each source owns one entry in
`_Instance.fault_reasons` / `_Instance.priority_parts`; the machine sees their sum.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import ipaddress
import itertools
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
from haipvs.resources import count_trio_tasks
from haipvs.vrrp import core

TIMER_LATENESS_KEPT = 1024
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
    # (interface, weight): weight 0 = down is a fault; else added while up (>0) or down (<0)
    track_interfaces: tuple[tuple[str, int], ...] = ()
    sync_group: str | None = None

    @property
    def name(self) -> str:
        return self.params.name

    @property
    def identity(self) -> tuple:
        """What a reload may not change for the instance to keep its state: VRID, interface,
        family, version, owner-ness and the VIPs (with device and label)."""
        params = self.params
        return (params.name, params.vrid, self.ifname, params.family, params.version,
                params.owner, frozenset(self.vips))

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
    loop_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    primary: IPAddress | None = None
    faulted: bool = False
    fault_reason: str | None = None  # what the machine was told
    fault_reasons: dict[str, str] = field(default_factory=dict)  # source -> reason
    priority_parts: dict[str, int] = field(default_factory=dict)  # source -> delta
    tracked_ifindex: dict[str, int | None] = field(default_factory=dict)
    started: bool = False
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
    loop_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
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
        self.shutdown_requested = False
        self._token: trio.lowlevel.TrioToken | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None
        self._nursery: trio.Nursery | None = None
        self._tracker_in, self._tracker_out = trio.open_memory_channel[tuple](math.inf)
        # time.monotonic() of the last loop tick (comparable across threads, unlike each
        # trio run's own clock); the watchdog pings systemd only while this is fresh.
        self.heartbeat = 0.0
        self.heartbeat_interval = 0.5
        # How late each timer fired (seconds), newest last: the timer-safety evidence. The
        # metrics loop takes what is new once a second; 1024 entries (~100 KiB) cover 100 s
        # at 10 timers a second. (The soak found that a longer history filled for hours:
        # ~10 MiB at 100,000 entries, and 0.9 MiB over ~30 minutes at 8192.)
        self.timer_lateness: collections.deque[tuple[str, float]] = collections.deque(
            maxlen=TIMER_LATENESS_KEPT
        )
        self.timers_fired = 0  # total appended to timer_lateness (it drops the oldest)

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
        self.shutdown_requested = True  # the thread ending after this is not a crash
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
        """Thread-safe: set an instance's effective priority outright (as a tracker delta
        against its base priority, so later tracker updates add to it)."""
        instance = self._instances.get(name)
        if instance is not None:
            delta = effective_priority - instance.binding.params.base_priority
            self.set_tracker(name, "set_priority", delta=delta)

    def set_tracker(self, name: str, source: str, *, delta: int = 0,
                    fault: str | None = None) -> None:
        """Thread-safe, non-blocking: tracker `source` of instance `name` now contributes
        `delta` to its priority and, if `fault` is set, holds it in FAULT. Updates from one
        thread are applied in the order they were made."""
        if self._token is None:
            return
        update = (name, source, delta, fault)
        # run_sync_soon callbacks run in order, and one task drains the channel: FIFO.
        with contextlib.suppress(trio.RunFinishedError):
            self._token.run_sync_soon(self._tracker_in.send_nowait, update)

    def reconfigure(self, keep: list[InstanceBinding], add: list[InstanceBinding],
                    remove: list[str]) -> None:
        """Thread-safe, blocking (reload): `remove` instances stop (a MASTER resigns with
        priority 0 and releases its VIPs); `keep` instances get their new parameters and keep
        their state; `add` instances start (as BACKUP unless address owner)."""
        if self._token is None:
            raise RuntimeError("VRRP runtime is not running")
        trio.from_thread.run(self._reconfigure, keep, add, remove, trio_token=self._token)

    def block_loop_for_test(self, seconds: float) -> None:
        """TEST HOOK ONLY (HAIPVS_TEST_HOOKS=1, SIGUSR2): freeze the VRRP loop, as a stuck
        thread would be, so tests can see the watchdog pings stop."""
        if self._token is not None:
            self._token.run_sync_soon(time.sleep, seconds)

    # ---- the loop ---------------------------------------------------------------------

    async def _main(self) -> None:
        self._token = trio.lowlevel.current_trio_token()
        monitor = LinkMonitor()
        try:
            await monitor.bind()
            await self._release_stale_vips(self._bindings)
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                created = [await self._open_instance(binding) for binding in self._bindings]
                nursery.start_soon(self._heartbeat_loop)
                nursery.start_soon(self._tracker_loop)
                for instance in created:
                    await self._start_instance(instance)
                nursery.start_soon(self._link_loop, monitor)
                self._ready.set()
                await self._shutdown.wait()
                await self._stop_all()
                nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            monitor.close()
            for group in self._groups.values():
                group.sock.close()
                group.announcer.close()

    async def _release_stale_vips(self, bindings: list[InstanceBinding]) -> None:
        """After a crash the kernel may still hold VIPs we marked; we start as BACKUP, so
        none of them may stay. Only configured VIPs carrying haipvs' mark are removed."""
        configured = [vip for b in bindings for vip in b.vips]
        changes = await self._rtnl.call(addresses.sync_remove_stale, configured, set())
        for change in changes:
            if change.action == "remove":
                log.info("stale_vip_removed", vip=str(change.vip.interface), dev=change.vip.ifname)

    async def _open_instance(self, binding: InstanceBinding) -> _Instance:
        """Create the instance (and its interface group) and start its loops; it stays in
        INIT until `_start_instance`."""
        assert self._nursery is not None
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
            self._nursery.start_soon(self._receive_loop, group)
        machine = core.VrrpMachine(binding.params)
        instance = _Instance(binding=binding, machine=machine, group=group)
        group.instances[binding.params.vrid] = instance
        group.dispatcher.add(machine)
        self._instances[binding.name] = instance
        self._nursery.start_soon(self._timer_loop, instance)
        return instance

    async def _start_instance(self, instance: _Instance) -> None:
        state = await self._rtnl.call(addresses.sync_link_state, instance.binding.ifname)
        instance.primary = self._source_address(instance, state)
        await self._check_tracked_interfaces(instance)
        self._set_link_fault(instance, state)
        instance.started = True
        self._sync_group_fault_into(instance)
        if instance.fault_reasons:
            instance.faulted = True
            instance.fault_reason = self._combined_reason(instance)
        wanted = self._wanted_priority(instance)
        if wanted != instance.machine.effective_priority:
            await self._feed(instance, core.PriorityChanged(wanted))
        await self._feed(
            instance,
            core.Startup(primary_address=instance.primary, fault=instance.fault_reason),
        )
        await self._refresh_sync_faults()

    async def _refresh_sync_faults(self) -> None:
        for instance in list(self._instances.values()):
            if instance.started and self._sync_group_fault_into(instance):
                await self._apply_fault(instance)

    async def _stop_instance(self, instance: _Instance) -> None:
        await self._feed(instance, core.Shutdown())
        instance.loop_scope.cancel()
        group = instance.group
        group.dispatcher.remove(instance.machine)
        group.instances.pop(instance.binding.params.vrid, None)
        self._instances.pop(instance.name, None)
        if not group.instances:
            group.loop_scope.cancel()
            group.sock.close()
            group.announcer.close()
            self._groups.pop((group.ifname, group.family), None)

    async def _stop_all(self) -> None:
        for instance in self._instances.values():
            await self._feed(instance, core.Shutdown())

    async def _reconfigure(self, keep: list[InstanceBinding], add: list[InstanceBinding],
                           remove: list[str]) -> None:
        for name in remove:
            instance = self._instances.get(name)
            if instance is not None:
                log.info("instance_removed", instance=name)
                await self._stop_instance(instance)
        for binding in keep:
            await self._retune(self._instances[binding.name], binding)
        await self._release_stale_vips(add)
        created = [await self._open_instance(binding) for binding in add]
        for instance in created:
            log.info("instance_added", instance=instance.name)
            await self._start_instance(instance)
        await self._refresh_sync_faults()

    async def _retune(self, instance: _Instance, binding: InstanceBinding) -> None:
        """New parameters for a running machine whose identity did not change: its state,
        timers and VIPs stay. The core's Retune takes the parameters; priority follows through
        its PriorityChanged (base priority plus the trackers, in `_apply_trackers`)."""
        old = instance.binding
        if binding == old:
            return
        params = binding.params
        # The binding first: actions of the Retune (an advert, GARP) use its I/O facts.
        instance.binding = binding
        if params != old.params:
            await self._feed(instance, core.Retune(params))
        tracked = {ifname for ifname, _ in binding.track_interfaces}
        for source in [s for s in instance.fault_reasons if s.startswith("track_interface:")]:
            if source.split(":", 1)[1] not in tracked:
                del instance.fault_reasons[source]
        for source in [s for s in instance.priority_parts if s.startswith("track_interface:")]:
            if source.split(":", 1)[1] not in tracked:
                del instance.priority_parts[source]
        await self._check_tracked_interfaces(instance)
        changed = [f.name for f in dataclasses.fields(params)
                   if getattr(params, f.name) != getattr(old.params, f.name)]
        log.info("instance_retuned", instance=instance.name, changed=changed)
        await self._apply_trackers(instance)

    async def _heartbeat_loop(self) -> None:
        while True:
            self.heartbeat = time.monotonic()
            await trio.sleep(self.heartbeat_interval)

    # ---- trackers, faults, sync groups -------------------------------------------------

    def _wanted_priority(self, instance: _Instance) -> int:
        return instance.binding.params.base_priority + sum(instance.priority_parts.values())

    @staticmethod
    def _combined_reason(instance: _Instance) -> str:
        return "; ".join(instance.fault_reasons[k] for k in sorted(instance.fault_reasons))

    async def _tracker_loop(self) -> None:
        async for name, source, delta, fault in self._tracker_out:
            await self._update_tracker(name, source, delta, fault)

    async def _update_tracker(self, name: str, source: str, delta: int,
                              fault: str | None) -> None:
        instance = self._instances.get(name)
        if instance is None:
            return
        if delta:
            instance.priority_parts[source] = delta
        else:
            instance.priority_parts.pop(source, None)
        if fault is not None:
            instance.fault_reasons[source] = fault
        else:
            instance.fault_reasons.pop(source, None)
        if instance.started:
            await self._apply_trackers(instance)

    async def _apply_trackers(self, instance: _Instance) -> None:
        """Bring the machine in line with the sources: priority first (so a fault clearing
        starts with the right priority), then fault in/out, then the sync group."""
        wanted = self._wanted_priority(instance)
        if wanted != instance.machine.effective_priority:
            await self._feed(instance, core.PriorityChanged(wanted))
        await self._apply_fault(instance)
        if instance.binding.sync_group is not None:
            await self._refresh_sync_faults()

    async def _apply_fault(self, instance: _Instance) -> None:
        if instance.fault_reasons:
            reason = self._combined_reason(instance)
            if not instance.faulted or reason != instance.fault_reason:
                instance.faulted = True
                instance.fault_reason = reason
                await self._feed(instance, core.FaultDetected(reason))
        elif instance.faulted:
            instance.faulted = False
            instance.fault_reason = None
            await self._feed(instance, core.FaultCleared(primary_address=instance.primary))

    def _members(self, group: str) -> list[_Instance]:
        return [i for i in self._instances.values() if i.binding.sync_group == group]

    def _sync_group_fault_into(self, instance: _Instance) -> bool:
        """keepalived: one member in FAULT (by its own sources) pulls the whole group into
        FAULT. Sets/clears this member's "sync_group" source; True when it changed."""
        group = instance.binding.sync_group
        before = instance.fault_reasons.get("sync_group")
        culprit = None
        if group is not None:
            for member in self._members(group):
                own = [k for k in member.fault_reasons if k != "sync_group"]
                if member is not instance and member.started and own:
                    culprit = member.name
                    break
        if culprit is not None:
            instance.fault_reasons["sync_group"] = f"sync group {group}: {culprit} is in FAULT"
        else:
            instance.fault_reasons.pop("sync_group", None)
        return instance.fault_reasons.get("sync_group") != before

    async def _sync_follow(self, leader: _Instance, new_state: core.State) -> None:
        """keepalived's sync group: a member becoming MASTER takes the BACKUP members to
        MASTER; one stepping down to BACKUP takes the MASTER members to BACKUP. The core
        decides which members move (see SyncGroupTransition)."""
        group = leader.binding.sync_group or ""
        reason = f"sync group {group}: {leader.name} became {new_state}"
        for member in self._members(group):
            if member is leader or member.name not in self._instances:
                continue
            await self._feed(member, core.SyncGroupTransition(new_state, reason))

    # ---- inputs -----------------------------------------------------------------------

    async def _receive_loop(self, group: _InterfaceGroup) -> None:
        with group.loop_scope:
            await self._receive_forever(group)

    async def _receive_forever(self, group: _InterfaceGroup) -> None:
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
        with instance.loop_scope:
            await self._timers_forever(instance)

    async def _timers_forever(self, instance: _Instance) -> None:
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
                    self.timers_fired += 1
                    await self._feed(instance, core.TimerExpired(name))

    def _next_deadline(self, instance: _Instance) -> float:
        return min(instance.timers.values(), default=math.inf)

    async def _link_loop(self, monitor: LinkMonitor) -> None:
        while True:
            changed = await monitor.next_change()
            for instance in list(self._instances.values()):
                if instance.name not in self._instances or not instance.started:
                    continue
                own = 0 in changed or instance.group.ifindex in changed
                tracked = 0 in changed or any(
                    index is None or index in changed
                    for index in instance.tracked_ifindex.values()
                )
                if own or tracked:
                    await self._recheck_link(instance, own, tracked)

    async def _recheck_link(self, instance: _Instance, own: bool = True,
                            tracked: bool = True) -> None:
        if own:
            state = await self._rtnl.call(addresses.sync_link_state, instance.binding.ifname)
            source = self._source_address(instance, state)
            if self._usable(instance, state) and source != instance.primary:
                instance.primary = source
                if not instance.faulted:
                    await self._feed(instance, core.PrimaryAddressChanged(source))
            self._set_link_fault(instance, state)
        if tracked:
            await self._check_tracked_interfaces(instance)
        await self._apply_trackers(instance)

    def _set_link_fault(self, instance: _Instance, state: addresses.LinkState) -> None:
        if self._usable(instance, state):
            instance.fault_reasons.pop("link", None)
        else:
            instance.fault_reasons["link"] = self._fault_reason(instance, state)

    async def _check_tracked_interfaces(self, instance: _Instance) -> None:
        """keepalived track_interface: weight 0 = down is a fault; a negative weight is
        subtracted while down, a positive one added while up."""
        for ifname, weight in instance.binding.track_interfaces:
            source = f"track_interface:{ifname}"
            state = await self._rtnl.call(addresses.sync_link_state, ifname)
            instance.tracked_ifindex[ifname] = state.index
            up = state.index is not None and state.up
            if weight == 0:
                instance.priority_parts.pop(source, None)
                if up:
                    instance.fault_reasons.pop(source, None)
                else:
                    instance.fault_reasons[source] = f"tracked interface {ifname} is down"
                continue
            instance.fault_reasons.pop(source, None)
            delta = weight if (up and weight > 0) or (not up and weight < 0) else 0
            if delta:
                instance.priority_parts[source] = delta
            else:
                instance.priority_parts.pop(source, None)

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
        self._event_sink({"kind": "vrrp_transition", "instance": instance.name,
                          "priority": instance.machine.effective_priority, **record})
        group = instance.binding.sync_group
        if group is not None and self._nursery is not None:
            new = action.new
            if new == core.State.MASTER or (
                new == core.State.BACKUP and action.old == core.State.MASTER
            ):
                self._nursery.start_soon(self._sync_follow, instance, new)

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
                "fault_reasons": dict(sorted(instance.fault_reasons.items())),
                "priority_parts": dict(sorted(instance.priority_parts.items())),
                "sync_group": instance.binding.sync_group,
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
        return {"instances": instances, "interfaces": interfaces,
                "vrrp_loop_tasks": count_trio_tasks()}

    def take_timer_lateness(self, already_seen: int) -> tuple[int, list[float]]:
        """Called inside the VRRP loop: lateness values of timers fired since the caller's
        count `already_seen` (at most what the deque still holds) and the new count."""
        new = min(self.timers_fired - already_seen, len(self.timer_lateness))
        values = [late for _, late in itertools.islice(reversed(self.timer_lateness), new)]
        return self.timers_fired, values
