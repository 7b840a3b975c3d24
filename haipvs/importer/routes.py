"""keepalived's one-line routes, rules and extra addresses -> haipvs mappings:
`virtual_routes`, `virtual_rules`, `virtual_ipaddress_excluded` (in a vrrp_instance) and the
top-level `static_routes`, `static_rules`, `static_ipaddress`.

The words are keepalived 2.2.7's (vrrp_iproute.c alloc_route() / parse_nexthops(),
vrrp_iprule.c alloc_rule(), vrrp_ipaddress.c parse_ipaddress()); what haipvs does not program
is reported on the line, and the rest of the entry is still translated (haipvs/config/routes.py
lists what is supported).
"""

from __future__ import annotations

import ipaddress
from typing import Any

from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context
from haipvs.importer.state import Draft

ROUTE_TYPES = ("unicast", "blackhole", "unreachable", "prohibit", "throw")
RULE_ACTIONS = ("blackhole", "unreachable", "prohibit")
SCOPES = {"global": "global", "universe": "global", "site": "site", "link": "link",
          "host": "host", "nowhere": "nowhere", "0": "global", "200": "site", "253": "link",
          "254": "host", "255": "nowhere"}
# rt_tables names iproute2 always knows (keepalived reads /etc/iproute2/rt_tables too).
TABLES = {"main": 254, "local": 255, "default": 253}
# route options keepalived takes with one value that haipvs does not program
ROUTE_OPTIONS_WITH_VALUE = ("tos", "dsfield", "protocol", "expires", "mtu", "hoplimit",
                            "advmss", "rtt", "rttvar", "reordering", "window", "cwnd",
                            "ssthresh", "realms", "rto_min", "initcwnd", "initrwnd",
                            "features", "quickack", "congctl", "pref", "ttl-propagate",
                            "fastopen_no_cookie", "track_group", "vrf", "as", "from",
                            "encap")
ROUTE_FLAGS = ("add", "prepend", "append", "lock")
RULE_OPTIONS_WITH_VALUE = ("tos", "dsfield", "realms", "suppress_prefixlength", "sup_pl",
                           "suppress_ifgroup", "sup_group", "tunnel-id", "uidrange",
                           "protocol", "ipproto", "sport", "dport", "track_group", "goto")
NOT_PROGRAMMED = "haipvs does not program this {what} option"


def _table(ctx: Context, entry: Node, word: str) -> int | None:
    if word in TABLES:
        return TABLES[word]
    try:
        value = int(word, 0)
    except ValueError:
        ctx.skip(entry, f"table {word!r}: use the table's number (haipvs does not read "
                 "/etc/iproute2/rt_tables)")
        return None
    if not 1 <= value <= 0xFFFFFFFF:
        ctx.skip(entry, f"table {value} is out of range 1..4294967295")
        return None
    return value


def _prefix(ctx: Context, entry: Node, word: str, family: int | None) -> str | None:
    if word == "default":
        return "default6" if family == 6 else "default"
    try:
        network = ipaddress.ip_network(word, strict=False)
    except ValueError:
        ctx.skip(entry, f"{word!r} is not an address or prefix")
        return None
    text = str(network) if "/" in word else word
    if "/" in word and ipaddress.ip_interface(word).ip != network.network_address:
        ctx.changed(entry, f"{word} has host bits set; written as {network}")
    return text


def _int(ctx: Context, entry: Node, name: str, word: str, low: int, high: int) -> int | None:
    try:
        value = int(word, 0)
    except ValueError:
        ctx.skip(entry, f"{name} {word!r} is not a number")
        return None
    if not low <= value <= high:
        ctx.skip(entry, f"{name} {value} is out of range {low}..{high}")
        return None
    return value


def _family(words: list[str]) -> int | None:
    if "inet6" in words:
        return 6
    for word in words:
        try:
            return ipaddress.ip_network(word, strict=False).version
        except ValueError:
            continue
    return None


def _nexthops(ctx: Context, entry: Node, words: list[str]) -> list[dict[str, Any]]:
    """`nexthop via X dev Y weight W onlink nexthop ...` (vrrp_iproute.c parse_nexthops())."""
    hops: list[dict[str, Any]] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "nexthop":
            hops.append({})
        elif not hops:
            ctx.skip(entry, f"{word!r} before the first nexthop")
        elif word in ("via", "dev", "weight") and i + 1 < len(words):
            value = words[i + 1]
            if word == "via" and value in ("inet", "inet6") and i + 2 < len(words):
                i += 1
                value = words[i + 1]
            if word == "weight":
                number = _int(ctx, entry, "weight", value, 1, 256)
                if number is not None:
                    hops[-1]["weight"] = number
            else:
                hops[-1][word] = value
            i += 1
        elif word == "onlink":
            hops[-1]["onlink"] = True
        elif word in ("encap", "realms", "as") and i + 1 < len(words):
            ctx.skip(entry, f"nexthop {word} {words[i + 1]}: "
                     + NOT_PROGRAMMED.format(what="nexthop"))
            i += 1
        else:
            ctx.skip(entry, f"unknown nexthop option {word!r}")
        i += 1
    return [hop for hop in hops if hop]


