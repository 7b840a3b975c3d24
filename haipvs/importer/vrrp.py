"""keepalived's vrrp_instance -> a haipvs `vrrp_instances:` entry.

Keywords as keepalived/vrrp/vrrp_parser.c reads them; the ranges come from haipvs.limits, so
the importer and the config agree on what a VRID, priority or advert_int may be.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from haipvs import limits
from haipvs.dataclass_lean import dataclass
from haipvs.importer.bfd import INSTANCE_RULES as BFD_INSTANCE_RULES
from haipvs.importer.emit import Block
from haipvs.importer.global_defs import garp_convert
from haipvs.importer.grammar import Node
from haipvs.importer.knobs import INSTANCE_RULES as KNOB_INSTANCE_RULES
from haipvs.importer.notify_extras import INSTANCE_ORDER as NOTIFY_EXTRAS_ORDER
from haipvs.importer.notify_extras import INSTANCE_RULES as NOTIFY_EXTRAS
from haipvs.importer.routes import VRRP_INSTANCE_RULES
from haipvs.importer.rules import (
    SECONDS_MAX,
    Choice,
    Context,
    Flag,
    Rule,
    Value,
    address,
    number,
    ordered,
    rules_for,
)
from haipvs.importer.script_users import NotifyCommand
from haipvs.importer.smtp import smtp_alert
from haipvs.importer.state import Draft, Instance
from haipvs.importer.strict import INSTANCE_RULES as STRICT_INSTANCE_RULES
from haipvs.importer.track_process import INSTANCE_RULES as TRACK_PROCESS_RULES
from haipvs.importer.track_process import tracker_weight
from haipvs.importer.vmac import INSTANCE_RULES as VMAC_INSTANCE_RULES
from haipvs.importer.vmac import complete as vmac_complete

NOTIFY = ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")
INSTANCE_ORDER = ("name", "state", "interface", "use_vmac", "vmac_name", "vmac_xmit_base",
                  "virtual_router_id", "priority", "advert_int",
                  "version", "preempt", "preempt_delay", "accept", "strict_mode",
                  "authentication", "unicast_src_ip", "unicast_peers",
                  "unicast_ttl", "mcast_dst_ip", "dont_track_primary",  # knobs.py
                  "virtual_ipaddress",
                  "virtual_ipaddress_excluded",
                  "virtual_routes", "virtual_rules", "garp", "track_interface",
                  "track_script", "track_file", "track_process", "track_bfd", *NOTIFY,
                  *NOTIFY_EXTRAS_ORDER, "smtp_alert")
# VIP options (ip-address(8) words) haipvs leaves at the kernel's defaults, each with a value.
VIP_KERNEL_OPTIONS = ("brd", "broadcast", "scope", "preferred_lft", "valid_lft", "metric")
VIP_FLAGS_NOT_KEPT = ("no_track", "home", "nodad", "noprefixroute", "autojoin")


@dataclass
class InstanceDraft(Draft):
    name: str = ""
    sources: dict[str, Node] = field(default_factory=dict)  # key -> the statement it came from
    comments: dict[str, str] = field(default_factory=dict)
    garp: dict[str, Any] = field(default_factory=dict)
    unicast_node: Node | None = None  # the unicast_peer block, to report if it is dropped
    ah_node: Node | None = None  # `auth_type AH`, which keepalived lets start only as BACKUP
    vip_nodes: dict[str, Node] = field(default_factory=dict)  # VIP address -> its line


# ---- rules -------------------------------------------------------------------------------

def mcast_src_ip(ctx: Context, node: Node, draft: InstanceDraft) -> None:
    """haipvs has one source address for both multicast and unicast adverts."""
    value = ctx.one(node, address)
    if value is not None:
        draft.fields["unicast_src_ip"] = value
        draft.comments["unicast_src_ip"] = f"mcast_src_ip at {node.where}"
        ctx.changed(node, "became unicast_src_ip, which haipvs also uses as the source of "
                    "multicast adverts")


def unicast_peer(ctx: Context, node: Node, draft: InstanceDraft) -> None:
    peers = []
    for peer in ctx.block(node):
        try:
            peers.append(address(peer.keyword))
        except ValueError:
            ctx.skip(peer, "not an IP address")
            continue
        if peer.args:
            ctx.skip(peer, f"{' '.join(peer.values)}: per-peer options are not translated")
    draft.fields["unicast_peers"] = peers
    draft.unicast_node = node


def authentication(ctx: Context, node: Node, draft: InstanceDraft) -> None:
    kind, password = "PASS", None
    for child in ctx.block(node):
        if child.keyword == "auth_type":
            kind = (ctx.one(child) or "PASS").upper()
            if kind != "PASS":
                ctx.skip(child, f"{kind}: haipvs has only simple-text PASS authentication")
                if kind == "AH":
                    draft.ah_node = child
                return
        elif child.keyword == "auth_pass":
            password = ctx.one(child)
            octets = limits.AUTH_PASS_MAX_OCTETS
            if password is not None and len(password.encode()) > octets:
                ctx.changed(child, "truncated to 8 octets, as keepalived does")
                password = password.encode()[:octets].decode(errors="ignore")
        else:
            ctx.skip(child)
    if password is None:
        ctx.skip(node, "no auth_pass")
        return
    draft.fields["authentication"] = {"type": kind, "password": password}


def virtual_ipaddress(ctx: Context, node: Node, draft: InstanceDraft) -> None:
    """`ADDRESS[/LEN] [dev IF] [label L] ...`, one family per instance."""
    vips: list[Any] = []
    family: int | None = None
    for entry in ctx.block(node):
        try:
            interface = ipaddress.ip_interface(entry.keyword)
        except ValueError:
            ctx.skip(entry, "not an IP address")
            continue
        if family is None:
            family = interface.version
        elif interface.version != family:
            ctx.skip(entry, f"IPv{interface.version} VIP in an IPv{family} instance; "
                     "haipvs instances are single-family: put it in its own instance")
            continue
        if str(interface.ip) in draft.vip_nodes:
            # keepalived 2.2.7 ignores the second copy of an address (issue 14, keepalived -t).
            ctx.skip(entry, f"{interface.ip} is already listed at "
                     f"{draft.vip_nodes[str(interface.ip)].where}; keepalived ignores the "
                     "second copy too")
            continue
        draft.vip_nodes[str(interface.ip)] = entry
        vip: dict[str, str] = {"address": entry.keyword}
        values = entry.values
        i = 0
        while i < len(values):
            word = values[i]
            if word in ("dev", "label") and i + 1 < len(values):
                vip[word] = values[i + 1]
                i += 2
            elif word in VIP_KERNEL_OPTIONS and i + 1 < len(values):
                ctx.skip(entry, f"{word} {values[i + 1]}: haipvs adds VIPs with the kernel's "
                         "defaults")
                i += 2
            elif word in VIP_FLAGS_NOT_KEPT:
                ctx.skip(entry, f"{word}: haipvs has no such VIP option")
                i += 1
            else:
                ctx.skip(entry, f"unknown VIP option {word!r}")
                i += 1
        if "label" in vip and interface.version == 6:
            ctx.skip(entry, "label: IPv6 addresses have no labels")
            del vip["label"]
        vips.append(vip["address"] if len(vip) == 1 else vip)
    draft.fields["virtual_ipaddress"] = vips


def garp(name: str) -> Rule:
    convert = garp_convert(name)

    def rule(ctx: Context, node: Node, draft: InstanceDraft) -> None:
        value = ctx.one(node, convert, 0, SECONDS_MAX)
        if value is not None:
            draft.garp[name] = value
    return rule


def tracked(keyword: str) -> Rule:
    """track_interface / track_script / track_file: `NAME [weight W]` per line. Each item's
    statement is kept as a source, to report it if what it names is not translated."""
    what = keyword[len("track_"):]

    def rule(ctx: Context, node: Node, draft: InstanceDraft) -> None:
        items: list[Any] = []
        for entry in ctx.block(node):
            draft.sources[f"{keyword}:{entry.keyword}"] = entry
            item: dict[str, Any] = {"name": entry.keyword}
            values = entry.values
            i = 0
            while i < len(values):
                if values[i] == "weight" and i + 1 < len(values):
                    weight = tracker_weight(ctx, entry, values[i + 1])
                    if weight is not None:
                        item["weight"] = weight
                    i += 2
                elif (values[i] == "reverse" and keyword == "track_interface"
                      and i == 2 and "weight" in item):
                    # vrrp_track.c alloc_track_if(): `weight W reverse`
                    item["reverse"] = True
                    i += 1
                else:
                    ctx.skip(entry, f"{values[i]}: haipvs has no such track_{what} option")
                    i += 1
            items.append(item["name"] if len(item) == 1 else item)
        draft.fields[keyword] = items
    return rule


def lvs_sync_daemon_interface(ctx: Context, node: Node, draft: InstanceDraft) -> None:
    """keepalived's old spelling of global_defs lvs_sync_daemon, given in the instance."""
    value = ctx.one(node)
    global_defs = ctx.state.global_defs
    if value is not None and global_defs.sync_daemon_node is not None:
        ctx.skip(node, f"lvs_sync_daemon is already set at {global_defs.sync_daemon_node.where}"
                 "; keepalived keeps the first (vrrp_parser.c vrrp_lvs_syncd_handler())")
    elif value is not None:
        global_defs.fields["lvs_sync_daemon"] = {"interface": value,
                                                 "vrrp_instance": draft.name}
        global_defs.sync_daemon_node = node
        ctx.changed(node, "became global.lvs_sync_daemon")


