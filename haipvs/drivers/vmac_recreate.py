"""A vmac deleted by hand while haipvs runs is made again at once, as keepalived 2.2.7
does (haipvs.policy.vmac.recreate_lost): called by the link loop after it read the
instance's own link state (outside the input queue); the new link has a new ifindex, so
the instance's interface group gets a new socket, announcer and receive loop (a queued
step), then the new state is queued so the instance leaves FAULT."""

from __future__ import annotations

from typing import Any

import structlog
import trio

from haipvs.drivers import addresses, vmac
from haipvs.drivers.announce import Announcer
from haipvs.drivers.vrrp_inputs import LinkObserved
from haipvs.drivers.vrrp_instance import Instance, InterfaceGroup
from haipvs.drivers.vrrp_socket import VrrpSocket
from haipvs.policy.vmac import recreate_lost

log = structlog.get_logger("haipvs.vrrp")


def _current(rt: Any, instance: Instance) -> bool:
    # keepalived's `!ifp->deleting`: not while haipvs itself stops the instance or exits
    return (rt._instances.get(instance.name) is instance and not rt.shutdown_requested
            and instance.machine.state != "STOP")


async def after_link_read(rt: Any, instance: Instance, own: addresses.LinkState) -> None:
    spec = instance.binding.vmac
    if spec is None or own.index is not None or not _current(rt, instance):
        return
    parent = await rt._rtnl.call(addresses.sync_link_state, spec.parent)
    if not recreate_lost(spec, own.index, parent.index, not _current(rt, instance)):
        return
    await vmac.ensure(rt._rtnl, [spec])
    state = await rt._link_state(spec.name)
    if state.index is None or not _current(rt, instance):
        return
    log.info("vmac_recreated", instance=instance.name, interface=spec.name)
    await rt._submit(_rebind, rt, instance.group, state)
    rt._inputs_in.send_nowait(LinkObserved(instance.name, state, None))


async def _rebind(rt: Any, group: InterfaceGroup, state: addresses.LinkState) -> None:
    """The group's socket and announcer on the new link (a queued step)."""
    group.loop_scope.cancel()
    group.sock.close()
    group.announcer.close()
    sock = VrrpSocket(group.ifname, state.index, group.family)
    if isinstance(state, vmac.VmacLinkState) and state.send_ifindex is not None:
        sock.send_via(state.send_ifname or "", state.send_ifindex)  # vmac_xmit_base
    for member in group.instances.values():
        if member.binding.mcast_group is not None:
            sock.join(member.binding.mcast_group)
    group.sock = sock
    group.ifindex = state.index
    group.announcer = Announcer(group.ifname, state.index, state.mac)
    group.loop_scope = trio.CancelScope()
    rt._nursery.start_soon(rt._receive_loop, group)
