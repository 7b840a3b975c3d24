"""`virtual_server group NAME` + `virtual_server_group NAME { ... }` -> one haipvs virtual
server with `group: {name, members}` (haipvs/config/vs_group.py), the members written as in
keepalived.conf. keepalived 2.2.7 reads each member with check_data.c alloc_vsg_entry and
skips a bad one with an error; so does this translation (a note). When what is left is not a
group haipvs accepts (overlapping members, more than MAX_GROUP_SERVICES services, IPv4 and
IPv6 with a fwmark without family), the caller falls back to one virtual server per member.
"""

from __future__ import annotations

from typing import Any

from haipvs.importer.emit import Block
from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context
from haipvs.ipvs.vs_group import (
    FwmarkMember,
    GroupError,
    check_group,
    keepalived_wraps,
    parse_member,
)

WRAPS = ("keepalived 2.2.7 steps only the last IPv4 octet / IPv6 16-bit group of a range "
         "(ipvswrapper.c ipvs_group_range_cmd), so it never programs this one as written; "
         "haipvs programs every address from its first to its last")


def member_texts(ctx: Context, node: Node) -> list[str]:
    """The members of a virtual_server_group block that keepalived keeps, as written."""
    texts: list[str] = []
    for entry in ctx.block(node):
        text = " ".join([entry.keyword, *entry.values])
        try:
            member = parse_member(text)
        except GroupError:
            continue  # the expansion in virtual_server.py notes why (same entries)
        if keepalived_wraps(member):
            ctx.changed(entry, WRAPS, keyword=text)
        texts.append(text)
    return texts


def group_problem(texts: list[str]) -> str | None:
    """Why haipvs cannot keep these members as one group, or None."""
    try:
        check_group([parse_member(t) for t in texts])
    except GroupError as exc:
        return str(exc)
    return None


def as_group(vs: Block, name: str, texts: list[str]) -> Block:
    """`vs` (translated with its first member as head) with `group:` instead of the head."""
    out = Block()
    out.above, out.notes = vs.above, vs.notes
    out["group"] = {"name": name, "members": list(texts)}
    head = {"address", "port", "fwmark"}  # the members have them
    for key, value in vs.items():
        if key not in head:
            out[key] = value
    for key in head:
        out.notes.pop(key, None)
    return out


def group_head(texts: list[str]) -> dict[str, Any]:
    """The head the body is translated with: the first address member (so the body's address
    rules apply, e.g. check_data.c validate_check_config "no protocol set - defaulting to UDP"
    for a group with an address range), else the first fwmark."""
    members = [parse_member(t) for t in texts]
    first = next((m for m in members if not isinstance(m, FwmarkMember)), members[0])
    if isinstance(first, FwmarkMember):
        return {"fwmark": first.fwmark}
    return {"address": str(first.first), "port": first.port or None}
