"""keepalived's virtual_server and virtual_server_group -> haipvs `virtual_servers:`.

A `virtual_server group NAME` becomes one haipvs virtual server with `group:` (its members as
written, haipvs/importer/vs_group.py); only a group haipvs refuses (overlaps, too large) becomes
one haipvs virtual server per member, each with the same body (check_parser.c).
"""

from __future__ import annotations

import ipaddress
from dataclasses import field
from typing import Any

from haipvs import limits
from haipvs.dataclass_lean import dataclass
from haipvs.importer import vs_group
from haipvs.importer.emit import Block
from haipvs.importer.grammar import Node
from haipvs.importer.real_server import (
    CHECKER_DEFAULTS,
    ServerDraft,
    forwarding,
    lb_kind,
    real_server,
)
from haipvs.importer.rules import (
    Choice,
    Context,
    Flag,
    Rule,
    Value,
    number,
    ordered,
    rules_for,
)
from haipvs.importer.script_users import NotifyCommand
from haipvs.importer.smtp import smtp_alert
from haipvs.importer.state import GroupMember

MAX_GROUP_EXPANSION = 256
# keepalived's scheduler flags: the named ones, and flag-1..3 (IP_VS_SVC_F_SCHED1..3), which
# mean fallback / port for sh and mh.
SCHED_FLAG_KEYWORDS = (*limits.SCHED_FLAGS, "flag-1", "flag-2", "flag-3")
VS_ORDER = ("address", "port", "fwmark", "ip_family", "protocol", "lb_algo", "sched_flags",
            "lb_kind", "persistence_timeout", "persistence_granularity",
            "persistence_engine", "ops",
            "delay_loop", "inhibit_on_failure", "sorry_server", "quorum", "hysteresis",
            "quorum_up", "quorum_down", "omega", "ha_suspend", "smtp_alert", "real_servers")


@dataclass
class VirtualServerDraft(ServerDraft):
    """`defaults` and `tun` also apply to its real servers."""

    flags: list[tuple[str, Node]] = field(default_factory=list)  # scheduler flag keywords
    real_nodes: list[Node] = field(default_factory=list)
    sorry_kind: str | None = None
    sorry_node: Node | None = None
    rs_weight: int | None = None  # `weight` in a virtual_server: its real servers' default
    # persistence_granularity set the default persistence_timeout (reported at the end).
    granularity_made_persistent: Node | None = None
    sources: dict[str, Node] = field(default_factory=dict)  # keyword -> its statement


# ---- rules -------------------------------------------------------------------------------

PERSISTENCE_TIMEOUT = Value("persistence_timeout", int, 1, limits.LVS_MAX_TIMEOUT)


def persistence_timeout(ctx: Context, node: Node, draft: VirtualServerDraft) -> None:
    """Without a value keepalived uses its default (IPVS_SVC_PERSISTENT_TIMEOUT)."""
    if not node.args:
        draft.fields["persistence_timeout"] = limits.DEFAULT_PERSISTENCE_TIMEOUT
    else:
        PERSISTENCE_TIMEOUT(ctx, node, draft)


def sched_flag_keyword(ctx: Context, node: Node, draft: VirtualServerDraft) -> None:
    """Kept until the scheduler is known (the flag keyword may come first)."""
    draft.flags.append((node.keyword, node))


def lb_algo(ctx: Context, node: Node, draft: VirtualServerDraft) -> None:
    """keepalived compares the name with strcmp (check_parser.c lbalgo_handler()): `RR` is
    "Invalid lvs_scheduler" and ignored, and the service keeps its default, wlc."""
    value = ctx.one(node)
    if value is None:
        return
    if value in limits.SCHEDULERS:
        draft.fields["lb_algo"] = value
    elif value.lower() in limits.SCHEDULERS:
        ctx.skip(node, f"keepalived takes scheduler names in lower case only: it ignores "
                 f"{value!r} and the service runs {limits.DEFAULT_SCHEDULER}, as it does here "
                 f"(write {value.lower()!r} if you meant it)")
    else:
        ctx.skip(node, f"unknown scheduler {value!r}; keepalived ignores it too and uses "
                 f"{limits.DEFAULT_SCHEDULER}")


