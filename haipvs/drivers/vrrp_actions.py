"""Core actions into I/O for one VRRP instance: adverts on its socket, VIPs through the
rtnetlink owner thread, GARP/NA, log lines. The transition itself (event, sync-group
follow-ups) is the runtime's, called back in action order.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog
import trio

from haipvs.drivers import addresses
from haipvs.drivers.garp_sender import GarpSender
from haipvs.drivers.netlink_thread import NetlinkThread
from haipvs.drivers.timed_adverts import TimedAdverts
from haipvs.drivers.vip_announcers import VipAnnouncers
from haipvs.drivers.vip_fastpath import FastVipAdder
from haipvs.drivers.vrrp_instance import Instance
from haipvs.vrrp import arrival, core

if TYPE_CHECKING:  # issue 18: made by the first config that needs them (vrrp_features.py)
    from haipvs.drivers.garp_extra_if import ExtraIfRounds
    from haipvs.drivers.nft_accept import NftAccept
    from haipvs.drivers.routes import RouteDriver

log = structlog.get_logger("haipvs.vrrp")

OnTransition = Callable[[Instance, core.NotifyTransition | core.NotifyLowerPriority], None]


class ActionRunner:
    def __init__(self, rtnl: NetlinkThread, on_transition: OnTransition,
                 routes: RouteDriver | None = None, accept: NftAccept | None = None,
                 garp: GarpSender | None = None,
                 vip_announcers: VipAnnouncers | None = None) -> None:
        self._garp = garp if garp is not None else GarpSender(frozenset)
        self._vip_announcers = vip_announcers if vip_announcers is not None else VipAnnouncers()
        self._rtnl = rtnl
        self._on_transition = on_transition
        # The route and accept drivers and garp_extra_if's rounds: None while no config
        # needed them (no entries, no no_accept instance, no delay), when every input they
        # would get is a no-op (issue 18; vrrp_features.py calls `use`)
        self._accept: NftAccept | None = None
        self._routes: RouteDriver | None = None
        self._extra_if: ExtraIfRounds | None = None
        self._accept_mode: Any = None  # haipvs.policy.accept_mode, with the accept driver
        self._routes_policy: Any = None  # haipvs.policy.routes, with the route driver
        self.use(routes=routes, accept=accept)
        self.last_now = -math.inf  # the latest time handed to a machine (received_at)
        self.fast_vips = FastVipAdder()  # the VIP add of a MASTER transition, in this thread
        self.timed = TimedAdverts()  # a MASTER's adverts, sent by the kernel at the deadline
        # VIP log lines wait until the action list is done: formatting and writing them
        # would otherwise sit between the VIP add and the GARP.
        self._vip_logs: list[tuple[Instance, addresses.AddressChange | addresses.Vip]] = []

    def use(self, routes: RouteDriver | None = None, accept: NftAccept | None = None,
            extra_if: bool = False) -> None:
        """The drivers a config needs from now on (at start or reload, config time). The
        garp_extra_if rounds, made when an instance gets a delay, start without timers, as
        running ones would be: a timer starts only when an instance with a delay becomes
        MASTER."""
        if extra_if and self._extra_if is None:
            from haipvs.drivers.garp_extra_if import ExtraIfRounds

            self._extra_if = ExtraIfRounds(self._garp, self._vip_announcers)
        if routes is not None:
            from haipvs.policy import routes as routes_policy

            self._routes, self._routes_policy = routes, routes_policy
        if accept is not None:
            from haipvs.policy import accept_mode

            self._accept, self._accept_mode = accept, accept_mode

    async def feed(self, instance: Instance, event: core.Input, at: float | None = None) -> None:
        """`at`: a MASTER's advert timer handed over ahead, fed at its deadline; its advert
        is sent by the kernel then (haipvs.drivers.timed_adverts). That time is the
        instance's alone (the machine keeps its own clock from running backwards): another
        instance's inputs are still handled at the loop's time."""
        if at is None:
            self.last_now = at_now = trio.current_time()
        else:
            at_now = at
        actions = instance.machine.handle(at_now, event)
        await self.execute(instance, actions, timed_at=at)

    def received_at(self, arrived: float | None) -> float:
        """The time a received advert is handled at (haipvs.vrrp.arrival)."""
        self.last_now = arrival.handled_at(trio.current_time(), arrived, self.last_now)
        return self.last_now

    async def execute(self, instance: Instance, actions: list[core.Action],
                      timed_at: float | None = None) -> None:
        # the time the actions were decided at, before their I/O: keepalived's garp_extra_if
        # timer reads the thread's cached time_now (vrrp.c vrrp_state_master_tx())
        now = trio.current_time() if timed_at is None else timed_at
        # Becoming MASTER: what the first GARP does not depend on waits until after it. The
        # path from the advert to the GARP is code that has not run for a while (a takeover
        # is rare), so each step on it costs several times its warm time.
        after_garp = False
        for action in actions:
            match action:
                case core.SendAdvert():
                    await self.send_advert(instance, action, timed_at)
                    if self._extra_if is not None and instance.machine.state == core.State.MASTER:
                        self._extra_if.advert_sent(instance, now)
                case core.SetTimer(name=name, deadline=deadline):
                    instance.timers[name] = deadline
                case core.CancelTimer(name=name):
                    instance.timers.pop(name, None)
                case core.AddVips():
                    after_garp = True
                    # keepalived vrrp_state_become_master(): drop rules before the VIPs
                    if self._accept is not None and self._accept.rules_in_use:
                        await self._accept.handle(self._accept_mode.Held(instance.name, held=True))
                    await self.change_vips(instance, addresses.sync_add, held=True)
                    if instance.binding.entries:  # excluded VIPs are GARPed: before it
                        await self.hold_entries(instance, held=True)
                case core.RemoveVips():
                    if after_garp:  # never in one list today; kept in order if it were
                        after_garp = False
                        await self._held_bookkeeping(instance, now)
                    if self._extra_if is not None:
                        self._extra_if.left_master(instance)
                    await self.hold_entries(instance, held=False)
                    await self.change_vips(instance, addresses.sync_remove, held=False)
                    if self._accept is not None:
                        await self._accept.handle(self._accept_mode.Held(instance.name, held=False))
                case core.SendGratuitous(count=count):
                    self._send_gratuitous(instance, count)
                case core.NotifyTransition() | core.NotifyLowerPriority():
                    self._on_transition(instance, action)
                case core.Log(event=event, fields=fields):
                    log.info(event, instance=instance.name, **fields)
        if after_garp:
            await self._held_bookkeeping(instance, now)
        if instance.machine.state != core.State.MASTER and self.timed.queued(instance):
            self.timed.withdraw(instance)  # no advert of a MASTER after leaving MASTER
        self._flush_vip_logs()

    async def _held_bookkeeping(self, instance: Instance, now: float) -> None:
        """The rest of taking the VIPs, none of which the first GARP waits for: the policies
        record that the instance holds (without drop rules, excluded VIPs, routes or rules
        that is all they do, and a reload may need it), and garp_extra_if's timer starts
        (from `now`, the time the actions were decided at)."""
        if self._accept is not None and not self._accept.rules_in_use:
            await self._accept.handle(self._accept_mode.Held(instance.name, held=True))
        if not instance.binding.entries:
            await self.hold_entries(instance, held=True)
        if self._extra_if is not None:
            self._extra_if.became_master(instance, now)

    def _send_gratuitous(self, instance: Instance, count: int) -> None:
        binding = instance.binding
        for ifname, vips in binding.garp_lines:
            announcer = (instance.group.announcer if ifname == binding.ifname
                         else self._vip_announcers.get(ifname))
            if announcer is None:
                continue  # the interface was missing when the instance opened
            self._garp.announce(instance.name, announcer, vips, count,
                                binding.garp_interval, binding.gna_interval)

    async def send_advert(self, instance: Instance, action: core.SendAdvert,
                          at: float | None = None) -> None:
        """Now, or by the kernel at `at` (a timed advert, haipvs.drivers.timed_adverts)."""
        if at is None and self.timed.queued(instance):
            self.timed.withdraw(instance)  # decided later: no earlier advert may follow it
        binding = instance.binding
        src = instance.primary
        if src is None:
            return
        # keepalived mcast_dst_ip; unicast_ttl only for unicast adverts (vrrp.c)
        destinations = binding.unicast_peers or (
            binding.mcast_group or instance.group.sock.multicast_group,)
        ttl = binding.unicast_ttl if binding.unicast_peers else None
        advert = instance.machine.advert(action.priority)
        messages = [(core.encode_advert(advert, src, dst), dst) for dst in destinations]
        if at is not None:
            messages = self.timed.queue(instance, messages, src, ttl, at)
            if messages:  # the ring refused them: sent from here, at their time
                await self.timed.wait_until(at)
        for message, dst in messages:
            try:
                await instance.group.sock.send(message, src, dst, ttl)
            except OSError as exc:
                log.warning(
                    "vrrp_send_failed", instance=instance.name, dst=str(dst), error=str(exc)
                )

    async def hold_entries(self, instance: Instance, held: bool) -> None:
        """Excluded addresses, routes and rules follow the VIPs (haipvs.policy.routes)."""
        if self._routes is None:  # no entries in any config so far: nothing to tell
            return
        binding = instance.binding  # no netlink request unless something changes
        # Becoming MASTER does not wait for them (haipvs.drivers.routes.RouteDriver); leaving
        # does, so they go before the VIPs, as in keepalived.
        held_input = self._routes_policy.Held(binding.name, binding.entries, held)
        await self._routes.handle(held_input, binding.name, wait=not held)

    async def change_vips(self, instance: Instance, change: Callable, held: bool) -> None:
        vips = list(instance.binding.vips)
        if change is addresses.sync_add:
            added, vips = self.fast_vips.add(vips)  # errors and foreign VIPs: sync_add
            self._vip_logs += [(instance, vip) for vip in added]  # made into lines later
        if vips:
            changes = await self._rtnl.call(change, vips)
            self._vip_logs += [(instance, done) for done in changes]
        instance.vips_held = held

    def _flush_vip_logs(self) -> None:
        logs, self._vip_logs = self._vip_logs, []
        for instance, entry in logs:
            done = (entry if isinstance(entry, addresses.AddressChange)
                    else addresses.AddressChange("add", entry))  # the fast path's adds
            level = log.warning if done.action in ("failed", "kept-foreign") else log.info
            level(
                f"vip_{done.action.replace('-', '_')}",
                instance=instance.name,
                vip=str(done.vip.interface),
                dev=done.vip.ifname,
                detail=done.detail or None,
            )
