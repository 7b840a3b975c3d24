"""Routes, rules and extra addresses: an instance's `virtual_routes`, `virtual_rules` and
`virtual_ipaddress_excluded`, and the top-level `static_ipaddress`, `static_routes` and
`static_rules` (keepalived's blocks of the same names, keepalived/vrrp/vrrp_iproute.c,
vrrp_iprule.c, vrrp_ipaddress.c).

keepalived writes each entry as one `ip route` / `ip rule` line; haipvs takes the same words
as a mapping (`{to: 198.51.100.0/24, via: 192.0.2.1, table: 100}`), and the importer
translates the lines. Options haipvs does not program are refused as unknown keys (the
migration table lists them).
"""

# setting() returns a dataclasses.field (see settings.py); ruff only knows field() itself.

from __future__ import annotations

import ipaddress
from typing import Any

from haipvs import limits
from haipvs.config.common import IFNAME, IPAddress, IPInterface
from haipvs.config.compound import ListOf, Nested
from haipvs.config.kinds import Bool, Choice, Int, IPAddr, IPInterfaceKind, Text, _raw_text
from haipvs.config.settings import model_section, setting
from haipvs.config.spec import INVALID, Kind, Values, describe_node
from haipvs.dataclass_lean import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ROUTE_TYPES = ("unicast", "blackhole", "unreachable", "prohibit", "throw")
RULE_ACTIONS = ("table", "blackhole", "unreachable", "prohibit")
ROUTE_SCOPES = ("global", "site", "link", "host", "nowhere")
TABLE = Int(1, limits.ROUTE_TABLE_MAX)
U32 = Int(0, 0xFFFFFFFF)


@dataclass(frozen=True)
class Prefix(Kind):
    """A destination: `198.51.100.0/24`, a bare address (a host route), or `default`
    (0.0.0.0/0; `default6` is ::/0, as the family cannot be told from the word)."""

    def parse(self, node, path, ctx):
        value = self._scalar(node, path, ctx, "a prefix like 198.51.100.0/24")
        if value is INVALID:
            return INVALID
        text = _raw_text(node, value)
        if text is None:
            ctx.error(node, path, f"expected a prefix, got {describe_node(node)}")
            return INVALID
        if text in ("default", "default6"):
            return ipaddress.ip_network("0.0.0.0/0" if text == "default" else "::/0")
        try:
            return ipaddress.ip_network(text)
        except ValueError as exc:
            # keepalived (like `ip route`) refuses a prefix with host bits set.
            ctx.error(node, path, f"{text!r} is not a network prefix ({exc})")
            return INVALID

    def schema(self, defs):
        return {"type": "string", "description": "prefix, address, `default` or `default6`"}

    def describe(self):
        return "prefix (`198.51.100.0/24`; a bare address is a host route; `default`, "\
               "`default6`)"


@dataclass(frozen=True)
class NextHop:
    via: IPAddress | None = setting(IPAddr(), None, "gateway of this path")
    dev: str | None = setting(IFNAME, None, "device of this path")
    weight: int = setting(Int(1, 256), 1, "relative weight of this path")
    onlink: bool = setting(Bool(), False, "the gateway is on-link even without a "
                           "matching prefix")


def _check_nexthop(v: Values) -> None:
    if v.ok("via", "dev") and v["via"] is None and v["dev"] is None:
        v.error("via", "a nexthop needs via or dev")


NEXTHOP = model_section(NextHop, "nexthop", "Route nexthop",
                        "One path of a multipath (ECMP) route, like `ip route ... nexthop`.",
                        check=_check_nexthop)


