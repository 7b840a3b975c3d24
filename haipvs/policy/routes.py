"""Which addresses, routes and rules haipvs should hold, from the config and the instances'
states (keepalived's virtual_ipaddress_excluded, virtual_routes, virtual_rules and the
static_ipaddress / static_routes / static_rules blocks).

keepalived 2.2.7's rules, followed here:

- An instance's excluded addresses, routes and rules are added when it becomes MASTER,
  after its VIPs, and removed when it leaves MASTER, before its VIPs
  (vrrp.c vrrp_state_become_master(): vrrp_handle_ipaddress, then vrrp_handle_iproutes,
  then vrrp_handle_iprules; vrrp_restore_interface(): rules, routes, then addresses).
- A virtual route or rule (not `no_track`) deleted by hand while its instance holds it
  sends the instance to BACKUP, with a quick way back to MASTER that adds it again
  (core/keepalived_netlink.c netlink_route_filter() / netlink_rule_filter() ->
  set_vrrp_backup(); `lost`, the core's EntryLost). A static one is re-added (Reassert).
- Static ones are removed at start-up (leftovers of a previous run), added at once whatever
  the VRRP states, and removed on stop (vrrp_daemon.c start_vrrp() "Clear leftover static
  entries" then "Set static entries"; stop_vrrp() "Clear static entries").

One entry may be wanted by several owners (two instances, or an instance and the static
block): it is added when the first wants it and removed when the last lets it go, so one
instance leaving MASTER never takes away what another still holds.

Pure: driven as `RouteOwner.handle(now, input) -> outputs`; the driver
(haipvs/drivers/routes.py) turns an `Apply` into netlink requests.
"""

from __future__ import annotations

import ipaddress
from dataclasses import field

from haipvs.dataclass_lean import dataclass

