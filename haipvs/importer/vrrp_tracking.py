"""keepalived's vrrp_script, vrrp_track_file and vrrp_sync_group, and the pass that ties
them to the vrrp_instances once every block is read (global_defs defaults, references to
what was not translated)."""

from __future__ import annotations

from haipvs import limits
from haipvs.importer.bfd import GROUP_RULES as BFD_GROUP_RULES
from haipvs.importer.emit import Block
from haipvs.importer.grammar import Node
from haipvs.importer.notes import Note
from haipvs.importer.notify_extras import SYNC_GROUP_RULES as NOTIFY_EXTRAS
from haipvs.importer.rules import (
    SECONDS_MAX,
    Command,
    Context,
    Draft,
    Rule,
    Skip,
    Value,
    number,
    rules_for,
)
from haipvs.importer.script_users import NotifyCommand, User
from haipvs.importer.smtp import smtp_alert
from haipvs.importer.strict import strict_rules
from haipvs.importer.track_process import GROUP_RULES as TRACK_PROCESS_GROUP_RULES
from haipvs.importer.vrrp import NOTIFY, check_auth_version, is_ipv6


def weight(ctx: Context, node: Node, draft: Draft) -> None:
    """`weight W [reverse]`: haipvs has the weight, not keepalived's reverse option."""
    if not node.args:
        ctx.skip(node, "needs a value")
        return
    try:
        value = int(node.values[0])
    except ValueError:
        ctx.skip(node, f"bad value {node.values[0]!r}")
        return
    if not limits.TRACKER_WEIGHT_MIN <= value <= limits.TRACKER_WEIGHT_MAX:
        ctx.skip(node, f"{value} is out of range "
                 f"{limits.TRACKER_WEIGHT_MIN}..{limits.TRACKER_WEIGHT_MAX}")
        return
    draft.fields["weight"] = value
    if len(node.values) > 1:
        ctx.skip(node, f"{' '.join(node.values[1:])}: haipvs has no reverse weights")


def absolute_file(ctx: Context, node: Node, draft: Draft) -> None:
    path = ctx.one(node)
    if path is not None and path.startswith("/"):
        draft.fields["file"] = path
    elif path is not None:
        ctx.skip(node, "haipvs needs an absolute path")


def sync_group_members(ctx: Context, node: Node, draft: Draft) -> None:
    """`group { VI_1 VI_2 }`: one name per line, or several on a line."""
    members = [c.keyword for c in ctx.block(node)]
    for c in node.children or []:
        if c.args:
            members.extend(c.values)
    draft.fields["group"] = members


VRRP_SCRIPT: dict[str, Rule] = {
    "script": Command("script"),
    **rules_for(("interval", "timeout"), lambda key: Value(key, number, 0.1, SECONDS_MAX)),
    **rules_for(("rise", "fall"), lambda key: Value(key, int, 1, 1000)),
    "weight": weight,
    "user": User(),
    "init_fail": Skip("haipvs scripts start as OK until they fail"),
}
VRRP_TRACK_FILE: dict[str, Rule] = {
    "file": absolute_file,
    "weight": weight,
    "init_file": Skip("haipvs does not create the file; a missing file reads as 0"),
}
VRRP_SYNC_GROUP: dict[str, Rule] = {
    "group": sync_group_members,
    **rules_for(NOTIFY, NotifyCommand),
    "smtp_alert": smtp_alert,  # smtp.py
    **NOTIFY_EXTRAS,  # notify_priority_changes (notify_extras.py)
    **TRACK_PROCESS_GROUP_RULES,  # track_process, given to the members (track_process.py)
    **BFD_GROUP_RULES,  # track_bfd, given to the members (bfd.py)
}


def named_block(ctx: Context, node: Node, table: dict[str, Rule]) -> Block | None:
    """A `KEYWORD NAME { ... }` block translated with `table`, starting with `name:`."""
    name = ctx.one(node)
    if name is None:
        return None
    fields = Block(name=name)
    ctx.apply_all(table, node, Draft(fields))
    return fields


def vrrp_script(ctx: Context, node: Node) -> None:
    script = named_block(ctx, node, VRRP_SCRIPT)
    if script is None:
        return
    if "script" not in script:
        ctx.skip(node, f"vrrp_script {script['name']} has no script")
        return
    if any(other["name"] == script["name"] for other in ctx.state.scripts):
        # vrrp_parser.c alloc_vrrp_script() keeps both; a track_script finds the first by
        # name (vrrp_data.c find_script_by_name()), and the unused one is disabled.
        ctx.skip(node, f"vrrp_script {script['name']} is already defined; keepalived uses "
                 "the first")
        return
    ctx.state.scripts.append(script)