@dataclass(frozen=True)
class RouteEntry:
    """A route haipvs adds (keepalived's virtual_routes / static_routes line)."""

    to: IPNetwork = setting(Prefix(), doc="destination")
    via: IPAddress | None = setting(IPAddr(), None, "gateway (keepalived `via` / `gw`)")
    src: IPAddress | None = setting(IPAddr(), None, "preferred source address")
    dev: str | None = setting(IFNAME, None, "output device (keepalived `dev` / `oif`)",
                              doc_default="chosen by the kernel from `via`")
    table: int = setting(TABLE, limits.ROUTE_TABLE_MAIN, "routing table number",
                         doc_default=f"{limits.ROUTE_TABLE_MAIN} (main)")
    metric: int | None = setting(U32, None, "route metric (keepalived `metric` / "
                                 "`priority` / `preference`)")
    scope: str | None = setting(Choice(ROUTE_SCOPES), None, "route scope",
                                doc_default="the kernel's (link without via, else global)")
    type: str = setting(Choice(ROUTE_TYPES), "unicast",
                        "route type; `blackhole`, `unreachable`, `prohibit`, `throw` "
                        "take no via/dev/nexthop")
    onlink: bool = setting(Bool(), False, "the gateway is on-link even without a "
                           "matching prefix")
    nexthop: tuple[NextHop, ...] = setting(ListOf(Nested(NEXTHOP)), (),
                                           "paths of a multipath route (instead of via/dev)")
    no_track: bool = setting(Bool(), False, "a static route deleted by hand is not added "
                             "again; no effect on a virtual route (haipvs does not watch them)")


def _check_route(v: Values) -> None:
    if not v.ok("to", "via", "src", "nexthop", "type", "dev"):
        return
    family = v["to"].version
    for name in ("via", "src"):
        if v[name] is not None and v[name].version != family:
            v.error(name, f"IPv{v[name].version} {name} for an IPv{family} destination")
    for i, hop in v.items("nexthop"):
        if hop.via is not None and hop.via.version != family:
            v.error(("nexthop", i, "via"), f"IPv{hop.via.version} gateway for an "
                    f"IPv{family} destination")
    if v["nexthop"] and (v["via"] is not None or v["dev"] is not None):
        v.error("nexthop", "give either via/dev or nexthop, not both")
    if v["type"] != "unicast" and (v["via"] is not None or v["dev"] is not None
                                   or v["nexthop"]):
        v.error("type", f"a {v['type']} route takes no via, dev or nexthop")
    if v["type"] == "unicast" and v["via"] is None and v["dev"] is None and not v["nexthop"]:
        v.error("to", "a unicast route needs via, dev or nexthop")


ROUTE = model_section(
    RouteEntry, "route", "Route",
    "A route (keepalived's one-line `virtual_routes` / `static_routes` entry, as a mapping). "
    "Marked with haipvs' routing protocol number (`proto 75`), so haipvs only ever removes "
    "its own.",
    check=_check_route,
    rules=("`via`, `src` and nexthop gateways are of the destination's family.",
           "A unicast route has `via`, `dev` or `nexthop`; other types have none of them."),
    renamed={"gw": "use via", "oif": "use dev", "priority": "use metric",
             "preference": "use metric"},
)


@dataclass(frozen=True, kw_only=True)
class RuleEntry:
    """A policy-routing rule haipvs adds (keepalived's virtual_rules / static_rules line)."""

    from_: IPNetwork | None = setting(Prefix(), None, "source prefix", key="from")
    to: IPNetwork | None = setting(Prefix(), None, "destination prefix")
    priority: int = setting(U32, doc="rule preference (keepalived `priority` / `preference` "
                            "/ `order`); required, see the rules")
    table: int | None = setting(TABLE, None, "table to look up (keepalived `table` / "
                                "`lookup`)")
    action: str = setting(Choice(RULE_ACTIONS), "table",
                          "`table` (look up `table`), or `blackhole`, `unreachable`, "
                          "`prohibit`")
    iif: str | None = setting(IFNAME, None, "input device (keepalived `iif` / `dev`)")
    oif: str | None = setting(IFNAME, None, "output device")
    fwmark: int | None = setting(U32, None, "firewall mark")
    fwmask: int | None = setting(U32, None, "mask for fwmark",
                                 doc_default="all bits")
    family: int | None = setting(Int(4, 6, (4, 6)), None, "4 or 6",
                                 doc_default="from `from` / `to`; else 4")
    no_track: bool = setting(Bool(), False, "a static rule deleted by hand is not added "
                             "again; no effect on a virtual rule (haipvs does not watch them)")