# The entries an owner wants, and an instance's or the static block's from the config:
# haipvs/policy/route_entries.py (every instance's binding needs them; re-exported here).
from haipvs.policy.route_entries import (  # noqa: F401
    NO_ENTRIES,
    Entries,
    instance_entries,
    static_entries,
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

STATIC = ""  # the owner name of the static block (instance names are never empty)

MAIN_TABLE = 254


@dataclass(frozen=True)
class Address:
    """An address on a device (an excluded VIP, or a static address)."""

    interface: IPInterface
    dev: str
    label: str | None = None


@dataclass(frozen=True)
class NextHop:
    """One path of an ECMP route (`ip route ... nexthop via X dev Y weight N`)."""

    via: IPAddress | None = None
    dev: str | None = None
    weight: int = 1
    onlink: bool = False


@dataclass(frozen=True)
class Route:
    dst: IPNetwork
    via: IPAddress | None = None
    src: IPAddress | None = None
    dev: str | None = None
    table: int = MAIN_TABLE
    metric: int | None = None
    scope: str | None = None
    type: str = "unicast"
    onlink: bool = False
    nexthops: tuple[NextHop, ...] = ()
    no_track: bool = False  # keepalived `no_track`: not re-added when deleted

    @property
    def family(self) -> int:
        return self.dst.version


@dataclass(frozen=True)
class Rule:
    family: int
    priority: int
    action: str = "table"
    table: int | None = None
    src: IPNetwork | None = None  # `from`
    dst: IPNetwork | None = None  # `to`
    iif: str | None = None
    oif: str | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    no_track: bool = False  # keepalived `no_track`: not re-added when deleted


def _entries(items: list[Address | Route | Rule]) -> Entries:
    return Entries(
        tuple(i for i in items if isinstance(i, Address)),
        tuple(i for i in items if isinstance(i, Route)),
        tuple(i for i in items if isinstance(i, Rule)),
    )


# ---- inputs -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Start:
    """The daemon starts. `configured` is every instance's entries: a previous run that
    crashed may have left them, and every instance starts as not MASTER."""

    configured: tuple[Entries, ...] = ()


@dataclass(frozen=True)
class Held:
    """Instance `name` now holds (became MASTER) or released its VIPs; `entries` are its
    configured entries at that moment (a reload may have changed them)."""

    name: str
    entries: Entries
    held: bool


@dataclass(frozen=True)
class SetStatic:
    """A reload: the static block is now `entries`; only the difference is applied
    (keepalived vrrp_daemon.c reload: clear_diff_static_addresses/routes/rules())."""

    entries: Entries


@dataclass(frozen=True)
class Reassert:
    """Something was deleted from the kernel (an address, route or rule): the static
    entries are added again where missing, as keepalived reinstates a deleted static
    address, route or rule (keepalived_netlink.c reinstate_static_address(),
    reinstate_static_route(), reinstate_static_rule())."""


@dataclass(frozen=True)
class Stop:
    """The daemon stops: everything held goes, the static entries too."""


Input = Start | Held | SetStatic | Reassert | Stop


# ---- outputs ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Apply:
    """Remove `withdraw` (rules, then routes, then addresses), then add `install`
    (addresses, then routes, then rules): a route may need its source address, a rule
    its table's routes."""

    withdraw: Entries = NO_ENTRIES
    install: Entries = NO_ENTRIES
    # re-adding what should be there already: one that is there is no news
    reassert: bool = False


Output = Apply


@dataclass
class RouteOwner:
    static: Entries = NO_ENTRIES
    # entry -> the owners wanting it (STATIC or instance names)
    _wanted: dict[Address | Route | Rule, set[str]] = field(default_factory=dict)
    _held: dict[str, Entries] = field(default_factory=dict)

    def handle(self, now: float, event: Input) -> list[Output]:
        match event:
            case Start(configured=configured):
                # keepalived deletes leftover static entries, then adds them; adding what
                # is already there and ours adopts it, which leaves the same kernel state.
                leftovers = [i for entries in configured for i in entries.items()
                             if i not in set(self.static.items())]
                out = self._set(STATIC, self.static)
                stale = _entries(list(dict.fromkeys(leftovers)))
                if stale:
                    out.insert(0, Apply(withdraw=stale))
                return out
            case Held(name=name, entries=entries, held=held):
                return self._set(name, entries if held else NO_ENTRIES)
            case SetStatic(entries=entries):
                self.static = entries
                return self._set(STATIC, entries)
            case Reassert():
                # keepalived_netlink.c: a `no_track` entry is not watched, so not reinstated.
                held = [i for i in self.held(STATIC).items()
                        if not getattr(i, "no_track", False)]
                return [Apply(install=_entries(held), reassert=True)] if held else []
            case Stop():
                out = []
                for owner in list(self._held):
                    out += self._set(owner, NO_ENTRIES)
                merged = [i for o in out for i in o.withdraw.items()]
                return [Apply(withdraw=_entries(merged))] if merged else []
        raise TypeError(f"unexpected input {event!r}")

    def held(self, name: str) -> Entries:
        return self._held.get(name, NO_ENTRIES)

    def instances_tracked(self) -> dict[str, tuple[Route | Rule, ...]]:
        """The routes and rules each instance holds that keepalived watches."""
        out = {name: tracked(entries) for name, entries in self._held.items()
               if name != STATIC}
        return {name: items for name, items in out.items() if items}

    def _set(self, owner: str, entries: Entries) -> list[Output]:
        old = set(self.held(owner).items())
        new = list(dict.fromkeys(entries.items()))
        gained = [i for i in new if i not in old]
        lost = [i for i in self.held(owner).items() if i not in set(new)]
        install = []
        for item in gained:
            owners = self._wanted.setdefault(item, set())
            if not owners:
                install.append(item)
            owners.add(owner)
        withdraw = []
        for item in lost:
            owners = self._wanted.get(item, set())
            owners.discard(owner)
            if not owners:
                self._wanted.pop(item, None)
                withdraw.append(item)
        if entries:
            self._held[owner] = _entries(new)
        else:
            self._held.pop(owner, None)
        if not install and not withdraw:
            return []
        return [Apply(withdraw=_entries(withdraw), install=_entries(install))]


def tracked(entries: Entries) -> tuple[Route | Rule, ...]:
    """keepalived_netlink.c netlink_route_filter() / netlink_rule_filter(): a deletion of
    a `no_track` route or rule (route->dont_track) is ignored."""
    return tuple(i for i in (*entries.routes, *entries.rules) if not i.no_track)


def lost(held: dict[str, tuple[Route | Rule, ...]],
         missing: frozenset[Route | Rule]) -> list[tuple[str, str]]:
    """(instance, reason) for each instance whose tracked route or rule is gone:
    set_vrrp_backup() for it (the core's EntryLost does what that does)."""
    out = []
    for name, items in held.items():
        gone = [i for i in items if i in missing]
        if gone:
            kind = "route" if isinstance(gone[0], Route) else "rule"
            out.append((name, f"virtual {kind} deleted: {describe(gone[0])}"))
    return out


def describe(entry: Address | Route | Rule) -> str:
    if isinstance(entry, Route):
        return f"{entry.dst} table {entry.table}"
    if isinstance(entry, Rule):
        return f"rule priority {entry.priority}"
    return str(entry.interface)


# ---- from the config (for instance_entries and static_entries, route_entries.py) ---------


def _route(entry) -> Route:
    return Route(
        dst=entry.to, via=entry.via, src=entry.src, dev=entry.dev, table=entry.table,
        metric=entry.metric, scope=entry.scope, type=entry.type, onlink=entry.onlink,
        nexthops=tuple(NextHop(h.via, h.dev, h.weight, h.onlink) for h in entry.nexthop),
        no_track=entry.no_track,
    )


def _rule(entry) -> Rule:
    return Rule(
        family=entry.family, priority=entry.priority, action=entry.action, table=entry.table,
        src=entry.from_, dst=entry.to, iif=entry.iif, oif=entry.oif, fwmark=entry.fwmark,
        fwmask=entry.fwmask, no_track=entry.no_track,
    )