VERSION = Value("version", int, min(limits.VRRP_VERSIONS), max(limits.VRRP_VERSIONS))
VRRP_INSTANCE: dict[str, Rule] = {
    "virtual_router_id": Value("virtual_router_id", int, limits.VRID_MIN, limits.VRID_MAX),
    "priority": Value("priority", int, limits.PRIORITY_MIN, limits.PRIORITY_MAX),
    "advert_int": Value("advert_int", number, limits.ADVERT_INT_MIN, limits.ADVERT_INT_MAX),
    "vrrp_version": VERSION,
    "version": VERSION,
    "preempt_delay": Value("preempt_delay", number, 0, limits.PREEMPT_DELAY_MAX),
    "state": Choice("state", str.upper, ("MASTER", "BACKUP"), "unknown state {value!r}"),
    "interface": Value("interface"),
    "nopreempt": Flag("preempt", False),
    "preempt": Flag("preempt", True),
    "authentication": authentication,
    "unicast_src_ip": Value("unicast_src_ip", address),
    "mcast_src_ip": mcast_src_ip,
    "unicast_peer": unicast_peer,
    "virtual_ipaddress": virtual_ipaddress,
    **VRRP_INSTANCE_RULES,
    **{keyword: garp(name) for keyword, name in limits.GARP_RENAMES.items()},
    **rules_for(("track_interface", "track_script", "track_file"), tracked),
    **rules_for(NOTIFY, NotifyCommand),
    "lvs_sync_daemon_interface": lvs_sync_daemon_interface,
    **STRICT_INSTANCE_RULES,  # accept, no_accept, strict_mode (strict.py)
    "smtp_alert": smtp_alert,  # smtp.py
    **NOTIFY_EXTRAS,  # notify_deleted, notify_master_rx_lower_pri, ... (notify_extras.py)
    **KNOB_INSTANCE_RULES,  # unicast_ttl, mcast_dst_ip, dont_track_primary (knobs.py)
    **VMAC_INSTANCE_RULES,  # use_vmac, vmac_xmit_base, use_ipvlan (vmac.py)
    **TRACK_PROCESS_RULES,  # track_process (track_process.py)
    **BFD_INSTANCE_RULES,  # track_bfd (bfd.py)
}


