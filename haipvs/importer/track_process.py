"""keepalived's vrrp_track_process block, an instance's (or sync group's) `track_process`
and the global process_monitor_rcv_bufs (vrrp_parser.c vrrp_tprocess_*_handler,
vrrp_track.c alloc_track_process, vrrp.c add_vrrp_to_track_process)."""

from __future__ import annotations

from typing import Any

from haipvs import limits
from haipvs.config.track_process import DELAY_MAX, QUORUM_MAX
from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Draft, Flag, Rule, Skip, Value, number, rules_for

ORDER = ("name", "process", "args", "param_match", "full_command", "weight", "reverse",
         "quorum", "quorum_max", "delay", "terminate_delay", "fork_delay")


def tracker_weight(ctx: Context, entry: Node, word: str) -> int | None:
    # the one check of a tracker's weight (vrrp.py's track_script/track_file use it too)
    try:
        weight = int(word)
    except ValueError:
        ctx.skip(entry, f"bad weight {word!r}")
        return None
    if not limits.TRACKER_WEIGHT_MIN <= weight <= limits.TRACKER_WEIGHT_MAX:
        ctx.skip(entry, f"weight {weight} is out of range "
                 f"{limits.TRACKER_WEIGHT_MIN}..{limits.TRACKER_WEIGHT_MAX}")
        return None
    return weight


def process(ctx: Context, node: Node, draft: Draft) -> None:
    """`process NAME [ARG...]`: arguments set full_command and, unless param_match was
    given, exact matching (haipvs derives both from `args`)."""
    if "process" in draft.fields:
        ctx.skip(node, "process is already set; keepalived ignores this one")
        return
    if not node.values:
        ctx.skip(node, "needs a value")
        return
    draft.fields["process"] = node.values[0]
    if len(node.values) > 1:
        draft.fields["args"] = list(node.values[1:])


def param_match(ctx: Context, node: Node, draft: Draft) -> None:
    """`param_match [initial|partial]`: alone it is exact."""
    if not node.values:
        draft.fields["param_match"] = "exact"
    elif node.values[0] in ("initial", "partial"):
        draft.fields["param_match"] = node.values[0]
    else:
        ctx.skip(node, f"invalid param_match type {node.values[0]!r}; keepalived ignores it")


def weight(ctx: Context, node: Node, draft: Draft) -> None:
    """`weight W [reverse]`; a second weight is ignored, as keepalived does."""
    if "weight" in draft.fields:
        ctx.skip(node, "weight is already set; keepalived ignores this one")
        return
    if not node.values:
        ctx.skip(node, "needs a value")
        return
    value = tracker_weight(ctx, node, node.values[0])
    if value is None:
        return
    draft.fields["weight"] = value
    if len(node.values) > 1:
        if node.values[1] == "reverse":
            draft.fields["reverse"] = True
        else:
            ctx.skip(node, f"unknown weight option {node.values[1]!r}; keepalived ignores it")


def quorum(ctx: Context, node: Node, draft: Draft) -> None:
    value = ctx.one(node, int, 1, QUORUM_MAX)
    if value is None:
        return
    most = draft.fields.get("quorum_max")
    if most is not None and value > most:
        ctx.skip(node, "quorum is greater than quorum_max; keepalived ignores it")
        return
    draft.fields["quorum"] = value


def quorum_max(ctx: Context, node: Node, draft: Draft) -> None:
    value = ctx.one(node, int, 0, QUORUM_MAX)
    if value is None:
        return
    least = draft.fields.get("quorum", 1)
    if (value or least > 1) and value < least:
        ctx.skip(node, "quorum_max is less than quorum; keepalived ignores it")
        return
    draft.fields["quorum_max"] = value


VRRP_TRACK_PROCESS: dict[str, Rule] = {
    "process": process,
    "param_match": param_match,
    "weight": weight,
    "quorum": quorum,
    "quorum_max": quorum_max,
    **rules_for(("delay", "terminate_delay", "fork_delay"),
                lambda key: Value(key, number, 0.000001, DELAY_MAX)),
    "full_command": Flag("full_command", True),
}


def vrrp_track_process(ctx: Context, node: Node) -> None:
    from haipvs.importer.vrrp_tracking import named_block  # it imports vrrp.py, as we do

    entry = named_block(ctx, node, VRRP_TRACK_PROCESS)
    if entry is None:
        return
    if "process" not in entry:
        # vrrp_tprocess_end_handler(): "track process '%s' process name not specified"
        ctx.skip(node, f"vrrp_track_process {entry['name']} has no process")
        return
    if any(other["name"] == entry["name"] for other in ctx.state.track_processes):
        # vrrp_track.c find_tracked_process_by_name() finds the first
        ctx.skip(node, f"vrrp_track_process {entry['name']} is already defined; keepalived "
                 "uses the first")
        return
    ordered = {k: entry[k] for k in ORDER if k in entry}
    entry.clear()
    entry.update(ordered)
    ctx.state.track_processes.append(entry)