IP_FAMILY = Choice("ip_family", str, {"inet": 4, "inet6": 6}, "unknown family {value!r}")


def ip_family(ctx: Context, node: Node, draft: VirtualServerDraft) -> None:
    """check_parser.c ip_family_handler(): a family that conflicts with the service's
    address is ignored ("conflicts with server family")."""
    address = draft.fields.get("address")
    wanted = {"inet": 4, "inet6": 6}.get(node.values[0] if node.values else "")
    if address and wanted and wanted != (6 if ":" in address else 4):
        ctx.skip(node, f"conflicts with the address {address}; keepalived ignores it too")
        return
    IP_FAMILY(ctx, node, draft)


def persistence_granularity(ctx: Context, node: Node, draft: VirtualServerDraft) -> None:
    """check_parser.c pgr_handler(): a dotted IPv4 netmask, or an IPv6 prefix length 1..128
    (the family is the service's, else IPv4 when the value has a '.'). It also makes the
    service persistent (IPVS_SVC_PERSISTENT_TIMEOUT) when no persistence_timeout came
    before; one that comes after replaces that timeout."""
    value = ctx.one(node)
    if value is None:
        return
    address = draft.fields.get("address")
    v6 = (":" in address) if address else "." not in value
    try:
        if v6:
            prefix = int(value)
            if not 1 <= prefix <= 128:
                raise ValueError(value)
            draft.fields["persistence_granularity"] = prefix
        else:
            ipaddress.IPv4Network(f"0.0.0.0/{value}")
            draft.fields["persistence_granularity"] = value
    except ValueError:
        ctx.skip(node, f"not an IPv{6 if v6 else 4} persistence granularity; keepalived "
                 "ignores it too")
        return
    if "persistence_timeout" not in draft.fields:
        draft.fields["persistence_timeout"] = limits.DEFAULT_PERSISTENCE_TIMEOUT
        draft.granularity_made_persistent = node


def sorry_server(ctx: Context, node: Node, draft: VirtualServerDraft) -> None:
    values = node.values
    if not values:
        ctx.skip(node, "needs an address")
        return
    try:
        sorry: dict[str, Any] = {"address": str(ipaddress.ip_address(values[0]))}
        if len(values) > 1:
            sorry["port"] = int(values[1])
    except ValueError:
        ctx.skip(node, f"bad sorry server {' '.join(values)!r}")
        return
    draft.fields["sorry_server"] = sorry
    draft.sorry_node = node


def sorry_server_inhibit(ctx: Context, node: Node, draft: VirtualServerDraft) -> None:
    """check_parser.c ssvri_handler(): only after sorry_server ("Ignoring sorry_server
    inhibit used before or without sorry_server"); haipvs policy/sorry_inhibit.py."""
    if "sorry_server" not in draft.fields:
        ctx.skip(node, "keepalived: \"Ignoring sorry_server inhibit used before or without "
                 "sorry_server\"")
        return
    draft.fields["sorry_server"]["inhibit"] = True


def sorry_server_lvs_method(ctx: Context, node: Node, draft: VirtualServerDraft) -> None:
    draft.sorry_kind = lb_kind(ctx, node, {})


def default_weight(ctx: Context, node: Node, draft: VirtualServerDraft) -> None:
    """check_parser.c vs_weight_handler(): 1..IPVS_WEIGHT_LIMIT, the weight of each real
    server that gives none (check_data.c validate_check_config())."""
    value = ctx.one(node, int, 1, limits.WEIGHT_MAX)
    if value is not None:
        draft.rs_weight = value


def real_server_node(ctx: Context, node: Node, draft: VirtualServerDraft) -> None:
    """Translated once the whole body is read: the real servers inherit from it."""
    draft.real_nodes.append(node)