# ---- the block -----------------------------------------------------------------------------

def vrrp_instance(ctx: Context, node: Node) -> None:
    name = ctx.one(node)
    if name is None:
        return
    if any(i.block["name"] == name for i in ctx.state.instances):
        # vrrp_parser.c vrrp_handler(): "vrrp instance %s already defined", skip_block().
        ctx.skip(node, f"vrrp_instance {name} is already defined; keepalived skips this "
                 "block and keeps the first")
        return
    draft = InstanceDraft(name=name)
    f = draft.fields
    for child in ctx.block(node):
        draft.sources[child.keyword] = child
        ctx.apply(VRRP_INSTANCE, child, draft)
    if draft.garp:
        f["garp"] = draft.garp
    missing = [k for k in ("interface", "virtual_router_id") if k not in f]
    if not f.get("virtual_ipaddress"):
        missing.append("virtual_ipaddress")
    if missing:
        ctx.skip(node, f"vrrp_instance {name} has no {', '.join(missing)}; haipvs needs them"
                 + ("" if missing != ["virtual_ipaddress"] else " (keepalived runs an "
                    "instance without VIPs: 'No VIP specified; at least one is sensible')"))
        return
    if duplicate_vrid(ctx, f, node):
        return
    check_source(ctx, f, draft)
    if f.get("unicast_peers") and "unicast_src_ip" not in f:
        assert draft.unicast_node is not None
        ctx.skip(draft.unicast_node, "haipvs needs unicast_src_ip with unicast peers "
                 "(keepalived guesses it from the interface); add both by hand")
        del f["unicast_peers"]
    ipv6_version(ctx, f, draft.sources)
    check_auth_version(ctx, f, draft.sources)
    vmac_complete(ctx, f, draft.sources, bool(ctx.state.global_defs.fields.get("vrrp_strict")))
    owner_defaults(ctx, f, draft)
    if draft.ah_node is not None and f.get("state") == "MASTER":
        # vrrp.c vrrp_complete_instance(): "Initial state master is incompatible with AH
        # authentication - clearing".
        f["state"] = "BACKUP"
        ctx.changed(draft.sources.get("state", draft.ah_node), "MASTER -> BACKUP: keepalived "
                    f"starts an instance with auth_type AH ({draft.ah_node.where}) as BACKUP, "
                    "and so does this translation (which drops AH)")
    preempt_rules(ctx, f, draft.sources)
    shared_vips(ctx, f, draft)
    if not f.get("virtual_ipaddress"):
        ctx.skip(node, f"vrrp_instance {name}: every VIP is another instance's; haipvs "
                 "needs at least one")
        return
    f["name"] = name
    instance = Block({k: v for k, v in ordered(f, INSTANCE_ORDER).items()
                      if v not in ([], None)})
    instance.notes.update(draft.comments)
    instance.above.append(f"vrrp_instance {name} from {node.where}")
    ctx.state.instances.append(Instance(instance, draft.sources))


