"""Core actions into I/O for one VRRP instance: adverts on its socket, VIPs through the
rtnetlink owner thread, GARP/NA, log lines. The transition itself (event, sync-group
follow-ups) is the runtime's, called back in action order.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
import trio

from haipvs.drivers import addresses
from haipvs.drivers.netlink_thread import NetlinkThread
from haipvs.drivers.vrrp_instance import Instance
from haipvs.vrrp import core

log = structlog.get_logger("haipvs.vrrp")

OnTransition = Callable[[Instance, core.NotifyTransition], None]


class ActionRunner:
    def __init__(self, rtnl: NetlinkThread, on_transition: OnTransition) -> None:
        self._rtnl = rtnl
        self._on_transition = on_transition

    async def feed(self, instance: Instance, event: core.Input) -> None:
        actions = instance.machine.handle(trio.current_time(), event)
        await self.execute(instance, actions)

    async def execute(self, instance: Instance, actions: list[core.Action]) -> None:
        for action in actions:
            match action:
                case core.SendAdvert():
                    await self.send_advert(instance, action)
                case core.SetTimer(name=name, deadline=deadline):
                    instance.timers[name] = deadline
                case core.CancelTimer(name=name):
                    instance.timers.pop(name, None)
                case core.AddVips():
                    await self.change_vips(instance, addresses.sync_add, held=True)
                case core.RemoveVips():
                    await self.change_vips(instance, addresses.sync_remove, held=False)
                case core.SendGratuitous(count=count):
                    vips = [vip.address for vip in instance.binding.vips]
                    for _ in range(count):
                        instance.group.announcer.announce(vips)
                case core.NotifyTransition():
                    self._on_transition(instance, action)
                case core.Log(event=event, fields=fields):
                    log.info(event, instance=instance.name, **fields)

    async def send_advert(self, instance: Instance, action: core.SendAdvert) -> None:
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

    async def change_vips(self, instance: Instance, change: Callable, held: bool) -> None:
        changes = await self._rtnl.call(change, list(instance.binding.vips))
        instance.vips_held = held
        for done in changes:
            level = log.warning if done.action in ("failed", "kept-foreign") else log.info
            level(
                f"vip_{done.action.replace('-', '_')}",
                instance=instance.name,
                vip=str(done.vip.interface),
                dev=done.vip.ifname,
                detail=done.detail or None,
            )