VIRTUAL_SERVER: dict[str, Rule] = {
    "delay_loop": Value("delay_loop", number, limits.DELAY_LOOP_MIN, limits.DELAY_LOOP_MAX),
    **{keyword: lb_algo for keyword in limits.KEEPALIVED_SCHEDULER_KEYWORDS},
    **{keyword: forwarding for keyword in limits.KEEPALIVED_LB_KIND_KEYWORDS},
    "persistence_timeout": persistence_timeout,
    "persistence_granularity": persistence_granularity,
    "protocol": Choice("protocol", str.upper, limits.PROTOCOLS, "unknown protocol {value!r}"),
    "ops": Flag("ops"),
    # check_parser.c pengine_handler() takes any name; the kernel then needs ip_vs_pe_NAME.
    "persistence_engine": Choice("persistence_engine", str, limits.PERSISTENCE_ENGINES,
                                 "IPVS has no persistence engine {value!r} (Linux has "
                                 + ", ".join(limits.PERSISTENCE_ENGINES) + ")"),
    **{keyword: sched_flag_keyword for keyword in SCHED_FLAG_KEYWORDS},
    "ip_family": lambda ctx, node, draft: ip_family(ctx, node, draft),
    "inhibit_on_failure": Flag("inhibit_on_failure"),
    "quorum": Value("quorum", int, 1, limits.QUORUM_MAX),
    "hysteresis": Value("hysteresis", int, 0, limits.QUORUM_MAX),
    **rules_for(("quorum_up", "quorum_down"), NotifyCommand),
    "ha_suspend": Flag("ha_suspend"),
    "omega": Flag("omega"),  # policy/omega.py: the down scripts at stop, as keepalived
    "sorry_server": sorry_server,
    "sorry_server_lvs_method": sorry_server_lvs_method,
    "sorry_server_inhibit": sorry_server_inhibit,
    **CHECKER_DEFAULTS,
    "weight": default_weight,
    "real_server": real_server_node,
    "smtp_alert": smtp_alert,  # smtp.py
}


# ---- virtual_server_group ------------------------------------------------------------------

def virtual_server_group(ctx: Context, node: Node) -> None:
    """Read before any virtual_server, which may name a group defined after it."""
    name = ctx.one(node)
    if name is None:
        return
    members: list[GroupMember] = []
    for entry in ctx.block(node):
        if entry.keyword == "fwmark":
            value = ctx.one(entry, int, 1, limits.FWMARK_MAX)
            if value is not None:
                members.append(GroupMember({"fwmark": value}, entry))
            continue
        addresses = address_range(ctx, entry)
        if addresses is None:
            continue
        port = None
        if entry.args:
            try:
                port = int(entry.values[0])
            except ValueError:
                ctx.skip(entry, f"bad port {entry.values[0]!r}")
                continue
        members.extend(GroupMember({"address": a, "port": port}, entry) for a in addresses)
    ctx.state.vs_groups[name] = members
    ctx.state.vs_group_texts[name] = vs_group.member_texts(ctx, node)


def address_range(ctx: Context, entry: Node) -> list[str] | None:
    """`192.0.2.1-10` (last octet / last group) expanded; a single address as is."""
    text = entry.keyword
    if "-" not in text:
        try:
            return [str(ipaddress.ip_address(text))]
        except ValueError:
            ctx.skip(entry, "not an IP address")
            return None
    first, _, last = text.rpartition("-")
    try:
        start = ipaddress.ip_address(first)
        if start.version == 4:
            end_value = (int(start) & ~0xFF) | int(last)
        else:
            end_value = (int(start) & ~0xFFFF) | int(last, 16)
    except ValueError:
        ctx.skip(entry, "not an address range")
        return None
    count = end_value - int(start) + 1
    if count < 1:
        ctx.skip(entry, "empty address range")
        return None
    if count > MAX_GROUP_EXPANSION:
        ctx.skip(entry, f"range of {count} addresses; haipvs expands at most "
                 f"{MAX_GROUP_EXPANSION} (list them as separate virtual servers)")
        return None
    return [str(ipaddress.ip_address(int(start) + i)) for i in range(count)]


# ---- virtual_server ------------------------------------------------------------------------

