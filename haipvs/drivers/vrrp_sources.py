"""The VRRP runtime's sources: tracker updates, link observations and sync-group faults, fed
to each instance's priority policy (haipvs.policy.priority) and its outputs to the core.

A mixin of VrrpRuntime (haipvs/drivers/vrrp_runtime.py), kept apart so each file stays small;
it runs on the VRRP loop, inside the runtime's one input queue, and decides nothing itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from haipvs.drivers import addresses
from haipvs.drivers.link_monitor import LinkMonitor
from haipvs.drivers.vrrp_inputs import LinkObserved, SourceUpdate
from haipvs.drivers.vrrp_instance import Instance, InstanceBinding
from haipvs.events import (
    NOTICE_BACKUP_PRIORITY,
    NOTICE_MASTER_PRIORITY,
    InstanceNotice,
    VrrpTransition,
)
from haipvs.policy import priority, sync_group
from haipvs.policy.priority import LINK, SYNC_GROUP, Contribution, Source
from haipvs.vrrp import core

if TYPE_CHECKING:
    import trio

    from haipvs.drivers.vrrp_actions import ActionRunner
    from haipvs.drivers.vrrp_inputs import Input

Changes = list[tuple[Source, Contribution]]


class SourceFeeds:
    """Priority/fault sources → policy → core. The runtime provides the attributes below."""

    _instances: dict[str, Instance]
    _actions: ActionRunner
    _event_sink: Callable[[VrrpTransition | InstanceNotice], None]
    _wall_clock: Callable[[], float]
    _inputs_in: trio.MemorySendChannel[Input]
    _rtnl: Any  # the rtnetlink owner thread (NetlinkThread)
    # netlink reads, outside the queue (VrrpRuntime's)
    _tracked_states: Callable[[InstanceBinding], Awaitable[dict[str, addresses.LinkState]]]
    # haipvs.drivers.vmac and vmac_recreate, once a config has use_vmac (vrrp_features.py)
    _vmac: Any
    _vmac_recreate: Any

    async def _link_state(self, ifname: str) -> addresses.LinkState:
        if self._vmac is None:  # no vmac is ours: the plain read is the same
            return await self._rtnl.call(addresses.sync_link_state, ifname)
        return await self._rtnl.call(self._vmac.sync_link_state, ifname)  # parent's source

    async def _source_update(self, update: SourceUpdate) -> None:
        instance = self._instances.get(update.name)
        if instance is None:
            return
        contribution = update.contribution
        if update.effective_priority is not None:
            base = instance.binding.params.base_priority
            contribution = Contribution(delta=update.effective_priority - base)
        await self._update(instance, [(update.source, contribution)])

    async def _update(self, instance: Instance, changes: Changes,
                      base_priority: int | None = None) -> None:
        outputs = instance.policy.handle(priority.Update(tuple(changes), base_priority))
        await self._forward(instance, outputs)
        if instance.started and instance.binding.sync_group is not None:
            await self._refresh_sync_faults()

    async def _forward(self, instance: Instance, outputs: list[priority.Output]) -> None:
        """The policy's outputs, as core inputs."""
        primary = instance.primary
        for output in outputs:
            match output:
                case priority.PriorityChanged(priority=value):
                    event: core.Input = core.PriorityChanged(value)
                case priority.FaultDetected(reason=reason):
                    event = core.FaultDetected(reason)
                case priority.FaultCleared():
                    event = core.FaultCleared(primary_address=primary)
                case priority.Begin(fault=fault):
                    event = core.Startup(primary_address=primary, fault=fault)
            await self._actions.feed(instance, event)
            if isinstance(output, priority.PriorityChanged):
                # vrrp_track.c vrrp_set_effective_priority: the main loop writes it if the
                # instance has notify_priority_changes (haipvs.policy.director)
                machine = instance.machine
                self._event_sink(InstanceNotice(
                    instance.name, NOTICE_MASTER_PRIORITY if machine.state == core.State.MASTER
                    else NOTICE_BACKUP_PRIORITY, machine.effective_priority,
                    self._wall_clock()))

    def _sync_pull(self) -> dict[str, str | None]:
        """Every grouped instance's sync-group fault (haipvs.policy.sync_group.fault_pull)."""
        groups: dict[str, list[sync_group.Member]] = {}
        for instance in self._instances.values():
            if instance.binding.sync_group is not None:
                groups.setdefault(instance.binding.sync_group, []).append(sync_group.Member(
                    instance.name, instance.started, instance.policy.own_fault()))
        pulled: dict[str, str | None] = {}
        for group, members in groups.items():
            pulled.update(sync_group.fault_pull(group, members))
        return pulled

    async def _refresh_sync_faults(self) -> None:
        pulled = self._sync_pull()
        for instance in list(self._instances.values()):
            wanted = pulled.get(instance.name)
            if instance.started and instance.policy.faults.get(SYNC_GROUP) != wanted:
                update = priority.Update(((SYNC_GROUP, Contribution(fault=wanted)),))
                await self._forward(instance, instance.policy.handle(update))

    async def _link_loop(self, monitor: LinkMonitor) -> None:
        """Reads the link states a change touches (netlink, outside the queue), then queues
        them for the drainer."""
        while True:
            changed = await monitor.next_change()
            self._actions.fast_vips.links_changed(changed)
            for instance in list(self._instances.values()):
                if instance.name not in self._instances or not instance.started:
                    continue
                own = 0 in changed or instance.group.ifindex in changed
                tracked = 0 in changed or any(
                    index is None or index in changed
                    for index in instance.tracked_ifindex.values()
                )
                if own or tracked:
                    binding = instance.binding
                    observed = LinkObserved(
                        instance.name,
                        await self._link_state(binding.ifname) if own else None,
                        await self._tracked_states(binding) if tracked else None,
                    )
                    self._inputs_in.send_nowait(observed)
                    # a vmac deleted by hand: made again
                    if observed.own is not None and binding.vmac is not None:
                        await self._vmac_recreate.after_link_read(self, instance,
                                                                  observed.own)

    async def _link_observed(self, observed: LinkObserved) -> None:
        instance = self._instances.get(observed.name)
        if instance is None or not instance.started:
            return
        changes: Changes = []
        state = observed.own
        if state is not None:
            source = instance.source_address(state)
            if instance.usable(state) and source != instance.primary:
                instance.primary = source
                if not instance.faulted:
                    await self._actions.feed(instance, core.PrimaryAddressChanged(source))
            changes.append((LINK, instance.link_contribution(state)))
        if observed.tracked is not None:
            changes += instance.tracked_changes(observed.tracked)
        await self._update(instance, changes)

