"""Carries out haipvs.policy.routes: excluded/static addresses, routes and rules through the
rtnetlink owner thread.

Every route carries rtm_protocol = HAIPVS_RT_PROTO and every rule FRA_PROTOCOL =
HAIPVS_RT_PROTO (addresses carry IFA_PROTO, haipvs/drivers/addresses.py). Deletes name that
protocol and the kernel matches it (fib_table_delete / ip6_route_del / fib_nl_delrule), so a
route or rule haipvs did not add is never removed, even one with the same destination or
preference. Adds are exclusive: after a crash the kernel answers EEXIST for what the last run
left, which is then adopted (ours) or reported and left alone (someone else's), never added
twice.

The `sync_*` functions run inside the rtnetlink owner thread and take the IPRoute object as
their first argument.
"""

from __future__ import annotations

import errno
import math
import socket
import struct
from collections.abc import Awaitable, Callable

import structlog
import trio
from pyroute2.netlink.exceptions import NetlinkError

from haipvs.dataclass_lean import dataclass
from haipvs.drivers import addresses
from haipvs.drivers.netlink_thread import NetlinkThread
from haipvs.limits import HAIPVS_RT_PROTO
from haipvs.policy import routes as policy
from haipvs.policy.routes import Address, Entries, Route, Rule

log = structlog.get_logger("haipvs.routes")

AF = {4: 2, 6: 10}  # AF_INET, AF_INET6
RTNH_F_ONLINK = 4
SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
RULE_ACTIONS = {"table": 1, "blackhole": 6, "unreachable": 7, "prohibit": 8}  # FR_ACT_*
_GONE = (errno.ENOENT, errno.ESRCH, errno.EADDRNOTAVAIL, errno.ENODEV)

# Deletions that may have taken a static entry: addresses, routes and rules, both families
# (RTMGRP_IPV4_IFADDR, IPV6_IFADDR, IPV4_ROUTE, IPV6_ROUTE, IPV4_RULE; RTNLGRP_IPV6_RULE 19).
DELETION_GROUPS = 0x10 | 0x100 | 0x40 | 0x400 | 0x80 | (1 << (19 - 1))
RTM_DELADDR, RTM_DELROUTE, RTM_DELRULE = 21, 25, 33
NLMSG_HDR = struct.Struct("=IHHII")
REASSERT_DELAY = 0.1  # seconds: a flush deletes many entries; reassert once after it
STATIC_POLL = 1.0  # seconds: how soon a reload that adds the first static entry is watched


def deletions(data: bytes) -> bool:
    """Whether one netlink read holds a deletion of an address, route or rule. A route
    deletion counts only for routes marked as haipvs' (rtm_protocol, byte 5 of rtmsg)."""
    offset = 0
    while offset + NLMSG_HDR.size <= len(data):
        length, kind = NLMSG_HDR.unpack_from(data, offset)[:2]
        if length < NLMSG_HDR.size:
            return True  # unparsable: look again
        body = offset + NLMSG_HDR.size
        if kind in (RTM_DELADDR, RTM_DELRULE):
            return True
        if kind == RTM_DELROUTE and body + 6 <= len(data) and data[body + 5] == HAIPVS_RT_PROTO:
            return True
        offset += (length + 3) & ~3
    return False


class DeletionMonitor:
    """A netlink socket on the deletion groups, read on the VRRP loop; a message is only a
    trigger (the policy then re-adds what is missing), as in link_monitor.py."""

    def __init__(self) -> None:
        self._raw = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
        self._raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self._raw.setblocking(False)
        self._sock = trio.socket.from_stdlib_socket(self._raw)

    async def bind(self) -> None:
        await self._sock.bind((0, DELETION_GROUPS))

    async def next_deletion(self) -> None:
        while True:
            try:
                data = await self._sock.recv(65536)
            except OSError:  # ENOBUFS: events were lost, some may be deletions
                return
            if deletions(data):
                return

    def drain(self) -> None:
        """Drop what is queued: the coming reassert covers it."""
        while True:
            try:
                self._raw.recv(65536)
            except OSError:  # BlockingIOError: empty
                return

    def close(self) -> None:
        self._sock.close()