def virtual_server(ctx: Context, node: Node) -> None:
    """`virtual_server ADDRESS PORT`, `virtual_server fwmark N` or `virtual_server group
    NAME`."""
    values = node.values
    if values[:1] == ["group"]:
        if len(values) < 2 or values[1] not in ctx.state.vs_groups:
            ctx.skip(node, f"virtual_server_group {values[1:2]} is not defined")
            return
        members = ctx.state.vs_groups[values[1]]
        if not members:
            ctx.skip(node, f"virtual_server_group {values[1]} is empty")
            return
        # check_data.c validate_check_config(): one address entry without a port makes the
        # whole group persistent (each member here is its own haipvs virtual server).
        portless = next((m.node for m in members
                         if "fwmark" not in m.head and not m.head.get("port")), None)
        texts = ctx.state.vs_group_texts.get(values[1], [])
        problem = vs_group.group_problem(texts)
        if problem is None:  # kept as one haipvs virtual server with group:
            vs = virtual_server_body(ctx, node, vs_group.group_head(texts), portless)
            if vs is not None:
                vs = vs_group.as_group(vs, values[1], texts)
                vs.above.append(f"virtual_server group {values[1]} from {node.where}")
                ctx.state.virtual_servers.append(vs)
            return
        ctx.changed(node, f"virtual_server_group {values[1]}: {problem}: translated as one "
                    "virtual server per member")
        for member in members:
            add_virtual_server(ctx, node, member.head, f"virtual_server group {values[1]} "
                               f"member at {member.node.where}", portless)
        return
    if values[:1] == ["fwmark"]:
        mark = ctx.one(Node("fwmark", node.args[1:], None, node.file, node.line), int,
                       1, limits.FWMARK_MAX)
        if mark is not None:
            add_virtual_server(ctx, node, {"fwmark": mark}, None)
        return
    if not values:
        ctx.skip(node, "needs an address and port, fwmark N or group NAME")
        return
    try:
        address = str(ipaddress.ip_address(values[0].strip("[]")))
    except ValueError:
        ctx.skip(node, f"bad address {values[0]!r}")
        return
    port = None
    if len(values) > 1:
        try:
            port = int(values[1])
        except ValueError:
            ctx.skip(node, f"bad port {values[1]!r}")
            return
    add_virtual_server(ctx, node, {"address": address, "port": port}, None)


def service_key(vs: dict[str, Any]) -> tuple[Any, ...]:
    return (vs.get("protocol", limits.DEFAULT_PROTOCOL), vs.get("address"), vs.get("port"),
            vs.get("fwmark"))


def add_virtual_server(ctx: Context, node: Node, head: dict[str, Any],
                       origin: str | None, portless: Node | None = None) -> None:
    vs = virtual_server_body(ctx, node, head, portless)
    if vs is None:
        return
    key = service_key(vs)
    if any(service_key(other) == key for other in ctx.state.virtual_servers):
        ctx.skip(node, "this virtual server is already defined; keepalived uses the first")
        return
    vs.above.append(origin or f"virtual_server from {node.where}")
    ctx.state.virtual_servers.append(vs)


