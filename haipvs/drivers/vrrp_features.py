"""The VRRP runtime's optional drivers, made by the first config that needs them (issue 18,
"import only what a config uses"): an idle director without excluded VIPs, virtual or
static routes and rules, no_accept instances or vmacs never loads their modules.

Each is made at start or on a reload (config time, in the VRRP loop before the instances
that need it open or retune), never on an advert's or a takeover's path, and starts from the
state it would have reached had it run all along: with none of its entries configured, every
input it got was a no-op, except the accept policy's record of which instances hold their
VIPs, which the instances themselves keep (`vips_held`, set in the same action list).

A mixin of VrrpRuntime (haipvs/drivers/vrrp_runtime.py), like vrrp_sources.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from haipvs.drivers import nft_table
from haipvs.drivers.vrrp_instance import Instance, InstanceBinding
from haipvs.policy.route_entries import NO_ENTRIES, Entries

if TYPE_CHECKING:
    import trio

    from haipvs.drivers.nft_accept import NftAccept
    from haipvs.drivers.routes import RouteDriver
    from haipvs.drivers.vrrp_actions import ActionRunner


class FeatureDrivers:
    """The runtime provides the attributes below."""

    _rtnl: Any
    _nursery: trio.Nursery | None
    _actions: ActionRunner
    _instances: dict[str, Instance]
    _submit: Any
    _entry_lost: Any
    _nft: nft_table.TableSettings | None  # global.nftables*; None: no nftables (tests)
    _routes: RouteDriver | None = None  # static_*, and what follows the VIPs
    _accept: NftAccept | None = None  # no_accept drop rules (haipvs.policy.accept_mode)
    _vmac: Any = None  # haipvs.drivers.vmac, once a config has use_vmac
    _vmac_recreate: Any = None  # and haipvs.drivers.vmac_recreate, for the link loop

    def _use_routes(self, static: Entries, bindings: list[InstanceBinding], *,
                    reload: bool = False) -> bool:
        """The route driver, once the static block or an instance has entries: True when
        made now. At start it then gets Start; on a reload it starts from the old (empty)
        static block, which SetStatic replaces, and the instances holding their VIPs get
        their entries from _retune, as with a running driver."""
        if self._routes is not None or not (static or any(b.entries for b in bindings)):
            return False
        from haipvs.drivers.routes import RouteDriver

        assert self._nursery is not None
        self._routes = RouteDriver(self._rtnl, NO_ENTRIES if reload else static)
        self._routes.on_lost = self._entry_lost  # a tracked virtual route/rule deleted
        self._actions.use(routes=self._routes)
        self._nursery.start_soon(self._routes.run, self._submit)  # applies, re-adds statics
        return True

    async def _start_features(self, static: Entries, bindings: list[InstanceBinding]) -> None:
        """At start, before the instances open: the routes' Start (what a crashed run left
        goes, the static entries go in), then the accept policy's."""
        if self._use_routes(static, bindings):
            from haipvs.policy import routes

            assert self._routes is not None
            await self._routes.handle(routes.Start(tuple(b.entries for b in bindings)))
        await self._start_accept(bindings)

    async def _reconfigure_routes(self, static: Entries | None,
                                  bindings: list[InstanceBinding]) -> None:
        """A reload: static_* applied as a difference (haipvs.policy.routes SetStatic)."""
        self._use_routes(static or NO_ENTRIES, bindings, reload=True)
        if static is not None and self._routes is not None:
            from haipvs.policy import routes

            await self._submit(self._routes.handle, routes.SetStatic(static))

    async def _start_accept(self, bindings: list[InstanceBinding]) -> None:
        """At start: the accept driver if an instance may need drop rules, else only what
        the policy's Start does without one: a table of ours left by a crashed run goes."""
        if not self._use_accept(bindings):
            if self._nft is not None:
                await nft_table.teardown(self._nft)
            return
        from haipvs.drivers.nft_accept import guarded_of
        from haipvs.policy import accept_mode

        assert self._accept is not None
        await self._accept.handle(accept_mode.Start(guarded_of(bindings)))

    async def _reconfigure_accept(self, bindings: list[InstanceBinding]) -> None:
        """A reload: the no_accept instances now (a queued step, as every policy input)."""
        self._use_accept(bindings)
        if self._accept is not None:
            from haipvs.drivers.nft_accept import guarded_of
            from haipvs.policy import accept_mode

            await self._submit(self._accept.handle, accept_mode.Reconfigure(guarded_of(bindings)))

    async def _stop_features(self) -> None:
        """At stop (keepalived stop_vrrp()): the entries held go, static ones too; the table
        goes if there is one."""
        if self._routes is not None:
            from haipvs.policy import routes

            await self._routes.handle(routes.Stop())
        if self._accept is not None:
            from haipvs.policy import accept_mode

            await self._accept.handle(accept_mode.Stop())

    def _use_accept(self, bindings: list[InstanceBinding]) -> bool:
        """The accept driver, once an instance is without accept mode (the policy's `drops`
        then decides which need rules): True when made now. Made on a reload, it knows
        which instances hold their VIPs, as a running one would from their Held inputs."""
        if self._accept is not None or all(b.accept for b in bindings):
            return False
        from haipvs.drivers.nft_accept import NftAccept

        self._accept = NftAccept(self._nft)
        self._accept.policy.held = {i.name for i in self._instances.values() if i.vips_held}
        self._actions.use(accept=self._accept)
        return True

    def _use_extra_if(self, bindings: list[InstanceBinding]) -> None:
        """garp_extra_if's rounds, once an instance has a delay (start or reload)."""
        if any(b.extra_if.delay for b in bindings):
            self._actions.use(extra_if=True)

    def _use_vmacs(self, bindings: list[InstanceBinding]) -> None:
        """At start and on a reload, before the instances open: the link paths
        (_link_state, vmac_recreate.after_link_read) find the vmac modules loaded."""
        if self._vmac is None and any(b.vmac is not None for b in bindings):
            from haipvs.drivers import vmac, vmac_recreate

            self._vmac, self._vmac_recreate = vmac, vmac_recreate
