"""The VRRP runtime: its own thread (haipvs/drivers/vrrp_thread.py), its own trio loop,
nothing else on it.

It owns the raw sockets, the core state machines and their timers, GARP/NA, VIP changes
(through the rtnetlink owner thread, so netlink never blocks this loop), the link monitor,
track_interface and sync groups. It decides nothing itself: the core (haipvs/vrrp) decides
the protocol, haipvs.policy.priority the priority and fault of each instance from its
sources, haipvs.policy.sync_group the sync-group rules; this module does their I/O.

One input queue, drained in order by one task (`_drain`): received adverts, tracker
updates, link observations, set_priority, reconfigure and startup steps all go through it,
and sync-group follow-ups are fed right after the input that caused them (keepalived moves
a sync group within the same event, vrrp_sync.c). So no lock is needed: one input and the
I/O it asks for finish before the next input starts. Timers are not queued: the drainer
waits on the queue with the earliest deadline as its own deadline and fires due timers
itself, so a timer wakes the loop as directly as a dedicated timer task would.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import itertools
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
import trio

from haipvs.drivers import addresses
from haipvs.drivers.announce import Announcer
from haipvs.drivers.garp_sender import GarpSender
from haipvs.drivers.link_monitor import LinkMonitor
from haipvs.drivers.netlink_thread import NetlinkThread
from haipvs.drivers.nft_table import TableSettings
from haipvs.drivers.precise_alarm import SPIN, PreciseAlarm, spin_until
from haipvs.drivers.vip_announcers import VipAnnouncers
from haipvs.drivers.vrrp_actions import ActionRunner
from haipvs.drivers.vrrp_features import FeatureDrivers
from haipvs.drivers.vrrp_inputs import Input, Job, LinkObserved, Packet, SourceUpdate
from haipvs.drivers.vrrp_instance import Instance, InstanceBinding, InterfaceGroup
from haipvs.drivers.vrrp_socket import VrrpSocket, arrival_time
from haipvs.drivers.vrrp_sources import Changes, SourceFeeds
from haipvs.drivers.vrrp_thread import LoopThread
from haipvs.events import (
    NOTICE_MASTER_RX_LOWER_PRI,
    InstanceNotice,
    VrrpTransition,
)
from haipvs.policy import priority, sync_group
from haipvs.policy.priority import (
    LINK,
    NOTHING,
    SET_PRIORITY,
    SYNC_GROUP,
    Contribution,
    InstancePriority,
    Kind,
    Source,
)
from haipvs.policy.route_entries import NO_ENTRIES, Entries
from haipvs.resources import count_trio_tasks
from haipvs.vrrp import core, garp_ifaces
from haipvs.vrrp_stats import InstanceStats, InterfaceStats, VrrpStats

# InstanceBinding lives in vrrp_instance; re-exported for callers that build a runtime.
__all__ = ["InstanceBinding", "VrrpRuntime"]

TIMER_LATENESS_KEPT = 1024
ALARM_BACKSTOP = 0.002  # seconds after a deadline at which trio itself ends the wait
log = structlog.get_logger("haipvs.vrrp")

EventSink = Callable[[VrrpTransition | InstanceNotice], None]


class VrrpRuntime(SourceFeeds, FeatureDrivers):
    def __init__(
        self,
        bindings: list[InstanceBinding],
        rtnl: NetlinkThread,
        event_sink: EventSink,
        clock: Callable[[], float] = time.time,
        static: Entries = NO_ENTRIES,
        nft: TableSettings | None = None,
    ) -> None:
        self._bindings = bindings
        self._rtnl = rtnl
        self._event_sink = event_sink
        self._wall_clock = clock
        # static_* and what follows the VIPs, no_accept drop rules: their drivers are made
        # by the first config that needs them (vrrp_features.py)
        self._static = static
        self._nft = nft
        # GARP/NA pacing per interface (haipvs.vrrp.garp_pacing), for MASTERs holding VIPs
        self._garp = GarpSender(lambda: frozenset(
            name for name, instance in self._instances.items() if instance.vips_held))
        self._vip_announcers = VipAnnouncers()  # VIPs' own interfaces (haipvs.vrrp.garp_ifaces)
        self._actions = ActionRunner(rtnl, self._notify, garp=self._garp,
                                     vip_announcers=self._vip_announcers)
        self._instances: dict[str, Instance] = {}
        self._groups: dict[tuple[str, int], InterfaceGroup] = {}
        self._loop = LoopThread(self._main, name="vrrp", label="VRRP runtime")
        self._nursery: trio.Nursery | None = None
        self._alarm: PreciseAlarm | None = None  # created in the VRRP thread (_main)
        self._alarm_scope: trio.CancelScope | None = None
        # timed adverts' deadlines: still spun to, so the kernel's timer fires on an awake CPU
        # (an idle vCPU here wakes 1-2 ms late: docs/benchmarks.md)
        self._keep_awake: list[float] = []
        self._inputs_in, self._inputs_out = trio.open_memory_channel[Input](math.inf)
        self._followups: collections.deque[tuple[str, core.SyncGroupTransition]] = (
            collections.deque()
        )
        self._preset: dict[str, Changes] = {}  # preset_tracker: applied when each starts
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
        self._loop.start(timeout)

    @property
    def thread_id(self) -> int | None:
        """The VRRP thread's kernel id (haipvs/thread_priority.py)."""
        return self._loop.native_id

    def request_shutdown(self) -> None:
        """Thread-safe: MASTERs send prio 0 and release their VIPs, then the loop ends."""
        self._loop.request_shutdown()

    def join(self, timeout: float | None = None) -> None:
        self._loop.join(timeout)

    @property
    def alive(self) -> bool:
        return self._loop.alive

    @property
    def shutdown_requested(self) -> bool:
        return self._loop.shutdown_requested

    def call_in_loop(self, fn: Callable[[], Any]) -> Any:
        """Thread-safe, blocking: run fn inside the VRRP loop and return its result."""
        return self._loop.call_in_loop(fn)

    def set_priority(self, name: str, effective_priority: int) -> None:
        """Thread-safe: set an instance's effective priority outright (as a delta against
        its base priority, so later tracker updates add to it)."""
        self._loop.run_sync_soon(self._inputs_in.send_nowait,
                                 SourceUpdate(name, SET_PRIORITY,
                                               effective_priority=effective_priority))

    def set_tracker(self, name: str, source: Source, *, delta: int = 0,
                    fault: str | None = None) -> None:
        """Thread-safe, non-blocking: tracker `source` of instance `name` now contributes
        `delta` to its priority and, if `fault` is set, holds it in FAULT. Updates from one
        thread are applied in the order they were made (run_sync_soon is FIFO)."""
        update = SourceUpdate(name, source, Contribution(delta, fault))
        self._loop.run_sync_soon(self._inputs_in.send_nowait, update)

    def preset_tracker(self, name: str, source: Source, *, delta: int = 0,
                       fault: str | None = None) -> None:
        """Before start(), or before reconfigure() for the instances it adds (set_tracker's
        signature): a tracker result known before an instance starts (a track file's first
        read), in force from its first state, as keepalived's vrrp_init_state sees it (a
        faulty track file starts FAULT)."""
        self._preset.setdefault(name, []).append((source, Contribution(delta, fault)))

    def reconfigure(self, keep: list[InstanceBinding], add: list[InstanceBinding],
                    remove: list[str], static: Entries | None = None) -> None:
        """Thread-safe, blocking (reload): `remove` instances stop (a MASTER resigns with
        priority 0 and releases its VIPs); `keep` instances get their new parameters and keep
        their state; `add` instances start (as BACKUP unless address owner)."""
        self._loop.run(self._reconfigure, keep, add, remove, static)

    # ---- the loop ---------------------------------------------------------------------

    async def _main(self) -> None:
        self._loop.attach()
        monitor = LinkMonitor()
        try:
            await monitor.bind()
            # The timerfd runs on the real monotonic clock: with a test's virtual clock
            # (trio.testing.MockClock) trio's own deadlines are the right ones.
            clock = trio.lowlevel.current_clock()
            if type(clock).__name__ == "SystemClock":  # trio's default
                self._alarm = PreciseAlarm()
                self._actions.timed.open(clock)
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                nursery.start_soon(self._alarm_loop)
                nursery.start_soon(self._actions.timed.run)
                nursery.start_soon(self._drain)
                nursery.start_soon(self._heartbeat_loop)
                nursery.start_soon(self._garp.run)
                await self._release_stale_vips(self._bindings)
                await self._start_features(self._static, self._bindings)  # routes, nft
                await self._add_instances(self._bindings, announce=False)
                nursery.start_soon(self._link_loop, monitor)
                self._loop.mark_ready()
                await self._loop.shutdown.wait()
                await self._submit(self._stop_all)
                nursery.cancel_scope.cancel()
        finally:
            self._nursery = None
            monitor.close()
            for group in self._groups.values():
                group.sock.close()
                group.announcer.close()
            self._vip_announcers.close_all()
            self._actions.fast_vips.close()
            if self._alarm is not None:
                self._alarm.close()
            self._actions.timed.close()  # cancels what is still queued

    async def _heartbeat_loop(self) -> None:
        while True:
            self.heartbeat = time.monotonic()
            await trio.sleep(self.heartbeat_interval)

    async def _drain(self) -> None:
        """The one task that feeds the machines: due timers first, then the next input.
        The wait ends SPIN before the earliest timer deadline through the timerfd alarm
        (trio's own deadlines are whole milliseconds late), and the last stretch is spun
        (haipvs.drivers.precise_alarm); the scope's own deadline is only a backstop."""
        while True:
            await self._fire_due_timers()
            item: Input | None = None
            deadline, precise = self._next_deadline()
            alarm = self._alarm
            if alarm is None:  # a test's clock: trio's own deadline is exact there
                backstop = 0.0
            elif deadline - trio.current_time() <= SPIN:
                if precise:
                    spin_until(deadline)  # sooner than the alarm could wake this loop
                continue
            else:
                backstop = ALARM_BACKSTOP
            with trio.CancelScope(deadline=deadline + backstop) as scope:
                if alarm is not None and deadline < math.inf:
                    alarm.arm_at(deadline)
                    self._alarm_scope = scope
                item = await self._inputs_out.receive()
            self._alarm_scope = None
            if item is not None:
                await self._process(item)

    async def _alarm_loop(self) -> None:
        if self._alarm is None:
            return
        while True:
            await self._alarm.wait()
            if self._alarm_scope is not None:  # one from an earlier wait only wakes it early
                self._alarm_scope.cancel()  # and _fire_due_timers fires nothing not due

    def _next_deadline(self) -> tuple[float, bool]:
        """The time the alarm must be SPIN ahead of, and whether it must be met exactly
        (spun to). A timed advert's hand-over only needs the alarm (its lead covers the
        wake-up); its deadline is then spun to like any other (_keep_awake)."""
        now = trio.current_time()
        self._keep_awake = [d for d in self._keep_awake if d > now]
        best, precise = min(self._keep_awake, default=math.inf), True
        for instance in self._instances.values():
            for name, deadline in instance.timers.items():
                due = self._actions.timed.due_at(instance, name, deadline)
                if due != deadline:
                    due += SPIN
                if due < best:
                    best, precise = due, due == deadline
        return best, precise

    async def _fire_due_timers(self) -> None:
        now = trio.current_time()
        due = sorted(
            ((deadline, instance.name, name, instance)
             for instance in self._instances.values()
             for name, deadline in instance.timers.items()
             if self._actions.timed.due_at(instance, name, deadline) <= now),
            key=lambda entry: entry[:3],
        )
        for deadline, _, name, instance in due:
            # An earlier feed may have cancelled or re-armed it, or removed the instance.
            if self._instances.get(instance.name) is not instance or \
                    instance.timers.get(name) != deadline:
                continue
            ahead = self._actions.timed.due_at(instance, name, deadline) < deadline
            if not ahead and deadline > now:
                continue  # was ahead when listed, and the instance left MASTER since
            del instance.timers[name]
            # a timed advert's own lateness is the kernel's; this is the hand-over's
            self.timer_lateness.append((name, max(0.0, now - deadline) if ahead
                                        else now - deadline))
            self.timers_fired += 1
            if ahead:
                self._keep_awake.append(deadline)
            await self._actions.feed(instance, core.TimerExpired(name),
                                     at=deadline if ahead else None)
            await self._run_followups()

    async def _process(self, item: Input) -> None:
        match item:
            case Packet(group=group, datagram=datagram, arrived=arrived):
                try:
                    await self._receive(group, datagram, arrived)
                finally:
                    group.credit.release()
            case SourceUpdate():
                await self._source_update(item)
            case LinkObserved():
                await self._link_observed(item)
            case Job():
                try:
                    item.result = await item.run()
                except Exception as exc:  # handed to the submitter, who raises it
                    item.error = exc
                finally:
                    item.done.set()
        await self._run_followups()

    async def _submit(self, fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        """Run fn(*args) as one queued input and wait for it (steps of startup, reload and
        shutdown, so they never interleave with another input's feed)."""
        job = Job(functools.partial(fn, *args))
        self._inputs_in.send_nowait(job)
        await job.done.wait()
        if job.error is not None:
            raise job.error
        return job.result

    async def _entry_lost(self, name: str, reason: str) -> None:
        """keepalived set_vrrp_backup() (haipvs.policy.routes.lost, core EntryLost)."""
        instance = self._instances.get(name)
        if instance is not None:
            await self._actions.feed(instance, core.EntryLost(reason))

    async def _run_followups(self) -> None:
        while self._followups:
            name, event = self._followups.popleft()
            member = self._instances.get(name)
            if member is not None:
                await self._actions.feed(member, event)

    # ---- instances: startup, reload, shutdown -----------------------------------------

    async def _release_stale_vips(self, bindings: list[InstanceBinding]) -> None:
        """After a crash the kernel may still hold VIPs we marked; we start as BACKUP, so
        none of them may stay. Only configured VIPs carrying haipvs' mark are removed."""
        configured = [vip for b in bindings for vip in b.vips]
        changes = await self._rtnl.call(addresses.sync_remove_stale, configured, set())
        for change in changes:
            if change.action == "remove":
                log.info("stale_vip_removed", vip=str(change.vip.interface), dev=change.vip.ifname)

    async def _tracked_states(self, binding: InstanceBinding) -> dict[str, addresses.LinkState]:
        return {ifname: await self._link_state(ifname) for ifname, _ in binding.track_interfaces}

    async def _add_instances(self, bindings: list[InstanceBinding], announce: bool) -> None:
        """Create all (they stay in INIT), then start each. The netlink reads happen here,
        outside the queue; the queued steps only decide and feed."""
        created = []
        self._use_vmacs(bindings)
        self._use_extra_if(bindings)
        if self._vmac is not None:  # before sockets open
            await self._vmac.ensure(self._rtnl, [b.vmac for b in bindings])
        for binding in bindings:
            state = None
            if (binding.ifname, binding.family) not in self._groups:
                state = await self._link_state(binding.ifname)
            created.append(await self._submit(self._open_instance, binding, state))
        for instance in created:
            if announce:
                log.info("instance_added", instance=instance.name)
            state = await self._link_state(instance.binding.ifname)
            tracked = await self._tracked_states(instance.binding)
            await self._open_vip_announcers(instance.binding)
            await self._submit(self._start_instance, instance, state, tracked)

    async def _open_vip_announcers(self, binding: InstanceBinding) -> None:
        devices = [v.ifname for v in binding.vips] + [a.dev for a in binding.entries.addresses]
        links = {}
        for ifname in garp_ifaces.extra_interfaces(binding.ifname, devices):
            link = await self._rtnl.call(addresses.sync_link_state, ifname)
            links[ifname] = (link.index, link.mac)
        await self._submit(self._vip_announcers.open, binding.name, links)

    async def _open_instance(self, binding: InstanceBinding,
                             state: addresses.LinkState | None) -> Instance:
        assert self._nursery is not None
        key = (binding.ifname, binding.family)
        group = self._groups.get(key)
        if group is None:
            if state is None or state.index is None:
                raise RuntimeError(f"interface {binding.ifname} does not exist")
            sock = VrrpSocket(binding.ifname, state.index, binding.family)
            if (self._vmac is not None and isinstance(state, self._vmac.VmacLinkState)
                    and state.send_ifindex is not None):
                sock.send_via(state.send_ifname or "", state.send_ifindex)  # vmac_xmit_base
            group = InterfaceGroup(
                ifname=binding.ifname,
                family=binding.family,
                ifindex=state.index,
                sock=sock,
                announcer=Announcer(binding.ifname, state.index, state.mac),
                dispatcher=core.Dispatcher(),
            )
            self._groups[key] = group
            self._nursery.start_soon(self._receive_loop, group)
        params = binding.params
        machine = core.VrrpMachine(params)
        policy = InstancePriority(params.base_priority, owner=params.owner)
        instance = Instance(binding=binding, machine=machine, group=group, policy=policy)
        group.instances[params.vrid] = instance
        group.dispatcher.add(machine)
        if binding.mcast_group is not None:
            group.sock.join(binding.mcast_group)  # keepalived mcast_dst_ip
        self._instances[binding.name] = instance
        self._actions.fast_vips.prepare(list(binding.vips))  # not on the transition's path
        group.announcer.prebuild([v.address for v in binding.vips if v.ifname == binding.ifname])
        return instance

    async def _start_instance(self, instance: Instance, state: addresses.LinkState,
                              tracked: dict[str, addresses.LinkState]) -> None:
        instance.primary = instance.source_address(state)
        changes = instance.tracked_changes(tracked) + self._preset.pop(instance.name, [])
        changes.append((LINK, instance.link_contribution(state)))
        instance.policy.handle(priority.Update(tuple(changes)))
        instance.started = True
        wanted = self._sync_pull().get(instance.name)
        instance.policy.handle(priority.Update(((SYNC_GROUP, Contribution(fault=wanted)),)))
        await self._forward(instance, instance.policy.handle(priority.Start()))
        await self._refresh_sync_faults()

    async def _stop_instance(self, name: str) -> None:
        instance = self._instances.get(name)
        if instance is None:
            return
        log.info("instance_removed", instance=name)
        await self._actions.feed(instance, core.Shutdown())
        group = instance.group
        group.dispatcher.remove(instance.machine)
        group.instances.pop(instance.binding.params.vrid, None)
        self._instances.pop(name, None)
        self._vip_announcers.close(name)
        if not group.instances:
            group.loop_scope.cancel()
            group.sock.close()
            group.announcer.close()
            self._groups.pop(group.key, None)
        if instance.binding.vmac is not None:  # netlink_link_del_vmac()
            await self._vmac.remove(self._rtnl, [instance.binding.vmac])

    async def _stop_all(self) -> None:
        for instance in self._instances.values():
            await self._actions.feed(instance, core.Shutdown())
        await self._stop_features()  # keepalived stop_vrrp(): static routes too, the table
        if self._vmac is not None:
            await self._vmac.remove(self._rtnl, [i.binding.vmac for i in self._instances.values()])

    async def _reconfigure(self, keep: list[InstanceBinding], add: list[InstanceBinding],
                           remove: list[str], static: Entries | None = None) -> None:
        await self._reconfigure_routes(static, [*keep, *add])
        self._use_extra_if(keep)  # (the added ones: _add_instances)
        for name in remove:
            await self._submit(self._stop_instance, name)
        for binding in keep:
            tracked = await self._tracked_states(binding)
            await self._open_vip_announcers(binding)  # excluded VIPs may name new devices
            await self._submit(self._retune, binding, tracked)
        await self._release_stale_vips(add)
        await self._reconfigure_accept([*keep, *add])
        await self._add_instances(add, announce=True)
        await self._submit(self._refresh_sync_faults)

    async def _retune(self, binding: InstanceBinding,
                      tracked: dict[str, addresses.LinkState]) -> None:
        """New parameters for a running machine whose identity did not change: its state,
        timers and VIPs stay. The core's Retune takes the parameters; the priority policy
        gets the new base priority and tracked interfaces in one update."""
        instance = self._instances[binding.name]
        old = instance.binding
        if binding == old:
            return
        params = binding.params
        # The binding first: actions of the Retune (an advert, GARP) use its I/O facts.
        instance.binding = binding
        self._actions.fast_vips.prepare(list(binding.vips))
        if binding.mcast_group is not None:  # a reload may give a new mcast_dst_ip
            instance.group.sock.join(binding.mcast_group)
        if params != old.params:
            await self._actions.feed(instance, core.Retune(params))
        if instance.vips_held and binding.entries != old.entries:
            await self._actions.hold_entries(instance, held=True)
        names = {ifname for ifname, _ in binding.track_interfaces}
        changes: Changes = [(source, NOTHING)
                            for source in instance.policy.sources(Kind.TRACK_INTERFACE)
                            if source.name not in names]
        for gone in set(instance.tracked_ifindex) - names:
            del instance.tracked_ifindex[gone]
        changes += instance.tracked_changes(tracked)
        changed = [f.name for f in dataclasses.fields(params)
                   if getattr(params, f.name) != getattr(old.params, f.name)]
        log.info("instance_retuned", instance=instance.name, changed=changed)
        await self._update(instance, changes, base_priority=params.base_priority)

    # ---- received adverts -------------------------------------------------------------
    # An advert's timers (Master_Down_Interval, Skew_Time after a priority 0) run from the
    # moment the kernel received it, not from when this loop got to it: the ~0.2 ms of
    # wake-up, queue and parsing no longer delays a takeover (see vrrp_actions.received_at).

    async def _receive_loop(self, group: InterfaceGroup) -> None:
        with group.loop_scope:
            while True:
                await group.credit.acquire()
                try:
                    data, source, destination, hop_limit, stamp = await group.sock.receive()
                except OSError as exc:
                    group.credit.release()
                    log.warning("vrrp_receive_error", interface=group.ifname, error=str(exc))
                    await trio.sleep(0.1)
                    continue
                datagram = group.datagram(data, source, destination, hop_limit)
                self._inputs_in.send_nowait(Packet(group, datagram, arrival_time(stamp)))

    async def _receive(self, group: InterfaceGroup, datagram: core.Datagram,
                       arrived: float | None = None) -> None:
        if self._groups.get(group.key) is not group:
            return  # queued before its interface's last instance was removed
        verdict = group.dispatcher.receive(self._actions.received_at(arrived), datagram)
        if verdict.machine is not None:
            instance = group.instances[verdict.machine.params.vrid]
            await self._actions.execute(instance, verdict.actions)

    # ---- core → actions ---------------------------------------------------------------

    def _notify(self, instance: Instance,
                action: core.NotifyTransition | core.NotifyLowerPriority) -> None:
        at = self._wall_clock()
        if isinstance(action, core.NotifyLowerPriority):  # the main loop decides what runs
            self._event_sink(InstanceNotice(instance.name, NOTICE_MASTER_RX_LOWER_PRI,
                                            instance.machine.effective_priority, at))
            return
        record = {"at": at, "from": str(action.old), "to": str(action.new),
                  "reason": action.reason}
        instance.transitions.append(record)
        del instance.transitions[:-10]
        log.info("vrrp_transition", instance=instance.name, old=record["from"],
                 new=record["to"], reason=action.reason)
        self._event_sink(VrrpTransition(
            instance=instance.name, old=action.old, new=action.new, reason=action.reason,
            priority=instance.machine.effective_priority, at=at,
        ))
        group = instance.binding.sync_group
        if group is not None:
            members = [i.name for i in self._instances.values()
                       if i.binding.sync_group == group]
            self._followups.extend(
                sync_group.follow(group, instance.name, action.old, action.new, members))

    # ---- state dump -------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Called inside the VRRP loop (see call_in_loop)."""
        interfaces = {
            f"{group.ifname}/ipv{group.family}": {"drops": group.dispatcher.counters.as_dict()}
            for group in self._groups.values()
        }
        return {"instances": {name: i.describe() for name, i in self._instances.items()},
                "interfaces": interfaces, "vrrp_loop_tasks": count_trio_tasks()}

    def stats(self) -> VrrpStats:
        """Called inside the VRRP loop (SIGUSR2): copies of every counter, of one moment."""
        return VrrpStats(
            tuple(InstanceStats.of(name, i.machine.counters)
                  for name, i in self._instances.items()),
            tuple(InterfaceStats.of(f"{g.ifname}/ipv{g.family}", g.dispatcher.counters)
                  for g in self._groups.values()))

    def take_timer_lateness(self, already_seen: int) -> tuple[int, list[float]]:
        """Called inside the VRRP loop: lateness values of timers fired since the caller's
        count `already_seen` (at most what the deque still holds) and the new count."""
        new = min(self.timers_fired - already_seen, len(self.timer_lateness))
        values = [late for _, late in itertools.islice(reversed(self.timer_lateness), new)]
        return self.timers_fired, values