def virtual_server_body(ctx: Context, node: Node, head: dict[str, Any],
                        portless: Node | None = None) -> Block | None:
    draft = VirtualServerDraft(fields=dict(head))
    f = draft.fields
    if f.get("port") is None:
        f.pop("port", None)
    for child in ctx.block(node):
        draft.sources[child.keyword] = child
        ctx.apply(VIRTUAL_SERVER, child, draft)
    if draft.sorry_kind is not None and "sorry_server" in f:
        f["sorry_server"]["lb_kind"] = draft.sorry_kind
    algo = f.get("lb_algo", limits.DEFAULT_SCHEDULER)
    sched_flags = []
    for name, child in draft.flags:
        flag = sched_flag(ctx, name, algo, child)
        if flag is not None and flag not in sched_flags:
            sched_flags.append(flag)
    if sched_flags:
        f["sched_flags"] = sched_flags
    comments: dict[str, str] = {}
    if draft.granularity_made_persistent is not None and "persistence_timeout" not in \
            draft.sources:
        ctx.changed(draft.granularity_made_persistent, "without persistence_timeout: "
                    "keepalived makes the service persistent for "
                    f"{limits.DEFAULT_PERSISTENCE_TIMEOUT} s (check_parser.c pgr_handler()), "
                    "and so does this translation")
        comments["persistence_timeout"] = "keepalived's default, set by persistence_granularity"
    if "persistence_timeout" not in f and (portless is not None or (
            "address" in f and not f.get("port"))):
        # check_data.c validate_check_config(): "zero port only valid for persistent
        # services - setting" (IPVS_SVC_PERSISTENT_TIMEOUT).
        f["persistence_timeout"] = limits.DEFAULT_PERSISTENCE_TIMEOUT
        ctx.changed(portless or node, "no port (all ports) without persistence: keepalived "
                    f"makes the service persistent for {limits.DEFAULT_PERSISTENCE_TIMEOUT} s, "
                    "and so does this translation")
        comments["persistence_timeout"] = "keepalived's default for a service without a port"
    reals = []
    seen: set[tuple[str, Any]] = set()
    family = family_of(f["address"]) if "address" in f else f.get("ip_family")
    for rs_node in draft.real_nodes:
        rs = real_server(ctx, rs_node, f, draft.defaults, draft.tun, draft.rs_weight)
        if rs is None:
            continue
        if (rs.get("lb_kind") or f.get("lb_kind")) != "TUN":
            # check_parser.c rs_end_handler(): only TUN may mix families; the first real
            # server sets a fwmark service's family.
            if family is None:
                family = family_of(rs["address"])
            elif family_of(rs["address"]) != family:
                ctx.skip(rs_node, f"an IPv{family_of(rs['address'])} real server in an "
                         f"IPv{family} service: keepalived skips it too (only TUN may mix)")
                continue
        rs_key = (rs["address"], rs.get("port"))
        if rs_key in seen:
            ctx.skip(rs_node, "this real server is already listed")
            continue
        seen.add(rs_key)
        reals.append(rs)
    if "persistence_engine" in f and "persistence_timeout" not in f:
        # keepalived hands it to IPVS, which consults it only for persistent services.
        ctx.skip(draft.sources["persistence_engine"], "no effect without persistence "
                 "(IPVS uses the engine only for persistent services); haipvs needs both")
        del f["persistence_engine"]
    if not reals:
        # check_data.c validate_check_config(): "has no real servers - ignoring".
        ctx.skip(node, "no real server is left: keepalived ignores such a virtual server "
                 "(programs nothing), and so does this translation")
        return None
    f["real_servers"] = reals
    if "address" in f and "protocol" not in f:
        # check_data.c validate_check_config(): "no protocol set - defaulting to UDP" (the
        # kernel's default for protocol 0); haipvs' own default is TCP.
        f["protocol"] = "UDP"
        ctx.changed(node, "no protocol: keepalived 2.2.7 makes the service UDP ('no protocol "
                    "set - defaulting to UDP'), and so does this translation; add "
                    "`protocol TCP` if you meant TCP", "virtual_server")
    if f.get("ops") and f.get("protocol", limits.DEFAULT_PROTOCOL) != "UDP":
        ctx.skip(draft.sources["ops"], "ops applies only to UDP services")
        del f["ops"]
    family = sorry_port(ctx, f, draft.sorry_node, comments, family)
    check_quorum(ctx, f, draft.sources.get("quorum", node))
    check_hysteresis(ctx, f, draft.sources)
    if "fwmark" in f and "ip_family" not in f and (family or all(
            ":" in r["address"] for r in reals)) and (family or 6) == 6:
        # keepalived takes a fwmark service's family from its first non-TUN real server
        # (rs_end_handler()), else its sorry server (vs_end_handler()).
        f["ip_family"] = 6
        comments["ip_family"] = "from the real servers' addresses"
    vs = Block(ordered(f, VS_ORDER))
    vs.notes.update(comments)
    return vs


def family_of(address: str) -> int:
    return 6 if ":" in address else 4


