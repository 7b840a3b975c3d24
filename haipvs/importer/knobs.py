"""keepalived's GARP pacing and advert knobs -> haipvs keys.

- global_defs `vrrp_garp_interval` / `vrrp_gna_interval` (core/global_parser.c) and the
  `garp_group { garp_interval gna_interval interface(s) }` block (vrrp/vrrp_parser.c) become
  each vrrp_instance's `garp.interval` / `garp.gna_interval`: keepalived paces per interface,
  so an instance on an interface of a garp_group takes the group's, the others the global.
- global_defs `vrrp_mcast_group4` / `vrrp_mcast_group6` become `mcast_dst_ip` of every
  multicast instance of that family without its own.
- vrrp_instance `unicast_ttl`, `mcast_dst_ip`, `dont_track_primary` translate as they are;
  keepalived drops unicast_ttl without unicast peers (vrrp_parser.c vrrp_end_handler) and
  ignores mcast_dst_ip with them, and so does the translation.
- global_defs `vrrp_garp_extra_if` / `vrrp_vmac_garp_intvl` and vrrp_instance
  `garp_extra_if` / `vmac_garp_intvl` `<delay> [all]` become `garp.extra_if` /
  `garp.extra_if_all` (the global one is every instance's default, as keepalived's).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from haipvs import limits
from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Flag, Rule, Value, number
from haipvs.importer.state import GlobalDefs, Instance

# keepalived garp_extra_if / vrrp_garp_extra_if <delay> [all] -> garp.extra_if(_all)
INTERVAL_KEYS = {"garp_interval": "interval", "gna_interval": "gna_interval"}


def multicast(text: str) -> str:
    """keepalived global_parser.c vrrp_mcast_group4_handler(), vrrp_parser.c
    vrrp_mcast_dstip_handler(): "... not multicast. Skipping"."""
    group = ipaddress.ip_address(text)
    if not group.is_multicast:
        raise ValueError(f"{text} is not a multicast address")
    return str(group)


def global_interval(name: str) -> Rule:
    def rule(ctx: Context, node: Node, draft: GlobalDefs) -> None:
        value = ctx.one(node, number, 0, limits.GARP_DELAY_MAX)
        if value is not None:
            draft.garp[name] = value
    return rule


def global_group(family: int) -> Rule:
    def rule(ctx: Context, node: Node, draft: GlobalDefs) -> None:
        value = ctx.one(node, multicast)
        if value is None:
            return
        if ipaddress.ip_address(value).version != family:
            ctx.skip(node, f"{value} is not IPv{family}; keepalived skips it")
            return
        draft.knobs[f"mcast_group{family}"] = (value, node)
    return rule


def extra_if_words(ctx: Context, node: Node, low: int) -> tuple[int | None, bool]:
    """vrrp_parser.c vrrp_garp_extra_if_handler(), global_parser.c
    vrrp_vmac_garp_extra_if_handler(): the words in order, `all` sets the flag as it is
    read, a bad word ends the line ("invalid - ignoring"), a line without a delay is
    ignored but keeps an `all` read before."""
    delay: int | None = None
    all_if = False
    for word in node.values:
        if word == "all":
            all_if = True
        elif word.isdigit() and low <= int(word) <= limits.GARP_DELAY_MAX:
            delay = int(word)
        else:
            ctx.skip(node, f"{word!r} invalid ({low}..{limits.GARP_DELAY_MAX} or all); "
                     "keepalived ignores the line from there")
            return None, all_if
    if delay is None:
        ctx.skip(node, "no delay; keepalived ignores it")
    return delay, all_if


def global_extra_if(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    # the global delay is 1..86400; it is the default of every instance without its own
    delay, all_if = extra_if_words(ctx, node, 1)
    if all_if:
        draft.garp["extra_if_all"] = True
    if delay is not None:
        draft.garp["extra_if"] = delay


def instance_extra_if(ctx: Context, node: Node, draft: Any) -> None:
    # vrrp.c vrrp_complete_instance(): an instance with its own delay (0..86400) keeps its
    # own `all` flag; one without takes the global delay, the global flag ORed into its own
    delay, all_if = extra_if_words(ctx, node, 0)
    if all_if:
        draft.garp["extra_if_all"] = True
    if delay is not None:
        draft.garp["extra_if"] = delay
        draft.garp.setdefault("extra_if_all", False)


GLOBAL_RULES: dict[str, Rule] = {
    "vrrp_garp_interval": global_interval("interval"),
    "vrrp_gna_interval": global_interval("gna_interval"),
    "vrrp_mcast_group4": global_group(4),
    "vrrp_mcast_group6": global_group(6),
    "vrrp_garp_extra_if": global_extra_if,
    "vrrp_vmac_garp_intvl": global_extra_if,  # deprecated name (global_parser.c)
}

INSTANCE_RULES: dict[str, Rule] = {
    "unicast_ttl": Value("unicast_ttl", int, 0, limits.TTL_MAX),
    "mcast_dst_ip": Value("mcast_dst_ip", multicast),
    "dont_track_primary": Flag("dont_track_primary", True),
    "garp_extra_if": instance_extra_if,
    "vmac_garp_intvl": instance_extra_if,  # deprecated name (vrrp_parser.c)
}


def garp_group(ctx: Context, node: Node) -> None:
    """`garp_group { garp_interval S; gna_interval S; interface IF | interfaces { ... } }`."""
    intervals: dict[str, float] = {}
    names: list[str] = []
    for child in ctx.block(node):
        if child.keyword in INTERVAL_KEYS:
            value = ctx.one(child, number, 0, limits.GARP_DELAY_MAX)
            if value is not None:
                intervals[INTERVAL_KEYS[child.keyword]] = value
        elif child.keyword == "interface":
            name = ctx.one(child)
            if name is not None:
                names.append(name)
        elif child.keyword == "interfaces":
            names.extend(c.keyword for c in ctx.block(child))
        else:
            ctx.skip(child, "haipvs has no such garp_group setting")
    # vrrp_parser.c garp_group_end_handler(): a group without intervals or interfaces is
    # dropped with an error.
    if not intervals or not names:
        ctx.skip(node, "garp_group needs garp_interval or gna_interval and an interface; "
                 "keepalived drops it too")
        return
    groups: dict[str, Any] = ctx.state.global_defs.knobs.setdefault("garp_groups", {})
    for name in names:
        groups[name] = (intervals, node)


TOP_LEVEL = {"garp_group": garp_group}


def finish_knobs(ctx: Context, instances: list[Instance]) -> None:
    """Before global_defs garp defaults apply: garp_group intervals, global multicast groups,
    and keepalived's unicast-only / multicast-only rules."""
    knobs = ctx.state.global_defs.knobs
    groups = knobs.get("garp_groups", {})
    for instance in instances:
        block, sources = instance.block, instance.sources
        if block.get("interface") in groups:
            intervals, node = groups[block["interface"]]
            garp = dict(block.get("garp", {}))
            garp.update(intervals)
            block["garp"] = garp
            block.note("garp", f"interval(s) from garp_group at {node.where}")
        unicast = bool(block.get("unicast_peers"))
        if "unicast_ttl" in block and not unicast:
            ctx.skip(sources["unicast_ttl"], "unicast_ttl without unicast peers: keepalived "
                     "resets it (\"Cannot use unicast_ttl without unicast peers\")")
            del block["unicast_ttl"]
        if "mcast_dst_ip" in block and unicast:
            ctx.skip(sources["mcast_dst_ip"], "keepalived ignores mcast_dst_ip with unicast "
                     "peers")
            del block["mcast_dst_ip"]
        family = 6 if _ipv6(block) else 4
        group = block.get("mcast_dst_ip")
        if group is not None and ipaddress.ip_address(group).version != family:
            ctx.skip(sources["mcast_dst_ip"], f"not an IPv{family} group: keepalived skips it")
            del block["mcast_dst_ip"]
        default = knobs.get(f"mcast_group{family}")
        if default is not None and not unicast and "mcast_dst_ip" not in block:
            block["mcast_dst_ip"] = default[0]
            block.note("mcast_dst_ip", f"from global_defs vrrp_mcast_group{family}")


def _ipv6(block: Any) -> bool:
    # as haipvs.importer.vrrp.is_ipv6 (which imports this module)
    return any(":" in str(v if isinstance(v, str) else v.get("address", ""))
               for v in block.get("virtual_ipaddress", []))