def route(ctx: Context, entry: Node) -> dict[str, Any] | None:
    """One keepalived route line as a haipvs route mapping, or None (noted)."""
    words = [entry.keyword, *entry.values]
    family = _family(words)
    out: dict[str, Any] = {}
    i = 0
    while i < len(words):
        word = words[i]
        value = words[i + 1] if i + 1 < len(words) else None
        if word in ("inet", "inet6"):
            pass
        elif word == "nexthop":
            hops = _nexthops(ctx, entry, words[i:])
            if hops:
                out["nexthop"] = hops
            break
        elif word in ("src", "via", "gw") and value is not None:
            if value in ("inet", "inet6") and i + 2 < len(words):
                i += 1
                value = words[i + 1]
            out["src" if word == "src" else "via"] = value
            i += 1
        elif word == "or" and value is not None:
            # keepalived: deprecated "or": the via and this address become two nexthops.
            via = out.pop("via", None)
            out["nexthop"] = [*([{"via": via}] if via else []), {"via": value}]
            ctx.changed(entry, "the deprecated 'or' is written as two nexthops", "or")
            i += 1
        elif word in ("dev", "oif") and value is not None:
            out["dev"] = value
            i += 1
        elif word == "table" and value is not None:
            table = _table(ctx, entry, value)
            if table is None:
                return None
            if table != 254:
                out["table"] = table
            i += 1
        elif word in ("metric", "priority", "preference") and value is not None:
            metric = _int(ctx, entry, "metric", value, 0, 0xFFFFFFFF)
            if metric is not None:
                out["metric"] = metric
            i += 1
        elif word == "scope" and value is not None:
            if value in SCOPES:
                out["scope"] = SCOPES[value]
            else:
                ctx.skip(entry, f"scope {value!r}: haipvs knows "
                         "global, site, link, host, nowhere")
            i += 1
        elif word == "onlink":
            out["onlink"] = True
        elif word == "no_track":
            out["no_track"] = True
        elif word in ROUTE_OPTIONS_WITH_VALUE and value is not None:
            ctx.skip(entry, f"{word} {value}: " + NOT_PROGRAMMED.format(what="route"))
            i += 1
        elif word in ROUTE_FLAGS:
            ctx.skip(entry, f"{word}: " + NOT_PROGRAMMED.format(what="route"))
        else:
            # alloc_route(): `to DEST`, or `TYPE DEST` (after `to` the type is not looked
            # for: `to blackhole X` is an error there, the route dropped).
            if word == "to" and value is not None:
                i += 1
                word, value = value, None
            if word in ROUTE_TYPES and value is not None:
                if word != "unicast":
                    out["type"] = word
                i += 1
                word = value
            dst = _prefix(ctx, entry, word, family)
            if dst is None:
                return None
            out["to"] = dst
        i += 1
    if "to" not in out:
        ctx.skip(entry, "a route needs a destination")
        return None
    return {"to": out.pop("to"), **out}