def vrrp_track_file(ctx: Context, node: Node) -> None:
    entry = named_block(ctx, node, VRRP_TRACK_FILE)
    if entry is None:
        return
    if "file" not in entry:
        ctx.skip(node, f"vrrp_track_file {entry['name']} has no file")
        return
    ctx.state.track_files.append(entry)


def vrrp_sync_group(ctx: Context, node: Node) -> None:
    group = named_block(ctx, node, VRRP_SYNC_GROUP)
    if group is None:
        return
    if not group.get("group"):
        ctx.skip(node, f"vrrp_sync_group {group['name']} has no group {{ ... }}")
        return
    if any(other["name"] == group["name"] for other in ctx.state.sync_groups):
        # vrrp_parser.c vrrp_group_handler(): "vrrp sync group %s already defined".
        ctx.skip(node, f"vrrp_sync_group {group['name']} is already defined; keepalived "
                 "skips this block and keeps the first")
        return
    group.above.append(f"vrrp_sync_group from {node.where}")
    ctx.state.sync_groups.append(group)


# ---- once every block is read --------------------------------------------------------------

def finish_instances(ctx: Context) -> None:
    """Apply global_defs defaults; drop references to instances (and scripts, track files)
    that were not translated."""
    state = ctx.state
    global_defs = state.global_defs
    for instance in state.instances:
        block = instance.block
        if global_defs.garp:
            garp = dict(block.get("garp", {}))
            for name, value in global_defs.garp.items():
                garp.setdefault(name, value)
            block["garp"] = garp
            block.note("garp", "includes global_defs vrrp_garp_* settings")
        # vrrp.c vrrp_complete_instance(): global_defs vrrp_version is the default of IPv4
        # instances only (IPv6 ones are version 3).
        if global_defs.version is not None and "version" not in block and not is_ipv6(block):
            block["version"] = global_defs.version
            check_auth_version(ctx, block, instance.sources)
    # keepalived vrrp_strict / strict_mode: what keepalived clears or refuses (strict.py)
    vrrp_strict = bool(global_defs.fields.get("vrrp_strict"))
    state.instances[:] = [i for i in state.instances
                          if strict_rules(ctx, i.block, i.sources, vrrp_strict)]
    names = {i.block["name"] for i in state.instances}
    for group in state.sync_groups:
        kept = []
        for member in group["group"]:
            if member in names:
                kept.append(member)
            else:
                ctx.notes.append(Note("sync group", 0, member, "no translated vrrp_instance "
                                      "of that name; left out of the group"))
        group["group"] = kept
    state.sync_groups[:] = [g for g in state.sync_groups if g["group"]]
    sync = global_defs.fields.get("lvs_sync_daemon")
    if sync is not None and "vrrp_instance" not in sync:
        # check_daemon.c start_check: no instance, master and backup run, sync id 0.
        sync = None
    if sync is not None and sync["vrrp_instance"] not in names:
        node = global_defs.sync_daemon_node
        assert node is not None
        ctx.skip(node, f"names vrrp_instance {sync['vrrp_instance']!r}, which was not "
                 "translated")
        del global_defs.fields["lvs_sync_daemon"]
    elif sync is not None and "sync_id" not in sync:
        # vrrp.c: "If no syncid configured, use vrid" (of the named instance).
        owner = next(i.block for i in state.instances if i.block["name"] == sync["vrrp_instance"])
        sync["sync_id"] = owner["virtual_router_id"]
        global_defs.fields.note("lvs_sync_daemon", "sync_id: keepalived's default, the "
                                "instance's virtual_router_id")
    drop_unknown_references(ctx, "track_script", "vrrp_script", state.scripts)
    drop_unknown_references(ctx, "track_file", "vrrp_track_file", state.track_files)


def drop_unknown_references(ctx: Context, key: str, kind: str, targets: list[Block]) -> None:
    known = {t["name"] for t in targets}
    for instance in ctx.state.instances:
        refs = instance.block.get(key)
        if not refs:
            continue
        kept = []
        for ref in refs:
            ref_name = ref if isinstance(ref, str) else ref["name"]
            if ref_name in known:
                kept.append(ref)
            else:
                ctx.skip(instance.sources[f"{key}:{ref_name}"],
                         f"{key} {ref_name}: no translated {kind} of that name")
        if kept:
            instance.block[key] = kept
        else:
            del instance.block[key]