@dataclass(frozen=True)
class Change:
    action: str  # "add" | "remove" | "adopted" | "kept-foreign" | "failed"
    entry: Address | Route | Rule
    detail: str = ""


def describe(entry: Address | Route | Rule) -> str:
    """`ip`-like text of an entry, for logs."""
    match entry:
        case Address():
            return f"{entry.interface} dev {entry.dev}"
        case Route():
            words = [entry.type if entry.type != "unicast" else "", str(entry.dst)]
            words += [f"via {entry.via}" if entry.via else "",
                      f"dev {entry.dev}" if entry.dev else "",
                      f"table {entry.table}" if entry.table != policy.MAIN_TABLE else "",
                      f"metric {entry.metric}" if entry.metric is not None else ""]
            words += [f"nexthop via {h.via} dev {h.dev} weight {h.weight}"
                      for h in entry.nexthops]
            return " ".join(w for w in words if w)
        case Rule():
            words = [f"pref {entry.priority}", f"from {entry.src}" if entry.src else "",
                     f"to {entry.dst}" if entry.dst else "",
                     f"iif {entry.iif}" if entry.iif else "",
                     f"fwmark {entry.fwmark:#x}" if entry.fwmark is not None else "",
                     f"lookup {entry.table}" if entry.action == "table" else entry.action]
            return " ".join(w for w in words if w)
    return repr(entry)


def _vip(address: Address) -> addresses.Vip:
    return addresses.Vip(address.interface, address.dev, address.label)


def _index(ipr, dev: str) -> int:
    """The device's index, from the cache the VIP code keeps on the IPRoute object (a
    lookup is a netlink round trip: ~1.7 ms, more than the route add itself)."""
    index = addresses._ifindex(ipr, dev)
    if index is None:
        raise LookupError(f"interface {dev} not found")
    return index


def _forget_indexes(ipr) -> None:
    """After ENODEV: a device was re-created under another index."""
    addresses.forget_ifindexes(ipr)


def _route_request(ipr, route: Route) -> dict:
    request: dict = {
        "family": AF[route.family],
        "dst": str(route.dst.network_address),
        "dst_len": route.dst.prefixlen,
        "table": route.table,
        "proto": HAIPVS_RT_PROTO,
    }
    if route.type != "unicast":
        request["type"] = route.type
    if route.via is not None:
        request["gateway"] = str(route.via)
    if route.dev is not None:
        request["oif"] = _index(ipr, route.dev)
    if route.src is not None:
        request["prefsrc"] = str(route.src)
    if route.metric is not None:
        request["priority"] = route.metric
    if route.scope is not None:
        request["scope"] = SCOPES[route.scope]
    if route.onlink:
        request["flags"] = RTNH_F_ONLINK
    if route.nexthops:
        hops = []
        for hop in route.nexthops:
            one: dict = {"hops": hop.weight - 1}  # rtnh_hops is the weight minus one
            if hop.via is not None:
                one["gateway"] = str(hop.via)
            if hop.dev is not None:
                one["oif"] = _index(ipr, hop.dev)
            if hop.onlink:
                one["flags"] = RTNH_F_ONLINK
            hops.append(one)
        request["multipath"] = hops
    return request


def _rule_request(rule: Rule) -> dict:
    request: dict = {
        "family": AF[rule.family],
        "priority": rule.priority,
        "action": RULE_ACTIONS[rule.action],
        "FRA_PROTOCOL": HAIPVS_RT_PROTO,
    }
    if rule.table is not None:
        request["table"] = rule.table
    for prefix, name in ((rule.src, "src"), (rule.dst, "dst")):
        if prefix is not None:
            request[name] = str(prefix.network_address)
            request[f"{name}_len"] = prefix.prefixlen
    if rule.iif is not None:
        request["iifname"] = rule.iif
    if rule.oif is not None:
        request["oifname"] = rule.oif
    if rule.fwmark is not None:
        request["fwmark"] = rule.fwmark
        if rule.fwmask is not None:
            request["fwmask"] = rule.fwmask
    return request


