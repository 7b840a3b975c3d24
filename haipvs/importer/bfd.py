"""keepalived's `bfd_instance` -> `bfd.sessions`, and an instance's `track_bfd` ->
`track_bfd` (issue 17: haipvs reads BFD sessions from BIRD; haipvs/config/bfd.py).

keepalived 2.2.7 runs the session itself (keepalived/bfd/bfd_parser.c); haipvs only names
BIRD's session to the same neighbor, so the session's timers and options (min_rx, min_tx,
idle_tx, multiplier, passive, ttl/hoplimit, max_hops, source_ip) move to BIRD's
`protocol bfd`: each gets a "changed" note pointing to docs/scale-out.md. `weight` in a
bfd_instance is the default weight of its track_bfd users (bfd_parser.c
bfd_vrrp_weight_handler, vrrp_track.c alloc_track_bfd): it is written on each reference
that has none.
"""

from __future__ import annotations

from dataclasses import field
from typing import Any

from haipvs import limits
from haipvs.dataclass_lean import dataclass
from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Rule
from haipvs.importer.track_process import tracker_weight

MOVED_TO_BIRD = ("BFD timers and options belong to BIRD's `protocol bfd` (haipvs reads its "
                 "sessions, docs/scale-out.md \"BFD from BIRD\"); set it there")
TIMERS = ("source_ip", "min_rx", "min_tx", "idle_tx", "multiplier", "passive", "ttl",
          "hoplimit", "max_hops")


@dataclass
class BfdImport:
    sessions: list[dict[str, Any]] = field(default_factory=list)
    weights: dict[str, int] = field(default_factory=dict)
    # (the reference list of an instance, its index, the statement) to finish at the end
    refs: list[tuple[list[Any], int, Node]] = field(default_factory=list)
    # sync group name -> its track_bfd references and their statements
    groups: dict[str, list[tuple[dict[str, Any], Node]]] = field(default_factory=dict)


def _state(ctx: Context) -> BfdImport:
    if ctx.state.bfd is None:
        ctx.state.bfd = BfdImport()
    return ctx.state.bfd


def bfd_instance(ctx: Context, node: Node) -> None:
    name = ctx.one(node)
    if name is None:
        return
    if len(name) > limits.BFD_NAME_MAX:
        ctx.skip(node, f"bfd_instance name longer than {limits.BFD_NAME_MAX} characters "
                 "(keepalived BFD_INAME_MAX)")
        return
    state = _state(ctx)
    if any(s["name"] == name for s in state.sessions):
        ctx.skip(node, f"bfd_instance {name} is already defined; keepalived refuses the "
                 "duplicate")
        return
    session: dict[str, Any] = {"name": name}
    for child in ctx.block(node):
        if child.keyword in ("neighbor_ip", "neighbour_ip"):
            value = ctx.one(child)
            if value is not None:
                session["neighbor"] = value
        elif child.keyword in TIMERS:
            ctx.changed(child, MOVED_TO_BIRD)
        elif child.keyword == "weight":
            weight = tracker_weight(ctx, child, child.values[0]) if child.values else None
            if weight is not None:
                state.weights[name] = weight
        else:
            ctx.skip(child)
    if "neighbor" not in session:
        # bfd_parser.c bfd_end_handler: "No neighbor address set"
        ctx.skip(node, f"bfd_instance {name} has no neighbor_ip")
        return
    state.sessions.append(session)


def _refs(ctx: Context, node: Node) -> list[tuple[dict[str, Any], Node]]:
    """`NAME [weight W [reverse]]` per line (vrrp_track.c alloc_track_bfd)."""
    refs: list[tuple[dict[str, Any], Node]] = []
    for entry in ctx.block(node):
        item: dict[str, Any] = {"name": entry.keyword}
        values = entry.values
        if values and values[0] != "weight":
            ctx.skip(entry, f"unknown track bfd option {values[0]!r}; keepalived ignores "
                     "the line")
            continue
        if len(values) >= 2:
            weight = tracker_weight(ctx, entry, values[1])
            if weight is None:
                continue
            item["weight"] = weight
        if len(values) >= 3:
            if values[2] == "reverse":
                item["reverse"] = True
            else:
                ctx.skip(entry, f"unknown weight option {values[2]!r}; keepalived ignores it")
        refs.append((item, entry))
    return refs


def track_bfd(ctx: Context, node: Node, draft: Any) -> None:
    items: list[Any] = draft.fields.setdefault("track_bfd", [])
    for item, entry in _refs(ctx, node):
        draft.sources[f"track_bfd:{entry.keyword}"] = entry
        items.append(item)
        _state(ctx).refs.append((items, len(items) - 1, entry))


def group_track_bfd(ctx: Context, node: Node, draft: Any) -> None:
    """A sync group's track_bfd: kept aside, then given to each member (finish_bfd)."""
    _state(ctx).groups[draft.fields["name"]] = _refs(ctx, node)


def _give_group_refs(ctx: Context, state: BfdImport) -> None:
    """vrrp.c add_vrrp_to_track_bfd(): each member tracks the group's sessions; where the
    instance tracks the same session itself, the group's weight and reverse replace a
    weighted instance entry and an unweighted one stays."""
    def weight(item: dict[str, Any]) -> int:
        return item.get("weight", state.weights.get(item["name"], 0))

    instances = {i.block["name"]: i for i in ctx.state.instances}
    for group in ctx.state.sync_groups:
        for ref, entry in state.groups.get(group["name"], []):
            for member in group.get("group", ()):
                instance = instances.get(member)
                if instance is None:
                    continue
                own: list[Any] = instance.block.setdefault("track_bfd", [])
                mine = next((i for i in own if i["name"] == ref["name"]), None)
                if mine is None:
                    own.append(dict(ref))
                    state.refs.append((own, len(own) - 1, entry))
                elif weight(mine) != 0:
                    mine["weight"] = weight(ref)
                    mine.pop("reverse", None)
                    if ref.get("reverse"):
                        mine["reverse"] = True


def finish_bfd(ctx: Context) -> dict[str, Any] | None:
    """After every block: a reference to an unknown session is dropped (keepalived:
    "track_bfd %s not found, ignoring"), one without a weight takes its bfd_instance's, and
    the `bfd` section is returned (None without sessions)."""
    state = _state(ctx)
    _give_group_refs(ctx, state)
    known = {s["name"] for s in state.sessions}
    dropped: set[int] = set()
    for items, index, entry in state.refs:
        item = items[index]
        if item["name"] not in known:
            ctx.skip(entry, f"no bfd_instance named {item['name']!r}; keepalived ignores it")
            dropped.add(id(item))
        elif "weight" not in item and item["name"] in state.weights:
            item["weight"] = state.weights[item["name"]]
    lists = {id(items): items for items, _, _ in state.refs}
    for items in lists.values():
        kept = [i for i in items if id(i) not in dropped]
        items[:] = [i["name"] if len(i) == 1 else i for i in kept]
    return {"sessions": state.sessions} if state.sessions else None


INSTANCE_RULES: dict[str, Rule] = {"track_bfd": track_bfd}
GROUP_RULES: dict[str, Rule] = {"track_bfd": group_track_bfd}
