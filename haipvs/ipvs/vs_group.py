"""virtual_server_group: the members of a group and the IPVS services they become.

Pure code (no I/O), following keepalived 2.2.7:
- member syntax: keepalived/check/check_data.c alloc_vsg_entry and lib/utils.c inet_stor:
  `ADDR [PORT]`, `ADDR-N [PORT]` (N replaces the last IPv4 octet, decimal, or the last IPv6
  16-bit group, hexadecimal, and must be greater than the start's), `ADDR-ADDR [PORT]` (full
  end address), `ADDR/LEN [PORT]` (CIDR; host bits must be zero; LEN 0 is refused) and
  `fwmark N [inet|inet6]`. A port of 0 (or none) means no port, as keepalived's "legacy" rule.
- group checks: check_parser.c vsg_handler refuses an empty group and one mixing IPv4 and IPv6
  members while a fwmark has no family.
- expansion: keepalived/check/ipvswrapper.c ipvs_group_range_cmd adds one IPVS service per
  address of a range (with the virtual server's protocol and the member's port) and one per
  fwmark, every one with the same real servers (ipvs_group_sync_entry / ipwrapper.c
  init_service_vs loops over the group's entries for each real server).

Haipvs is stricter than keepalived where keepalived only logs and skips: a bad member is an
error (keepalived drops it and runs without it, which an operator rarely wants), and so are an
address or fwmark that two members share and a range above MAX_GROUP_SERVICES services (a
/16 would mean 65536 kernel services).
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import replace
from typing import Any

from haipvs.dataclass_lean import dataclass
from haipvs.ipvs.model import AF_INET, AF_INET6, ForwardMethod, Service, ServiceKey

#: Most services one group may expand to; keepalived has no limit, a larger group is almost
#: certainly a typo (a /16 instead of a /28).
MAX_GROUP_SERVICES = 4096

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class GroupError(ValueError):
    """A member or group keepalived would refuse or haipvs does not accept; the text says
    what is wrong (the config layer adds file:line: path)."""


@dataclass(frozen=True)
class AddressRange:
    """`first`..`last` (inclusive) on `port` (0: no port)."""

    first: IPAddress
    last: IPAddress
    port: int = 0

    @property
    def family(self) -> int:
        return AF_INET6 if self.first.version == 6 else AF_INET

    @property
    def size(self) -> int:
        return int(self.last) - int(self.first) + 1


@dataclass(frozen=True)
class FwmarkMember:
    """`fwmark N [inet|inet6]`; family None: the virtual server's (keepalived AF_UNSPEC)."""

    fwmark: int
    family: int | None = None


Member = AddressRange | FwmarkMember


def _port(text: str | None) -> int:
    if text is None or not text.strip("0"):
        return 0  # check_data.c alloc_vsg_entry: a port of 0 is "no port"
    if not text.isdigit() or not 0 < int(text) <= 65535:
        raise GroupError(f"invalid port {text!r} (1-65535)")
    return int(text)


def _address(text: str) -> IPAddress:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        raise GroupError(f"invalid address {text!r}") from None


def parse_member(text: str) -> Member:
    """One line of a keepalived virtual_server_group block, e.g. `192.0.2.1-10 80`."""
    words = text.split()
    if not words:
        raise GroupError("empty member")
    if words[0] == "fwmark":
        if len(words) < 2 or not words[1].isdigit() or int(words[1]) > 0xFFFFFFFF:
            raise GroupError(f"fwmark {words[1] if len(words) > 1 else ''!r} must be in "
                             "[0, 4294967295]")
        if int(words[1]) == 0:
            raise GroupError("fwmark 0 cannot be an IPVS service (the kernel needs 1 or more)")
        family = None
        if len(words) > 2:
            family = {"inet": AF_INET, "inet6": AF_INET6}.get(words[2])
            if family is None:
                raise GroupError(f"fwmark {words[1]} family {words[2]!r} unknown "
                                 "(inet or inet6)")
        if len(words) > 3:
            raise GroupError(f"unexpected {' '.join(words[3:])!r} after fwmark")
        return FwmarkMember(int(words[1]), family)
    if len(words) > 2:
        raise GroupError(f"unexpected {' '.join(words[2:])!r} after the port")
    addr, port = words[0], _port(words[1] if len(words) > 1 else None)
    if "/" in addr:
        try:
            net = ipaddress.ip_network(addr, strict=True)
        except ValueError as exc:
            # keepalived: "Address mask bits not empty" / "Invalid netmask"
            raise GroupError(f"invalid CIDR {addr!r}: {exc}") from None
        if net.prefixlen == 0:
            raise GroupError(f"invalid CIDR {addr!r}: prefix length 0")
        return AddressRange(net.network_address, net.broadcast_address, port)
    if "-" in addr:
        start_text, end_text = addr.split("-", 1)
        first = _address(start_text)
        if "." in end_text or ":" in end_text:  # ADDR-ADDR (a full end address)
            last = _address(end_text)
            if last.version != first.version:
                raise GroupError(f"range address families do not match {addr!r}")
            if last < first:
                raise GroupError(f"address range end is less than range start {addr!r}")
            return AddressRange(first, last, port)
        # ADDR-N: inet_stor reads N in decimal (IPv4) or hexadecimal (IPv6)
        try:
            end = int(end_text, 16 if first.version == 6 else 10)
        except ValueError:
            raise GroupError(f"range {addr!r} has a bad end {end_text!r}") from None
        if end > (0xFFFF if first.version == 6 else 255):
            raise GroupError(f"range {addr!r} end {end_text!r} too large")
        bits = 16 if first.version == 6 else 8
        start_low = int(first) & ((1 << bits) - 1)
        if start_low >= end:
            raise GroupError(f"address range end is not greater than range start {addr!r}")
        last = ipaddress.ip_address(int(first) - start_low + end)
        return AddressRange(first, last, port)
    return AddressRange(_address(addr), _address(addr), port)


