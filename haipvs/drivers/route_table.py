"""Carries out haipvs.policy.announce: the bgp VIPs' routes in `scale_out.table`, and the VIP
addresses on `lo`.

A VIP is announced by the route `VIP/32 (v6 /128) dev lo table T proto HAIPVS_RT_PROTO
metric M`, which the routing daemon learns (BIRD: `protocol kernel { kernel table T; learn;
}`) and exports over BGP; it is withdrawn by deleting that route. Deletes name the protocol
and the kernel matches it (as haipvs/drivers/routes.py), so a route haipvs did not add is
never removed.

Start-up adopts rather than re-adds: `sync_dump` reads table T and every route of ours there
is taken as it is (the policy gets `Adopted`), so a restart, or a SIGKILL and a start, makes
no route change at all and so no BGP update. Routes of ours for addresses that are no longer
bgp VIPs, or for a VIP with another metric once the configured one is in place, are deleted.

The VIP address on `lo` (IFA_PROTO-marked, haipvs/drivers/addresses.py) is held always: the
route, not the address, is the announcement, and the director must keep accepting the VIP's
traffic while a drain moves it away.

The `sync_*` functions run inside the rtnetlink owner thread and take the IPRoute object as
their first argument.
"""

from __future__ import annotations

import errno
import ipaddress

import structlog
from pyroute2.netlink.exceptions import NetlinkError

from haipvs.dataclass_lean import dataclass
from haipvs.drivers import addresses
from haipvs.drivers.netlink_thread import NetlinkThread
from haipvs.limits import GRACEFUL_SHUTDOWN_REALM, HAIPVS_RT_PROTO

log = structlog.get_logger("haipvs.scale_out")

Vip = ipaddress.IPv4Address | ipaddress.IPv6Address
AF = {4: 2, 6: 10}  # AF_INET, AF_INET6
SCOPE_LINK, SCOPE_UNIVERSE = 253, 0  # what `ip route add VIP/32 dev lo` picks
SCOPE_NOWHERE = 255
NLM_F_REPLACE_CREATE = 0x100 | 0x400
_GONE = (errno.ENOENT, errno.ESRCH, errno.ENODEV)
LOOPBACK = "lo"


@dataclass(frozen=True)
class Installed:
    """One route of ours found in the table."""

    vip: Vip
    metric: int
    graceful_shutdown: bool  # carries the GRACEFUL_SHUTDOWN realm


def _prefix(vip: Vip) -> int:
    return 32 if vip.version == 4 else 128


def _lo_index(ipr) -> int:
    link = addresses.get_link(ipr, ifname=LOOPBACK)
    if link is None:
        raise OSError(errno.ENODEV, "no loopback interface")
    return link["index"]


def _request(ipr, vip: Vip, table: int, metric: int, graceful: bool | None = None) -> dict:
    request: dict = {
        "family": AF[vip.version],
        "dst": str(vip),
        "dst_len": _prefix(vip),
        "table": table,
        "proto": HAIPVS_RT_PROTO,
        "priority": metric,
    }
    if graceful is None:  # delete: RT_SCOPE_NOWHERE matches any scope (as `ip route del`)
        request["scope"] = SCOPE_NOWHERE
    else:  # add/replace: the full route
        request["oif"] = _lo_index(ipr)
        request["scope"] = SCOPE_LINK if vip.version == 4 else SCOPE_UNIVERSE
        if graceful:
            request["RTA_FLOW"] = GRACEFUL_SHUTDOWN_REALM
    return request


def sync_dump(ipr, table: int) -> list[Installed]:
    """Every host route of ours in `table`, both families."""
    found: list[Installed] = []
    for family in (4, 6):
        for msg in ipr.get_routes(family=AF[family], table=table):
            if msg["proto"] != HAIPVS_RT_PROTO or msg["dst_len"] != (32 if family == 4 else 128):
                continue
            if (msg.get_attr("RTA_TABLE") or msg["table"]) != table:
                continue
            dst = msg.get_attr("RTA_DST")
            if dst is None:
                continue
            found.append(Installed(ipaddress.ip_address(dst), msg.get_attr("RTA_PRIORITY") or 0,
                                   msg.get_attr("RTA_FLOW") == GRACEFUL_SHUTDOWN_REALM))
    return found


def sync_announce(ipr, table: int, vip: Vip, metric: int, graceful: bool) -> str:
    """Install the route (replace: an existing one of the same metric only changes its
    realm, with no withdraw in between). Returns what was done."""
    request = _request(ipr, vip, table, metric, graceful)
    try:
        ipr.route("add", **request)
        return "add"
    except NetlinkError as exc:
        if exc.code != errno.EEXIST:
            raise
    # One of that destination and metric is there: ours (adopted, or a realm change) or
    # someone else's, which replace would take over, so look first.
    mine = [r for r in sync_dump(ipr, table) if r.vip == vip and r.metric == metric]
    if not mine:
        return "kept-foreign"
    if mine[0].graceful_shutdown == graceful:
        return "present"
    ipr.route("replace", **request)
    return "replace"


def sync_withdraw(ipr, table: int, vip: Vip, metric: int) -> str:
    try:
        ipr.route("del", **_request(ipr, vip, table, metric))
        return "del"
    except NetlinkError as exc:
        if exc.code in _GONE:
            return "absent"
        raise


