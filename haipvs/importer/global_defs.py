"""keepalived's global_defs -> haipvs `global:` (and defaults for every vrrp_instance).

keepalived/core/global_parser.c reads these keywords; the ones haipvs has no use for are
reported with the reason in reasons.WHY.
"""

from __future__ import annotations

from typing import Any

from haipvs import limits
from haipvs.importer.grammar import Node
from haipvs.importer.knobs import GLOBAL_RULES as KNOB_GLOBAL_RULES
from haipvs.importer.notify_extras import GLOBAL_RULES as NOTIFY_EXTRAS
from haipvs.importer.process import GLOBAL_DEFS as PROCESS_RULES
from haipvs.importer.rules import SECONDS_MAX, Context, Rule, Skip, Value, number
from haipvs.importer.script_users import (
    User,
    enable_script_security,
    rs_init_notifies,
    script_parts,
    unknown_user_or_group,
    with_user,
)
from haipvs.importer.smtp import GLOBAL_RULES as SMTP_GLOBAL_RULES
from haipvs.importer.state import GlobalDefs
from haipvs.importer.strict import GLOBAL_RULES as STRICT_GLOBAL_RULES
from haipvs.importer.sync_daemon import lvs_sync_daemon
from haipvs.importer.track_process import GLOBAL_RULES as TRACK_PROCESS_GLOBAL_RULES
from haipvs.importer.vmac import GLOBAL_RULES as VMAC_GLOBAL_RULES

LVS_TIMEOUTS = ("tcp", "tcpfin", "udp")


def garp_convert(name: str) -> Any:
    """Counts are integers; delays and the refresh interval are seconds."""
    return int if name in limits.GARP_COUNT_KEYS else number


def global_garp(name: str) -> Rule:
    """`vrrp_garp_*`: a default for every vrrp_instance's `garp:` (applied once all are read)."""
    convert = garp_convert(name)

    def rule(ctx: Context, node: Node, draft: GlobalDefs) -> None:
        value = ctx.one(node, convert, 0, SECONDS_MAX)
        if value is not None:
            draft.garp[name] = value
    return rule