def _route_ours(ipr, route: Route) -> bool:
    """Whether the route the kernel already has for this destination, table and metric is
    ours (after EEXIST)."""
    for msg in ipr.get_routes(family=AF[route.family], table=route.table):
        if msg["dst_len"] != route.dst.prefixlen:
            continue
        dst = msg.get_attr("RTA_DST")  # absent for a default route
        if dst is not None and dst != str(route.dst.network_address):
            continue
        metric = msg.get_attr("RTA_PRIORITY")
        if (route.metric is None or metric == route.metric) and \
                msg["proto"] == HAIPVS_RT_PROTO:
            return True
    return False


def _rule_ours(ipr, rule: Rule) -> bool:
    return any(msg.get_attr("FRA_PRIORITY") == rule.priority
               and msg.get_attr("FRA_PROTOCOL") == HAIPVS_RT_PROTO
               for msg in ipr.get_rules(family=AF[rule.family]))


def sync_missing(ipr, items: tuple[Route | Rule, ...]) -> frozenset[Route | Rule]:
    """Which of these routes and rules of ours the kernel no longer has."""
    return frozenset(i for i in items
                     if not (_route_ours(ipr, i) if isinstance(i, Route) else _rule_ours(ipr, i)))


def _request(ipr, command: str, entry: Route | Rule) -> None:
    for attempt in (1, 2):
        try:
            if isinstance(entry, Route):
                ipr.route(command, **_route_request(ipr, entry))
            else:
                ipr.rule(command, **_rule_request(entry))
            return
        except NetlinkError as exc:
            if exc.code != errno.ENODEV or attempt == 2 or not isinstance(entry, Route):
                raise
            _forget_indexes(ipr)  # the cached index is stale: look it up again


def _add(ipr, entry: Route | Rule, reassert: bool = False) -> Change | None:
    try:
        _request(ipr, "add", entry)
        return Change("add", entry)
    except LookupError as exc:
        return Change("failed", entry, str(exc))
    except NetlinkError as exc:
        if exc.code != errno.EEXIST:
            return Change("failed", entry, exc.args[1] if len(exc.args) > 1 else str(exc))
    if reassert:
        return None  # still there: nothing to say (and no dump to pay for)
    ours = _route_ours(ipr, entry) if isinstance(entry, Route) else _rule_ours(ipr, entry)
    if ours:
        return Change("adopted", entry, "already there from an earlier run")
    return Change("kept-foreign", entry, "already configured by someone else")


def _remove(ipr, entry: Route | Rule) -> Change | None:
    try:
        _request(ipr, "del", entry)
        return Change("remove", entry)
    except LookupError:
        return None  # its device is gone, and the route with it
    except NetlinkError as exc:
        if exc.code in _GONE:
            return None  # not there, or not ours: the kernel matched our protocol
        return Change("failed", entry, exc.args[1] if len(exc.args) > 1 else str(exc))


def _address_changes(done: list[addresses.AddressChange], entries: tuple[Address, ...]
                     ) -> list[Change]:
    by_vip = {_vip(a): a for a in entries}
    return [Change(c.action, by_vip[c.vip], c.detail) for c in done]


def sync_apply(ipr, apply: policy.Apply) -> list[Change]:
    """Withdraw (rules, routes, addresses), then install (addresses, routes, rules)."""
    out: list[Change] = []
    gone = apply.withdraw
    for entry in (*gone.rules, *gone.routes):
        change = _remove(ipr, entry)
        if change is not None:
            out.append(change)
    if gone.addresses:
        done = addresses.sync_remove(ipr, [_vip(a) for a in gone.addresses])
        out += _address_changes(done, gone.addresses)
    new = apply.install
    if new.addresses:
        done = addresses.sync_add(ipr, [_vip(a) for a in new.addresses])
        out += _address_changes(done, new.addresses)
    for entry in (*new.routes, *new.rules):
        change = _add(ipr, entry, apply.reassert)
        if change is not None:
            out.append(change)
    return out