def _spans(member: AddressRange) -> tuple[int, int, int, int]:
    return (member.family, member.port, int(member.first), int(member.last))


def check_group(members: Sequence[Member]) -> None:
    """The whole group: keepalived's vsg_handler checks plus haipvs's overlap and size checks."""
    if not members:
        raise GroupError("group has no members (keepalived: 'virtual server group has no "
                         "entries')")
    ranges = [m for m in members if isinstance(m, AddressRange)]
    marks = [m for m in members if isinstance(m, FwmarkMember)]
    families = {m.family for m in ranges} | {m.family for m in marks if m.family}
    if len(families) > 1 and any(m.family is None for m in marks):
        raise GroupError("group mixes IPv4 and IPv6 members and a fwmark has no family "
                         "(add inet or inet6 after it)")
    total = sum(m.size for m in ranges) + len(marks)
    if total > MAX_GROUP_SERVICES:
        raise GroupError(f"group expands to {total} services, more than {MAX_GROUP_SERVICES}")
    spans = sorted(_spans(m) for m in ranges)
    for a, b in itertools.pairwise(spans):
        if a[:2] == b[:2] and b[2] <= a[3]:
            raise GroupError(f"members overlap: {ipaddress.ip_address(b[2])} port {b[1]} "
                             "is in two members")
    seen: set[tuple[int, int | None]] = set()
    for m in marks:
        if (m.fwmark, m.family) in seen:
            raise GroupError(f"fwmark {m.fwmark} is in the group twice")
        seen.add((m.fwmark, m.family))


def member_keys(members: Iterable[Member], protocol: int | str,
                family: int = AF_INET) -> list[ServiceKey]:
    """The IPVS service keys of a group's members, in member order (ipvswrapper.c
    ipvs_group_range_cmd: one per address of a range, one per fwmark). `family` is the
    virtual server's, used for a fwmark member without one."""
    keys: list[ServiceKey] = []
    for m in members:
        if isinstance(m, FwmarkMember):
            keys.append(ServiceKey.mark(m.fwmark, m.family or family))
            continue
        for n in range(int(m.first), int(m.last) + 1):
            keys.append(ServiceKey.inet(protocol, str(ipaddress.ip_address(n)), m.port))
    return keys


def group_services(template: Service, keys: Sequence[ServiceKey]) -> tuple[Service, ...]:
    """Every member's service: the template's scheduler, flags, persistence and the same
    destinations (one real server's state is the same in every member, as keepalived keeps
    one real_server_t per virtual server whatever the group's size). A DR/TUN destination
    takes the member's port (0 for a fwmark), a NAT one keeps its own (ipvswrapper.c
    ipvs_group_cmd: `if (rs->forwarding_method != IP_VS_CONN_F_MASQ) drule->user.port =
    srule->user.port`)."""
    return tuple(replace(template, key=key, destinations=tuple(
        d if d.fwd == ForwardMethod.NAT else replace(d, port=key.port)
        for d in template.destinations)) for key in keys)


def vs_services(vs: Any, service: Service) -> tuple[Service, ...]:
    """The services of one config virtual server: `service` itself, or one per member of its
    `group` (the config makes `service` the first member's, haipvs/config/vs_group.py)."""
    group = getattr(vs, "group", None)
    if group is None:
        return (service,)
    family = AF_INET6 if vs.ip_family == 6 else AF_INET
    return group_services(service, member_keys(group.members, vs.protocol, family))


def keepalived_wraps(member: Member) -> bool:
    """Whether keepalived 2.2.7 cannot program `member` as written: ipvswrapper.c
    ipvs_group_range_cmd steps only the last IPv4 octet (`nf_addr.ip += htonl(1)`, the carry
    lost) or the last IPv6 16-bit group (`s6_addr16[7]`), so a range crossing one never
    reaches its end as written (IPv4: it loops; IPv6: it wraps inside the first group)."""
    if not isinstance(member, AddressRange):
        return False
    bits = 16 if member.first.version == 6 else 8
    return int(member.first) >> bits != int(member.last) >> bits