def _check_rule(v: Values) -> None:
    if not v.ok("from", "to", "table", "action", "family", "fwmark", "fwmask"):
        return
    families = {p.version for p in (v["from"], v["to"]) if p is not None}
    if v["family"] is not None:
        families.add(v["family"])
    if len(families) > 1:
        v.error("to" if v["to"] is not None else "from", "mixes IPv4 and IPv6")
    if v["action"] == "table" and v["table"] is None:
        v.error("table", "a rule needs a table (or action: blackhole, unreachable, "
                "prohibit); keepalived ignores a rule without one")
    if v["action"] != "table" and v["table"] is not None:
        v.error("table", f"action {v['action']} takes no table")
    if v["fwmask"] is not None and v["fwmark"] is None:
        v.error("fwmask", "fwmask needs fwmark")


def _derive_rule(v: Values) -> dict[str, Any]:
    if not v.ok("from", "to", "family"):
        return {}
    given = [p.version for p in (v["from"], v["to"]) if p is not None]
    return {"family": v["family"] or (given[0] if given else 4)}


RULE = model_section(
    RuleEntry, "rule", "Rule",
    "A policy-routing rule (keepalived's one-line `virtual_rules` / `static_rules` entry, as "
    "a mapping). Marked with haipvs' protocol number (`proto 75`).",
    derive=_derive_rule,
    check=_check_rule,
    rules=("`priority` is required: keepalived picks one itself when it is missing, with a "
           "warning that this is probably not what you want; haipvs asks for it.",
           "`action: table` (the default) needs `table`; the other actions take none.",
           "`from`, `to` and `family` agree on the family."),
    renamed={"preference": "use priority", "order": "use priority", "lookup": "use table",
             "dev": "use iif"},
)


@dataclass(frozen=True)
class StaticAddress:
    """An address held whatever the VRRP states (keepalived's static_ipaddress)."""

    address: IPInterface = setting(IPInterfaceKind(), doc="address and prefix length")
    dev: str = setting(IFNAME, doc="interface to add it to")
    label: str | None = setting(Text(15), None, "IPv4 address label; starts with `dev` and ':'")


def _check_static_address(v: Values) -> None:
    if not v.ok("address", "label", "dev") or v["label"] is None:
        return
    if v["address"].version == 6:
        v.error("label", "labels exist only for IPv4 addresses")
    elif not v["label"].startswith(v["dev"] + ":"):
        v.error("label", f"label {v['label']!r} must start with the device name: "
                f"'{v['dev']}:...'")


STATIC_ADDRESS = model_section(
    StaticAddress, "static_address", "Static address",
    "An address haipvs adds at start and removes on stop, whatever the VRRP states "
    "(keepalived `static_ipaddress`). keepalived's default interface is not assumed: `dev` "
    "is required.",
    check=_check_static_address,
)

def check_excluded(v: Values) -> None:
    """An instance's virtual_ipaddress_excluded: labels as for its VIPs, each address once."""
    seen: dict[Any, int] = {}
    for i, address in v.items("virtual_ipaddress_excluded"):
        if v.ok("interface") and address.label is not None:
            dev = address.dev or v["interface"]
            if not address.label.startswith(dev + ":"):
                v.error(("virtual_ipaddress_excluded", i, "label"),
                        f"label {address.label!r} must start with the device name: '{dev}:...'")
        if address.address.ip in seen:
            v.error(("virtual_ipaddress_excluded", i), f"{address.address.ip} is already listed "
                    f"at line {v.line('virtual_ipaddress_excluded', seen[address.address.ip])}")
        seen.setdefault(address.address.ip, i)


ROUTES = ListOf(Nested(ROUTE))
RULES = ListOf(Nested(RULE))
STATIC_ADDRESSES = ListOf(Nested(STATIC_ADDRESS))

__all__ = ["NEXTHOP", "ROUTE", "ROUTES", "RULE", "RULES", "STATIC_ADDRESS",
           "STATIC_ADDRESSES", "NextHop", "RouteEntry", "RuleEntry", "StaticAddress"]
