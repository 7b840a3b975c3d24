"""keepalived's accept / no_accept, strict mode and nftables keywords -> haipvs.

- vrrp_instance `accept` / `no_accept` -> `accept: true|false` (vrrp_parser.c).
- vrrp_instance `strict_mode [on|off|true|false|yes|no]` (no argument: on;
  vrrp_parser.c vrrp_strict_mode_handler()) -> `strict_mode`.
- global_defs `vrrp_strict` -> `global.vrrp_strict: true`; `nftables [NAME]`,
  `nftables_priority N`, `nftables_counters` -> `global.nftables*`.

In strict mode keepalived clears what it does not allow and carries on (vrrp.c
vrrp_complete_instance()); haipvs refuses such a file (haipvs/config/strict_mode.py). So the
translation clears the same settings, each with a note, and the result means what keepalived
runs.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from haipvs import limits
from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Flag, Rule, Skip, Value
from haipvs.importer.state import Draft

ON_OFF = {"on": True, "true": True, "yes": True, "off": False, "false": False, "no": False}


def strict_mode(ctx: Context, node: Node, draft: Draft) -> None:
    if not node.values:
        draft.fields["strict_mode"] = True
        return
    value = ON_OFF.get(node.values[0].lower())
    if value is None:
        # vrrp_parser.c: "invalid strict_mode %s specified" (left unset)
        ctx.skip(node, f"invalid strict_mode {node.values[0]!r}; keepalived ignores it too")
        return
    draft.fields["strict_mode"] = value


def nftables(ctx: Context, node: Node, draft: Draft) -> None:
    """`nftables [TABLENAME]`: without a name keepalived uses its table `keepalived`; haipvs
    always has its own table (`inet haipvs`), so only a given name is carried over (keepalived's
    tables are `ip`/`ip6` ones: an `inet` table of the same name does not clash)."""
    if node.values:
        draft.fields["nftables"] = node.values[0]


INSTANCE_RULES: dict[str, Rule] = {
    "accept": Flag("accept", True),
    "no_accept": Flag("accept", False),
    "strict_mode": strict_mode,
}

GLOBAL_RULES: dict[str, Rule] = {
    "vrrp_strict": Flag("vrrp_strict", True),
    "nftables": nftables,
    "nftables_priority": Value("nftables_priority", int, -400, 400),
    "nftables_counters": Flag("nftables_counters", True),
    "nftables_ifindex": Skip("haipvs always matches link-local VIPs with the interface index "
                             "(keepalived's default)"),
}


def strict_rules(ctx: Context, f: dict[str, Any], sources: Mapping[str, Node],
                 vrrp_strict: bool) -> bool:
    """vrrp.c vrrp_complete_instance() in strict mode. False: keepalived refuses the
    instance (unicast peers), so the translation leaves it out."""
    strict = f.get("strict_mode", vrrp_strict)
    if not strict:
        return True
    owner = f.get("priority") == limits.OWNER_PRIORITY
    why = "keepalived clears it in strict mode ({what}), and so does this translation"
    if f.get("unicast_peers"):
        node = sources.get("unicast_peer") or sources.get("unicast_src_ip")
        if node is not None:
            ctx.skip(node, "unicast peers in strict mode: keepalived refuses the instance "
                     "(\"Unicast peers are not supported in strict mode\"); so does haipvs")
        return False
    if "authentication" in f:
        del f["authentication"]
        node = sources.get("authentication")
        if node is not None:
            ctx.changed(node, why.format(what="\"Strict mode does not support "
                                         "authentication\""))
    if f.get("state") == "MASTER" and not owner:
        f["state"] = "BACKUP"
        ctx.changed(sources["state"], "MASTER -> BACKUP: " + why.format(
            what="\"State MASTER must match being address owner\""))
    if f.get("preempt_delay"):
        del f["preempt_delay"]
        ctx.changed(sources["preempt_delay"], why.format(
            what="\"preempt_delay is incompatible with strict mode\""))
    version = 3 if _ipv6(f) else f.get("version", 2)
    if f.get("accept") and not owner and version == 2:
        del f["accept"]
        ctx.changed(sources["accept"], why.format(
            what="\"accept mode for VRRP version 2 does not comply with RFC3768\""))
    garp = f.get("garp")
    for name, keyword in (("lower_prio_repeat", "garp_lower_prio_repeat"),
                          ("lower_prio_delay", "garp_lower_prio_delay")):
        if isinstance(garp, dict) and garp.get(name):
            # haipvs forces them to 0 in strict mode (haipvs/vrrp_binding.py); say so here
            del garp[name]
            node = sources.get(keyword)
            if node is not None:
                ctx.changed(node, why.format(what="\"Strict mode requires no repeat garps\""))
    if garp == {}:
        del f["garp"]
    vips = f.get("virtual_ipaddress") or []
    first = _address(vips[0]) if vips else None
    if first is not None and first.version == 6 and not first.ip.is_link_local:
        # keepalived only logs "the first IPv6 VIP address must be link local" and runs;
        # haipvs refuses it in strict mode, so this instance runs without strict mode, with
        # the accept mode strict mode gave it.
        f["strict_mode"] = False
        f.setdefault("accept", owner)
        node = sources.get("virtual_ipaddress") or sources.get("strict_mode")
        if node is not None:
            ctx.changed(node, "the first IPv6 VIP is not link-local: keepalived logs it and "
                        "runs in strict mode; haipvs refuses that, so this instance gets "
                        "strict_mode: false with strict mode's accept mode")
    return True


def _address(vip: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    return ipaddress.ip_interface(vip if isinstance(vip, str) else vip["address"])


def _ipv6(f: dict[str, Any]) -> bool:
    return any(_address(v).version == 6 for v in f.get("virtual_ipaddress", []))
