"""`group:` of a virtual server: keepalived's `virtual_server_group NAME { members }` used by
`virtual_server group NAME`. The members are written as in keepalived.conf (haipvs/ipvs/
vs_group.py reads them, after keepalived 2.2.7 check_data.c alloc_vsg_entry).

Why a `group:` inside the virtual server and not a separate section: in keepalived a group is
only ever used through one virtual server block, which holds everything else (real servers,
checkers, quorum, sorry server); keeping the members next to them gives one place to read and
lets every rule that needs the service's family or port see them. The name is kept for logs
and status, as keepalived shows it (ipvswrapper.c / check_data.c FMT_VS: "[NAME]:port").
"""

# setting() returns a dataclasses.field (see settings.py); ruff only knows field() itself.

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

from haipvs.config.compound import ListOf
from haipvs.config.kinds import Text
from haipvs.config.settings import model_section, setting
from haipvs.config.spec import INVALID, Kind, Values
from haipvs.dataclass_lean import dataclass
from haipvs.ipvs.model import AF_INET6
from haipvs.ipvs.vs_group import AddressRange, FwmarkMember, GroupError, Member, check_group
from haipvs.ipvs.vs_group import parse_member as _parse_member


@dataclass(frozen=True)
class GroupMember(Kind):
    """One member line: `192.0.2.1-10 80`, `192.0.2.0/29 80`, `2001:db8::1-1f 80`,
    `fwmark 7 [inet|inet6]`."""

    def parse(self, node, path, ctx):
        value = self._scalar(node, path, ctx, "a group member")
        if value is INVALID:
            return INVALID
        try:
            return _parse_member(str(value))
        except GroupError as exc:
            ctx.error(node, path, f"{value!r}: {exc}")
            return INVALID

    def schema(self, defs):
        return {"type": "string", "description": "keepalived virtual_server_group member"}

    def describe(self):
        return ("`ADDR [PORT]`, `ADDR-N [PORT]`, `ADDR-ADDR [PORT]`, `ADDR/LEN [PORT]` or "
                "`fwmark N [inet|inet6]`")


@dataclass(frozen=True)
class VsGroup:
    name: str = setting(Text(max_len=64), doc="group name (keepalived virtual_server_group)")
    members: tuple[Member, ...] = setting(ListOf(GroupMember()),
                                          doc="the addresses, ranges and fwmarks; each one "
                                          "becomes IPVS services with the same real servers")


def _check_group(v: Values) -> None:
    if v.ok("members"):
        try:
            check_group(v["members"])
        except GroupError as exc:
            v.error("members", str(exc))


VS_GROUP = model_section(
    VsGroup,
    "group",
    "Virtual server group",
    "keepalived `virtual_server_group`: the virtual server's real servers, checkers, quorum "
    "and sorry server apply to every member; each address of a range or CIDR and each fwmark "
    "is one IPVS service (with the virtual server's protocol), all sharing one health check "
    "per real server and one quorum.",
    check=_check_group,
    rules=(
        "At least one member; members may not overlap (same address and port, or fwmark "
        "twice); at most 4096 services in all.",
        "A fwmark without family takes the virtual server's; with both IPv4 and IPv6 members "
        "every fwmark names its family (keepalived check_parser.c vsg_handler).",
        "No member may be a service of another virtual server (its own address/port or "
        "fwmark, or a member of its group).",
    ),
)


def group_identity(group: VsGroup, ip_family: int | None) -> dict[str, Any]:
    """The virtual server's own address/port/fwmark: its group's first member. Health, quorum
    and status are keyed by it (one per virtual server, as keepalived's one virtual_server_t)."""
    first = group.members[0]
    if isinstance(first, FwmarkMember):
        family = 6 if first.family == AF_INET6 else (4 if first.family else ip_family or 4)
        return {"address": None, "port": None, "fwmark": first.fwmark, "ip_family": family}
    assert isinstance(first, AddressRange)
    return {"address": first.first, "port": first.port, "fwmark": None,
            "ip_family": first.first.version}


def service_identities(vs: Any) -> Iterator[tuple]:
    """Every IPVS service a virtual server programs, each as `VirtualServer.key` spells it:
    its own, or one per address of each range and one per fwmark of its group. Two virtual
    servers may not share one (they would fight over it in the reconciler)."""
    group = getattr(vs, "group", None)
    if group is None:
        yield vs.key
        return
    for m in group.members:
        if isinstance(m, FwmarkMember):
            family = 6 if m.family == AF_INET6 else (4 if m.family else vs.ip_family)
            yield ("fwmark", family, m.fwmark)
            continue
        for n in range(int(m.first), int(m.last) + 1):
            yield (vs.protocol, ipaddress.ip_address(n), m.port)