class RouteDriver:
    """Feeds the policy and applies its outputs; used from the VRRP loop only (startup,
    each instance's VIP add/remove, shutdown), so its policy needs no lock.

    The outputs are applied in order by one task (`run`), so becoming MASTER does not wait
    for them: a route add is a netlink round trip of ~1.2 ms through pyroute2, and the
    input queue (with the advert timers) must not wait for a hundred of them. Withdrawals
    are waited for, so routes and rules still go before the VIPs, as keepalived removes
    them."""

    def __init__(self, rtnl: NetlinkThread, static: Entries = policy.NO_ENTRIES) -> None:
        self._rtnl = rtnl
        self.owner = policy.RouteOwner(static)
        self._send, self._receive = trio.open_memory_channel[
            tuple[policy.Apply, str | None]](math.inf)
        self._queued = 0
        self._done = 0
        self._progressed = trio.Event()
        # the runtime's hook: feed the core's EntryLost to this instance (policy.lost)
        self.on_lost: Callable[[str, str], Awaitable[object]] | None = None
        # routes/rules last seen set by us: one that failed to go in was never "deleted"
        # (keepalived reacts to a deletion it sees of a route it set: route->set)
        self._set: set[Route | Rule] = set()

    async def run(self, submit: Callable[..., Awaitable[object]]) -> None:
        """The driver's task on the VRRP loop: applies the outputs in order and watches for
        deletions. Start it before the first `handle`."""
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.watch, submit)
            async for output, instance in self._receive:
                try:
                    await self._apply(output, instance)
                except Exception as exc:  # a defect must not take the VRRP loop down
                    log.error("routes_apply_failed", instance=instance, error=repr(exc))
                self._done += 1
                self._progressed.set()
                self._progressed = trio.Event()

    async def flush(self) -> None:
        """Until everything handled so far is applied."""
        while self._done < self._queued:
            await self._progressed.wait()

    async def watch(self, submit: Callable[..., Awaitable[object]]) -> None:
        """Reasserts the static entries after a deletion (a task on the VRRP loop; the
        policy is fed through `submit`, the runtime's queue, like every other input).
        Without static entries there is nothing to watch: the socket, which sees every
        route deletion of the host (a BGP router has many), is opened only once a config
        (or a reload) has some."""
        while not self.owner.static and not self.owner.instances_tracked():
            await trio.sleep(STATIC_POLL)
        monitor = DeletionMonitor()
        try:
            await monitor.bind()
            while True:
                await monitor.next_deletion()
                await trio.sleep(REASSERT_DELAY)  # one pass for a burst of deletions
                monitor.drain()
                if self.owner.held(policy.STATIC):
                    await submit(self._reassert)
                if self.on_lost is not None and self.owner.instances_tracked():
                    await submit(self._check_lost)
        finally:
            monitor.close()

    async def _check_lost(self) -> None:
        """keepalived_netlink.c netlink_route_filter() / netlink_rule_filter(): an
        instance's tracked route or rule gone from the kernel sends it to BACKUP. What is
        queued is applied first, so a route being added is not taken for a deleted one."""
        await self.flush()
        held = self.owner.instances_tracked()
        items = tuple(dict.fromkeys(i for entries in held.values() for i in entries))
        missing = await self._rtnl.call(sync_missing, items) & self._set
        for name, reason in policy.lost(held, missing):
            log.warning("virtual_entry_deleted", instance=name, reason=reason)
            if self.on_lost is not None:
                await self.on_lost(name, reason)

    async def _reassert(self) -> None:
        await self.handle(policy.Reassert(), wait=False)

    async def handle(self, event: policy.Input, instance: str | None = None,
                     wait: bool = True) -> None:
        """Feeds the policy; `wait`: until its outputs are applied."""
        for output in self.owner.handle(trio.current_time(), event):
            self._queued += 1
            self._send.send_nowait((output, instance))
        if wait:
            await self.flush()

    async def _apply(self, output: policy.Apply, instance: str | None) -> None:
        changes = await self._rtnl.call(sync_apply, output)
        for change in changes:
            if isinstance(change.entry, Route | Rule):
                if change.action in ("add", "adopted"):
                    self._set.add(change.entry)
                elif change.action == "remove":
                    self._set.discard(change.entry)
            level = log.warning if change.action in ("failed", "kept-foreign") else log.info
            kind = type(change.entry).__name__.lower()
            level(f"{kind}_{change.action.replace('-', '_')}", instance=instance,
                  entry=describe(change.entry), detail=change.detail or None)