def duplicate_vrid(ctx: Context, f: dict[str, Any], node: Node) -> bool:
    """Two instances with one VRID on one interface and family: keepalived refuses the
    VRRP configuration for multicast ("duplicate VRID conflict", vrrp.c), and haipvs
    refuses it in every case; the second is left out."""
    key = (f["interface"], is_ipv6(f), f["virtual_router_id"])
    for other in ctx.state.instances:
        block = other.block
        if (block["interface"], is_ipv6(block), block["virtual_router_id"]) == key:
            ctx.skip(node, f"virtual_router_id {key[2]} on {key[0]} is also vrrp_instance "
                     f"{block['name']}'s: keepalived reports a duplicate VRID conflict; "
                     "haipvs keeps the first")
            return True
    return False


def check_source(ctx: Context, f: dict[str, Any], draft: InstanceDraft) -> None:
    """An advert source of the other family, or one of the VIPs, is left out (haipvs
    refuses both; keepalived would then pick the interface's address), and with it the
    unicast peers (below), which haipvs cannot use without a source."""
    family = 6 if is_ipv6(f) else 4
    peers = f.get("unicast_peers") or []
    kept = [p for p in peers if (6 if ":" in p else 4) == family]
    if len(kept) != len(peers):
        assert draft.unicast_node is not None
        ctx.skip(draft.unicast_node, "peers of the other family left out: "
                 + ", ".join(p for p in peers if p not in kept))
        f["unicast_peers"] = kept
    source = f.get("unicast_src_ip")
    if source is None:
        return
    node = draft.sources.get("unicast_src_ip") or draft.sources["mcast_src_ip"]
    vips = {str(ipaddress.ip_interface(v if isinstance(v, str) else v["address"]).ip)
            for v in f.get("virtual_ipaddress", [])}
    if (6 if ":" in source else 4) != family:
        ctx.skip(node, f"an IPv{6 if family == 4 else 4} source for an IPv{family} instance")
    elif source in vips:
        ctx.skip(node, "a VIP as the advert source: haipvs needs the director's own address")
    else:
        return
    del f["unicast_src_ip"]
    draft.comments.pop("unicast_src_ip", None)


def owner_defaults(ctx: Context, f: dict[str, Any], draft: InstanceDraft) -> None:
    """vrrp.c vrrp_complete_instance(): without a priority, a MASTER is the address owner
    (VRRP_PRIO_OWNER, 255); without a state, priority 255 starts as MASTER."""
    if "priority" not in f and f.get("state") == "MASTER":
        f["priority"] = limits.PRIORITY_MAX
        draft.comments["priority"] = "keepalived's default for state MASTER"
        ctx.changed(draft.sources["state"], "MASTER without a priority: keepalived makes it "
                    f"the address owner, priority {limits.PRIORITY_MAX}, and so does this "
                    "translation")
    if "state" not in f and f.get("priority") == limits.PRIORITY_MAX:
        f["state"] = "MASTER"
        draft.comments["state"] = "keepalived's default for priority 255"