def vrrp_version(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    value = ctx.one(node, int, min(limits.VRRP_VERSIONS), max(limits.VRRP_VERSIONS))
    if value is not None:
        draft.version = value


def lvs_timeouts(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    """`lvs_timeouts tcp N tcpfin N udp N`: name/value pairs."""
    values = node.values
    timeouts: dict[str, int] = {}
    i = 0
    while i < len(values):
        name = values[i]
        if name in LVS_TIMEOUTS and i + 1 < len(values):
            try:
                timeouts[name] = int(values[i + 1])
            except ValueError:
                ctx.skip(node, f"bad {name} timeout {values[i + 1]!r}")
            i += 2
        else:
            ctx.skip(node, f"unknown timeout {name!r} (haipvs has tcp, tcpfin, udp)")
            i += 1
    if timeouts:
        draft.fields["lvs_timeouts"] = timeouts


def lvs_flush(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    """`lvs_flush` -> global.lvs_flush, at start only as in keepalived (check_daemon.c
    start_check), but over the services haipvs owns only (haipvs/ipvs/flush.py)."""
    draft.fields["lvs_flush"] = True
    ctx.changed(node, "at start haipvs deletes and re-creates only the IPVS services it owns; "
                "keepalived flushes the whole table, other owners' services included")


FIFO_KEYWORDS = ("notify_fifo", "vrrp_notify_fifo", "lvs_notify_fifo")
OWNER_DROPPED = ("keepalived 2.2.7 ignores this FIFO (global_parser.c notify_fifo: "
                 "\"Invalid user/group for fifo - ignoring\"): {why}")


def notify_fifo(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    """`[vrrp_|lvs_]notify_fifo FIFO [username [groupname]]` (global_parser.c
    notify_fifo(): the first one is kept, "already specified - ignoring"; the words after
    the path are the owner a FIFO keepalived makes is given, lib/notify.c fifo_open)."""
    if not _first_fifo_setting(ctx, node, draft):
        return
    path = node.values[0]
    if not path.startswith("/"):
        ctx.skip(node, "haipvs needs an absolute path")
        return
    owner = None
    if len(node.values) > 1:
        user, group = node.values[1], node.values[2] if len(node.values) > 2 else None
        missing = unknown_user_or_group(user, group)
        if missing is not None:
            # checked before the name is kept: a later line may still set this FIFO
            ctx.skip(node, OWNER_DROPPED.format(why=f"{missing} does not exist on this host"))
            return
        owner = user if group is None else f"{user}:{group}"
    draft.fields[node.keyword] = path
    draft.fifo_nodes[node.keyword] = node
    if owner is not None and owner != draft.fields.get("script_user"):
        draft.fields[f"{node.keyword}_owner"] = owner


def notify_fifo_script(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    """`[vrrp_|lvs_]notify_fifo_script STRING [username [groupname]]`: run with the FIFO's
    path appended (global_parser.c notify_fifo_script(), first one kept)."""
    if not _first_fifo_setting(ctx, node, draft):
        return
    # the words after the command are the script's user and group (notify_script_init);
    # one keepalived ignores (unknown user) leaves the next line its chance, as there
    parts = script_parts(ctx, node)
    if parts is not None:
        draft.fields[node.keyword] = with_user(*parts, draft.fields.get("script_user"))
        draft.fifo_nodes[node.keyword] = node


def _first_fifo_setting(ctx: Context, node: Node, draft: GlobalDefs) -> bool:
    if not node.args:
        ctx.skip(node, "needs a value")
        return False
    if node.keyword in draft.fifo_nodes:
        ctx.skip(node, f"already set at {draft.fifo_nodes[node.keyword].where}; keepalived "
                 "keeps the first")
        return False
    return True


def finish_fifos(ctx: Context, draft: GlobalDefs) -> None:
    """keepalived ignores a FIFO script without its FIFO (nothing to run it on); haipvs
    refuses one, so it is left out."""
    for fifo in FIFO_KEYWORDS:
        script = f"{fifo}_script"
        if script in draft.fields and fifo not in draft.fields:
            ctx.skip(draft.fifo_nodes[script], f"{script} without {fifo}: keepalived never "
                     "runs it either")
            del draft.fields[script]


GLOBAL_DEFS: dict[str, Rule] = {
    "router_id": Value("router_id"),
    "lvs_timeouts": lvs_timeouts,
    "lvs_sync_daemon": lvs_sync_daemon,
    "lvs_flush": lvs_flush,
    "vrrp_version": vrrp_version,
    **STRICT_GLOBAL_RULES,  # vrrp_strict, nftables* (strict.py)
    **VMAC_GLOBAL_RULES,  # vmac_prefix, vmac_addr_prefix (vmac.py)
    **SMTP_GLOBAL_RULES,  # notification_email, smtp_server, smtp_alert* (smtp.py)
    **NOTIFY_EXTRAS,  # vrrp_notify_priority_changes (notify_extras.py)
    "script_user": User("script_user"),
    # global_parser.c vrrp_prio_handler / checker_prio_handler: a nice value, -20 to 19
    "vrrp_priority": Value("vrrp_priority", int, limits.NICE_MIN, limits.NICE_MAX),
    "checker_priority": Value("checker_priority", int, limits.NICE_MIN, limits.NICE_MAX),
    **PROCESS_RULES,  # startup_script, shutdown_script, their timeouts (process.py)
    "enable_script_security": enable_script_security,
    "rs_init_notifies": rs_init_notifies,
    **{keyword: notify_fifo for keyword in FIFO_KEYWORDS},
    **{f"{keyword}_script": notify_fifo_script for keyword in FIFO_KEYWORDS},
    "fifo_write_vrrp_states_on_reload": Skip("haipvs writes no state lines to the FIFOs on "
                                             "reload"),
    **{limits.GLOBAL_GARP_PREFIX + keyword: global_garp(name)
       for keyword, name in limits.GARP_RENAMES.items()},
    **KNOB_GLOBAL_RULES,  # vrrp_garp/gna_interval, vrrp_mcast_group4/6 (knobs.py)
    **TRACK_PROCESS_GLOBAL_RULES,  # process_monitor_rcv_bufs[_force] (track_process.py)
}


def global_defs(ctx: Context, node: Node) -> None:
    ctx.apply_all(GLOBAL_DEFS, node, ctx.state.global_defs)