def withdraw_all(table: int) -> list[Vip]:
    """Outside the daemon (`haipvs withdraw-routes`, haipvs/scale_out_withdraw.py): delete
    every route of ours in `table`, in the caller's network namespace; the VIPs withdrawn."""
    from pyroute2 import IPRoute

    withdrawn: list[Vip] = []
    with IPRoute() as ipr:
        for route in sync_dump(ipr, table):
            sync_withdraw(ipr, table, route.vip, route.metric)
            withdrawn.append(route.vip)
    return withdrawn


def _lo_vips(vips: list[Vip]) -> list[addresses.Vip]:
    return [addresses.Vip(ipaddress.ip_interface(f"{vip}/{_prefix(vip)}"), LOOPBACK)
            for vip in vips]


class RouteTable:
    """The route of each bgp VIP in one table, through the rtnetlink owner thread. It keeps
    what it believes is installed, so an announce of a route already there costs nothing."""

    def __init__(self, rtnl: NetlinkThread, table: int, vips: list[Vip]) -> None:
        self.rtnl = rtnl
        self.table = table
        self.vips = list(vips)
        self.installed: dict[Vip, Installed] = {}

    async def start(self, metrics: dict[Vip, int]) -> dict[Vip, int]:
        """Hold the VIPs on lo, adopt our routes as they are; returns {vip: metric} of the
        adopted routes. Routes of ours for other addresses (or a second metric of a VIP)
        are deleted: nothing else should be announcing them."""
        for change in await self.rtnl.call(addresses.sync_add, _lo_vips(self.vips)):
            log.info("scale_out_lo_address", action=change.action, vip=str(change.vip.address),
                     detail=change.detail)
        adopted: dict[Vip, int] = {}
        found = await self.rtnl.call(sync_dump, self.table)
        for route in found:
            want = metrics.get(route.vip)
            if want is not None and route.vip not in adopted and (
                    route.metric == want
                    or not any(r.vip == route.vip and r.metric == want for r in found)):
                adopted[route.vip] = route.metric
                self.installed[route.vip] = route
                log.info("scale_out_route_adopted", vip=str(route.vip), table=self.table,
                         metric=route.metric)
                continue
            await self.rtnl.call(sync_withdraw, self.table, route.vip, route.metric)
            log.info("scale_out_route_removed", vip=str(route.vip), table=self.table,
                     metric=route.metric, reason="not a bgp VIP, or not its metric")
        return adopted

    async def hold_on_lo(self, add: list[Vip], remove: list[Vip]) -> None:
        """A reload's new bgp VIPs go on lo; removed ones (ours only) come off."""
        changes = await self.rtnl.call(addresses.sync_add, _lo_vips(add))
        changes += await self.rtnl.call(addresses.sync_remove, _lo_vips(remove))
        self.vips = [vip for vip in self.vips if vip not in remove] + add
        for change in changes:
            log.info("scale_out_lo_address", action=change.action, vip=str(change.vip.address),
                     detail=change.detail)

    async def resync(self) -> None:
        """After a deletion in the kernel: put back the routes that should be there (someone
        deleted one of ours) and the VIPs on lo, as haipvs does for its static routes;
        delete routes of ours that should not be there."""
        found = await self.rtnl.call(sync_dump, self.table)
        present = {(r.vip, r.metric) for r in found}
        for vip, want in list(self.installed.items()):
            if (vip, want.metric) not in present:
                action = await self.rtnl.call(sync_announce, self.table, vip, want.metric,
                                              want.graceful_shutdown)
                log.warning("scale_out_route_restored", vip=str(vip), table=self.table,
                            action=action)
        for route in found:
            want = self.installed.get(route.vip)
            if want is None or want.metric != route.metric:
                await self.rtnl.call(sync_withdraw, self.table, route.vip, route.metric)
                log.warning("scale_out_route_removed", vip=str(route.vip), table=self.table,
                            metric=route.metric, reason="not announced")
        for change in await self.rtnl.call(addresses.sync_add, _lo_vips(self.vips)):
            log.warning("scale_out_lo_address_restored", action=change.action,
                        vip=str(change.vip.address), detail=change.detail)

    async def announce(self, vip: Vip, metric: int, graceful: bool = False) -> None:
        old = self.installed.get(vip)
        if old is not None and (old.metric, old.graceful_shutdown) == (metric, graceful):
            return
        action = await self.rtnl.call(sync_announce, self.table, vip, metric, graceful)
        if action != "kept-foreign":
            self.installed[vip] = Installed(vip, metric, graceful)
        # A new metric goes in before the old route goes: make before break, no withdraw.
        if old is not None and old.metric != metric:
            await self.rtnl.call(sync_withdraw, self.table, vip, old.metric)
        log.info("scale_out_announce", vip=str(vip), table=self.table, metric=metric,
                 graceful_shutdown=graceful, action=action)

    async def withdraw(self, vip: Vip, metric: int | None = None) -> None:
        old = self.installed.pop(vip, None)
        metric = old.metric if old is not None else metric
        if metric is None:
            return
        action = await self.rtnl.call(sync_withdraw, self.table, vip, metric)
        log.info("scale_out_withdraw", vip=str(vip), table=self.table, action=action)