def ipv6_version(ctx: Context, f: dict[str, Any], sources: Mapping[str, Node]) -> None:
    """keepalived runs an IPv6 instance with an explicit `version 2` as VRRPv2 (vrrp.c
    changes it only in strict mode); haipvs speaks version 3 on IPv6."""
    if f.get("version") == 2 and is_ipv6(f):
        del f["version"]
        ctx.skip(sources.get("version") or sources["vrrp_version"], "version 2 on IPv6: "
                 "keepalived would send VRRPv2 adverts over IPv6; haipvs uses version 3")


def is_ipv6(f: dict[str, Any]) -> bool:
    return any(":" in str(v if isinstance(v, str) else v.get("address", ""))
               for v in f.get("virtual_ipaddress", []))


def preempt_rules(ctx: Context, f: dict[str, Any], sources: Mapping[str, Node]) -> None:
    """vrrp.c vrrp_complete_instance(): nopreempt is cleared at priority 255 ("incompatible
    with priority 255") and, like preempt_delay, with initial state MASTER ("will not work
    with initial state MASTER - clearing")."""
    why = None
    if f.get("priority") == limits.PRIORITY_MAX and f.get("preempt") is False:
        why = "nopreempt is incompatible with priority 255"
    elif f.get("state") == "MASTER" and f.get("preempt") is False:
        why = "nopreempt does not work with initial state MASTER"
    if why is not None:
        del f["preempt"]
        ctx.changed(sources["nopreempt"], f"{why}: keepalived clears it, and so does this "
                    "translation (the instance preempts)")
    if f.get("state") == "MASTER" and "preempt_delay" in f:
        del f["preempt_delay"]
        ctx.changed(sources["preempt_delay"], "preempt_delay does not work with initial "
                    "state MASTER: keepalived clears it, and so does this translation")


def shared_vips(ctx: Context, f: dict[str, Any], draft: InstanceDraft) -> None:
    """keepalived lets several instances hold one VIP (each adds and removes it with its own
    state, so it comes and goes when their states differ). haipvs gives a VIP one owner, so
    it stays with the first instance that lists it."""
    owners: dict[str, str] = {}
    for instance in ctx.state.instances:
        for vip in instance.block.get("virtual_ipaddress", []):
            text = vip if isinstance(vip, str) else vip["address"]
            owners.setdefault(str(ipaddress.ip_interface(text).ip), instance.block["name"])
    kept = []
    for vip in f.get("virtual_ipaddress", []):
        ip = str(ipaddress.ip_interface(vip if isinstance(vip, str) else vip["address"]).ip)
        if ip in owners:
            ctx.skip(draft.vip_nodes[ip], f"{ip} is also a VIP of vrrp_instance "
                     f"{owners[ip]!r}: keepalived adds and removes it from both (it flaps when "
                     "their states differ); haipvs gives a VIP one owner, the first")
        else:
            kept.append(vip)
    f["virtual_ipaddress"] = kept


def check_auth_version(ctx: Context, f: dict[str, Any], sources: Mapping[str, Node]) -> None:
    """Run once the version is known (the instance's own, or global_defs vrrp_version).
    VRRPv3 has no authentication (keepalived/vrrp/vrrp_parser.c ignores it too); a VRRPv2
    advert carries whole seconds (RFC 3768 §5.3.7), IPv6 instances being v3 anyway."""
    version = f.get("version", ctx.state.global_defs.version)
    if is_ipv6(f):
        version = 3  # IPv6 VRRP is version 3 (vrrp.c vrrp_complete_instance())
    if version == 3 and "authentication" in f:
        ctx.skip(sources["authentication"],
                 "VRRPv3 has no authentication; keepalived ignores it too")
        del f["authentication"]
    advert = f.get("advert_int")
    if advert is not None and version in (2, None) and not float(advert).is_integer():
        f["advert_int"] = max(limits.ADVERT_INT_V2_MIN, round(advert))
        ctx.changed(sources["advert_int"], f"{advert} rounded to {f['advert_int']}: "
                    "VRRPv2 adverts are whole seconds")