def track_process_refs(ctx: Context, node: Node, sources: dict[str, Node]) -> list[Any]:
    """`NAME [weight W [reverse|noreverse]]` per line (vrrp_track.c alloc_track_process)."""
    items: list[Any] = []
    for entry in ctx.block(node):
        sources[f"track_process:{entry.keyword}"] = entry
        item: dict[str, Any] = {"name": entry.keyword}
        values = entry.values
        if values and values[0] != "weight":
            ctx.skip(entry, f"unknown track process option {values[0]!r}; keepalived "
                     "ignores the line")
            continue
        if values == ["weight"]:
            ctx.skip(entry, "weight without a value; keepalived ignores the line")
            continue
        if len(values) >= 2:
            value = tracker_weight(ctx, entry, values[1])
            if value is not None:
                item["weight"] = value
        if len(values) >= 3:
            if values[2] in ("reverse", "noreverse"):
                item["reverse"] = values[2] == "reverse"
            else:
                ctx.skip(entry, f"unknown weight option {values[2]!r}; keepalived ignores it")
        items.append(item["name"] if len(item) == 1 else item)
    return items


def instance_track_process(ctx: Context, node: Node, draft: Any) -> None:
    draft.fields["track_process"] = track_process_refs(ctx, node, draft.sources)


def group_track_process(ctx: Context, node: Node, draft: Draft) -> None:
    """A sync group's track_process: kept aside, then given to each member instance
    (finish_track_processes), as vrrp.c add_vrrp_to_track_process() does."""
    sources: dict[str, Node] = {}
    refs = track_process_refs(ctx, node, sources)
    ctx.state.group_track_process[draft.fields["name"]] = (refs, sources)


INSTANCE_RULES: dict[str, Rule] = {"track_process": instance_track_process}
GROUP_RULES: dict[str, Rule] = {"track_process": group_track_process}
GLOBAL_RULES: dict[str, Rule] = {
    **rules_for(("process_monitor_rcv_bufs", "process_monitor_rcv_bufs_force"),
                lambda key: Skip("haipvs sizes the process monitor's receive buffer itself "
                                 "(1 MiB) and walks /proc again when events are lost")),
}


def _name(ref: Any) -> str:
    return ref if isinstance(ref, str) else ref["name"]


def finish_track_processes(ctx: Context) -> None:
    """Sync groups' refs go to their members (the group's weight wins unless the
    instance's own ref is unweighted, vrrp.c add_vrrp_to_track_process()); refs to entries
    that were not translated are dropped with a note."""
    state = ctx.state
    instances = {i.block["name"]: i for i in state.instances}
    entry_weight = {e["name"]: e.get("weight", 0) for e in state.track_processes}
    for group in state.sync_groups:
        refs, sources = state.group_track_process.get(group["name"], ([], {}))
        if not refs:
            continue
        for member in group["group"]:
            instance = instances.get(member)
            if instance is None:
                continue
            own = instance.block.setdefault("track_process", [])
            for ref in refs:
                mine = next((i for i, r in enumerate(own) if _name(r) == _name(ref)), None)
                if mine is None:
                    own.append(ref)
                    instance.sources.setdefault(f"track_process:{_name(ref)}",
                                                sources[f"track_process:{_name(ref)}"])
                    continue
                name = _name(ref)
                mine_ref = {"name": name} if isinstance(own[mine], str) else dict(own[mine])
                if mine_ref.get("weight", entry_weight.get(name, 0)):
                    # the group's weight; the instance's reverse stays (weight_multiplier)
                    mine_ref["weight"] = (entry_weight.get(name, 0) if isinstance(ref, str)
                                          else ref.get("weight", entry_weight.get(name, 0)))
                    own[mine] = mine_ref
            instance.block.note("track_process", f"includes sync group {group['name']}'s "
                                "track_process")
    from haipvs.importer.vrrp_tracking import drop_unknown_references

    drop_unknown_references(ctx, "track_process", "vrrp_track_process",
                            state.track_processes)


__all__ = ["GLOBAL_RULES", "GROUP_RULES", "INSTANCE_RULES", "VRRP_TRACK_PROCESS",
           "finish_track_processes", "vrrp_track_process"]