def sorry_port(ctx: Context, f: dict[str, Any], node: Node | None,
               comments: dict[str, str], family: int | None) -> int | None:
    """The sorry server's port as keepalived programs it (check_data.c
    validate_check_config(), ipvswrapper.c ipvs_cmd()): DR/TUN use the service's port (none
    for a fwmark service); NAT keeps its own, or takes the service's."""
    sorry = f.get("sorry_server")
    if sorry is None or node is None:
        return family
    kind = sorry.get("lb_kind") or f.get("lb_kind", limits.DEFAULT_LB_KIND)
    if kind != "TUN" and family is None:
        family = family_of(sorry["address"])
    if kind != "TUN" and family != family_of(sorry["address"]):
        # check_parser.c vs_end_handler(): "Address family of virtual server and sorry
        # server ... don't match - skipping sorry server."
        ctx.skip(node, f"an IPv{family_of(sorry['address'])} sorry server in an IPv{family} "
                 "service: keepalived skips it too (only TUN may mix)")
        del f["sorry_server"]
        return family
    port, vs_port = sorry.get("port"), f.get("port")
    if "fwmark" in f:
        if kind != "NAT" and port:
            del sorry["port"]
            ctx.changed(node, f"port {port} dropped: keepalived clears the port of a {kind} "
                        "sorry server of a fwmark service (the packet keeps its own)")
        elif kind == "NAT" and port is None:
            sorry["port"] = 0
            comments["sorry_server"] = "port 0: IPVS keeps the packet's destination port"
        return family
    if port is None and vs_port:
        sorry["port"] = vs_port
        comments["sorry_server"] = "keepalived uses the virtual server's port"
    elif kind != "NAT" and vs_port and port != vs_port:
        sorry["port"] = vs_port
        ctx.changed(node, f"port {port} -> {vs_port}: keepalived programs a {kind} sorry "
                    "server with the service's port, as haipvs does")
    return family


def check_quorum(ctx: Context, f: dict[str, Any], node: Node) -> None:
    """check_data.c validate_check_config(): "quorum ... exceeds total weight of real
    servers ..., reducing quorum" to that total. `node` is the quorum statement, or the
    virtual_server's when the quorum is keepalived's default, 1."""
    quorum = f.get("quorum", 1)
    total = sum(rs.get("weight", 1) for rs in f.get("real_servers", ()))
    if quorum <= total:
        return
    if total >= 1:
        f["quorum"] = total
        ctx.changed(node, f"quorum {quorum} exceeds the total weight of the real "
                    f"servers, {total}: keepalived lowers it to {total}, and so does this "
                    "translation (haipvs refuses a quorum it could never reach)")
        return
    f.pop("quorum", None)
    ctx.changed(node, f"quorum {quorum} with every real server at weight 0: "
                "keepalived lowers it to 0 and never loses quorum (the sorry server is never "
                "used); haipvs' lowest quorum is 1, so with live weight 0 it counts the "
                "quorum lost and puts the sorry server in")


def check_hysteresis(ctx: Context, f: dict[str, Any], sources: dict[str, Node]) -> None:
    """haipvs needs hysteresis < quorum; keepalived lowers it the same way (check_data.c
    validate_check_config(): "hysteresis >= quorum; setting hysteresis to quorum - 1")."""
    hysteresis = f.get("hysteresis")
    quorum = f.get("quorum", 1)
    if hysteresis is None or hysteresis < quorum:
        return
    f["hysteresis"] = quorum - 1
    ctx.changed(sources["hysteresis"], f"hysteresis {hysteresis} is not below quorum "
                f"{quorum}: keepalived sets it to {quorum - 1}, and so does this translation")


def sched_flag(ctx: Context, name: str, algo: str, node: Node) -> str | None:
    """The haipvs flag for a keepalived flag keyword under scheduler `algo`, or None."""
    if name.startswith(("sh-", "mh-")):
        if name[:2] != algo:
            ctx.skip(node, f"{name} applies only to the {name[:2]} scheduler")
            return None
        return name
    if algo not in ("sh", "mh") or name == "flag-3":
        ctx.skip(node, f"{name} has no meaning haipvs can set with the {algo} scheduler")
        return None
    return f"{algo}-{'fallback' if name == 'flag-1' else 'port'}"