def rule(ctx: Context, entry: Node) -> dict[str, Any] | None:
    """One keepalived rule line as a haipvs rule mapping, or None (noted)."""
    words = [entry.keyword, *entry.values]
    out: dict[str, Any] = {}
    family = _family(words)
    i = 0
    while i < len(words):
        word = words[i]
        value = words[i + 1] if i + 1 < len(words) else None
        if word in ("inet", "inet6"):
            if word == "inet6" and not any(k in out for k in ("from", "to")):
                out["family"] = 6
        elif word in ("from", "to") and value is not None:
            if value != "all":  # `all`: no selector
                text = _prefix(ctx, entry, value, family)
                if text is None:
                    return None
                out[word] = text
            i += 1
        elif word in ("table", "lookup") and value is not None:
            table = _table(ctx, entry, value)
            if table is None:
                return None
            out["table"] = table
            i += 1
        elif word in ("preference", "order", "priority") and value is not None:
            number = _int(ctx, entry, "priority", value, 0, 0xFFFFFFFF)
            if number is not None:
                out["priority"] = number
            i += 1
        elif word == "fwmark" and value is not None:
            mark, _, mask = value.partition("/")
            number = _int(ctx, entry, "fwmark", mark, 0, 0xFFFFFFFF)
            if number is not None:
                out["fwmark"] = number
                if mask:
                    masked = _int(ctx, entry, "fwmask", mask, 0, 0xFFFFFFFF)
                    if masked is not None:
                        out["fwmask"] = masked
            i += 1
        elif word in ("dev", "iif") and value is not None:
            out["iif"] = value
            i += 1
        elif word == "oif" and value is not None:
            out["oif"] = value
            i += 1
        elif word == "no_track":
            out["no_track"] = True
        elif word in RULE_OPTIONS_WITH_VALUE and value is not None:
            ctx.skip(entry, f"{word} {value}: " + NOT_PROGRAMMED.format(what="rule"))
            if word == "goto":
                return None
            i += 1
        elif word == "type" and value in RULE_ACTIONS:
            out["action"] = value
            i += 1
        elif word in RULE_ACTIONS:
            out["action"] = word
        elif word in ("nop", "l3mdev"):
            ctx.skip(entry, f"{word}: " + NOT_PROGRAMMED.format(what="rule"))
            return None
        else:
            # vrrp_iprule.c alloc_rule(): "Unknown rule option", and the rule is dropped.
            ctx.skip(entry, f"unknown rule option {word!r}: keepalived drops this rule too")
            return None
        i += 1
    if "action" not in out and "table" not in out:
        # vrrp_iprule.c alloc_rule(): "No action specified for rule - ignoring".
        ctx.skip(entry, "no table or action: keepalived ignores this rule too")
        return None
    if "priority" not in out:
        ctx.skip(entry, "no priority: keepalived picks one counting down from its "
                 "RULE_START_PRIORITY and warns; haipvs needs it written out")
        return None
    return out


def address(ctx: Context, entry: Node, default_dev: str | None) -> Any:
    """An excluded or static address: `ADDRESS[/LEN] [dev IF] [label L]`."""
    try:
        interface = ipaddress.ip_interface(entry.keyword)
    except ValueError:
        ctx.skip(entry, "not an IP address")
        return None
    out: dict[str, Any] = {"address": entry.keyword}
    values = entry.values
    i = 0
    while i < len(values):
        word = values[i]
        if word in ("dev", "label") and i + 1 < len(values):
            out[word] = values[i + 1]
            i += 1
        elif word in ("brd", "broadcast", "scope", "preferred_lft", "valid_lft", "metric",
                      "peer", "track_group") and i + 1 < len(values):
            ctx.skip(entry, f"{word} {values[i + 1]}: haipvs adds addresses with the "
                     "kernel's defaults")
            i += 1
        else:
            ctx.skip(entry, f"{word}: haipvs has no such address option")
        i += 1
    if "label" in out and interface.version == 6:
        ctx.skip(entry, "label: IPv6 addresses have no labels")
        del out["label"]
    if "dev" not in out and default_dev is not None:
        # vrrp_ipaddress.c: a static address without dev goes on the default interface.
        ctx.changed(entry, f"no dev: keepalived uses its default interface; written as "
                    f"dev {default_dev}")
        out["dev"] = default_dev
    return out["address"] if len(out) == 1 else out


# ---- keyword rules ---------------------------------------------------------------------

def _collect(ctx: Context, node: Node, one) -> list[Any]:
    return [item for item in (one(ctx, entry) for entry in ctx.block(node)) if item is not None]


def virtual_routes(ctx: Context, node: Node, draft: Draft) -> None:
    draft.fields.setdefault("virtual_routes", []).extend(_collect(ctx, node, route))


def virtual_rules(ctx: Context, node: Node, draft: Draft) -> None:
    draft.fields.setdefault("virtual_rules", []).extend(_collect(ctx, node, rule))


def virtual_ipaddress_excluded(ctx: Context, node: Node, draft: Draft) -> None:
    items = _collect(ctx, node, lambda c, e: address(c, e, None))
    draft.fields.setdefault("virtual_ipaddress_excluded", []).extend(items)


VRRP_INSTANCE_RULES = {
    "virtual_routes": virtual_routes,
    "virtual_rules": virtual_rules,
    "virtual_ipaddress_excluded": virtual_ipaddress_excluded,
}


def _static(key: str, one):
    def handler(ctx: Context, node: Node) -> None:
        ctx.state.static.setdefault(key, []).extend(_collect(ctx, node, one))
    return handler


# keepalived's default interface (global_defs default_interface, else eth0: DFLT_INT)
DEFAULT_INTERFACE = "eth0"
TOP_LEVEL = {
    "static_ipaddress": _static("static_ipaddress",
                                lambda c, e: address(c, e, DEFAULT_INTERFACE)),
    "static_routes": _static("static_routes", route),
    "static_rules": _static("static_rules", rule),
}
