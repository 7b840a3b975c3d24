"""The SIGUSR2 statistics: `haipvs.stats`, in keepalived's layout (vrrp_print.c).

keepalived 2.2.7 writes /tmp/keepalived.stats on SIGUSR2 (keepalived/vrrp/vrrp_print.c,
`vrrp_print_stats`): one block per VRRP instance with adverts received/sent, became and
released master, packet and authentication errors, and priority-0 adverts. haipvs writes
the same block, line for line and word for word, so a script that reads keepalived's file
reads ours; below it, per instance, every drop reason of haipvs's receive ladder
(haipvs/vrrp/validate.py) by name, and last the datagrams no instance could be charged
with, per interface. Format: docs/operations.md ("Statistics (SIGUSR2)").

Pure: the counters are copied inside the VRRP loop (VrrpRuntime.stats), this module only
arranges numbers. keepalived's SIGSTATS_CLEAR (SIGRTMAX-1) zeroes its counters after the
write; haipvs keeps its counters monotonic (the metrics endpoint exports them) and
subtracts a baseline taken at the last clear instead (`VrrpStats.minus`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field

from haipvs.dataclass_lean import dataclass
from haipvs.vrrp.counters import InstanceCounters, InterfaceCounters
from haipvs.vrrp.validate import DropReason, Note

# keepalived's "Packet Errors" lines and the ladder's drops each one sums. vrrp.c
# (vrrp_check_packet) counts packet_len_err for a wrong length, ip_ttl_err, invalid_type_rcvd
# and addr_list_err for a wrong address count; keepalived 2.2.7 declares
# advert_interval_err but never increments it (it drops an interval mismatch uncounted):
# haipvs counts its interval drops there, the one place an operator would look.
PACKET_ERRORS: tuple[tuple[str, tuple[DropReason, ...]], ...] = (
    ("Length", (DropReason.SHORT_PACKET, DropReason.LENGTH)),
    ("TTL", (DropReason.TTL,)),
    ("Invalid Type", (DropReason.TYPE,)),
    ("Advertisement Interval", (DropReason.INTERVAL_MISMATCH, DropReason.ZERO_INTERVAL)),
    ("Address List", (DropReason.VIP_MISMATCH, DropReason.NO_ADDRESSES)),
)
# "Authentication Errors": keepalived tells an auth type it does not know (invalid_authtype)
# from a known one that is not the instance's (authtype_mismatch); the ladder's `auth_type`
# drop covers both, so it is counted under "Type Mismatch" (the usual cause: one side
# configured without a password) and "Invalid Type" stays 0. The haipvs lines below the
# block carry the exact reason.
AUTH_ERRORS: tuple[tuple[str, tuple[DropReason, ...]], ...] = (
    ("Invalid Type", ()),
    ("Type Mismatch", (DropReason.AUTH_TYPE,)),
    ("Failure", (DropReason.AUTH_MISMATCH,)),
)


def _counts(names: Iterable[str], counts: Mapping[str, int]) -> dict[str, int]:
    """Every name in a fixed order, 0 when never counted."""
    return {name: int(counts.get(name, 0)) for name in names}


def _minus(now: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    return {name: max(0, count - before.get(name, 0)) for name, count in now.items()}


@dataclass(frozen=True)
class InstanceStats:
    name: str
    adverts_received: int = 0
    adverts_sent: int = 0
    became_master: int = 0
    released_master: int = 0
    priority_zero_received: int = 0
    priority_zero_sent: int = 0
    drops: Mapping[str, int] = field(default_factory=dict)  # every DropReason value
    notes: Mapping[str, int] = field(default_factory=dict)  # every Note value

    @classmethod
    def of(cls, name: str, counters: InstanceCounters) -> InstanceStats:
        """A copy: called inside the VRRP loop, so the numbers are of one moment."""
        return cls(
            name=name,
            adverts_received=counters.adverts_received,
            adverts_sent=counters.adverts_sent,
            became_master=counters.became_master,
            released_master=counters.released_master,
            priority_zero_received=counters.priority_zero_received,
            priority_zero_sent=counters.priority_zero_sent,
            drops=_counts((str(r) for r in DropReason), counters.drops),
            notes=_counts((str(n) for n in Note), counters.notes),
        )

    def minus(self, before: InstanceStats) -> InstanceStats:
        return InstanceStats(
            name=self.name,
            adverts_received=max(0, self.adverts_received - before.adverts_received),
            adverts_sent=max(0, self.adverts_sent - before.adverts_sent),
            became_master=max(0, self.became_master - before.became_master),
            released_master=max(0, self.released_master - before.released_master),
            priority_zero_received=max(
                0, self.priority_zero_received - before.priority_zero_received),
            priority_zero_sent=max(0, self.priority_zero_sent - before.priority_zero_sent),
            drops=_minus(self.drops, before.drops),
            notes=_minus(self.notes, before.notes),
        )


@dataclass(frozen=True)
class InterfaceStats:
    """Datagrams on one shared socket that no configured instance could be charged with."""

    name: str  # "eth0/ipv4"
    received: int = 0
    drops: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of(cls, name: str, counters: InterfaceCounters) -> InterfaceStats:
        return cls(name, counters.received,
                   _counts((str(r) for r in DropReason), counters.drops))

    def minus(self, before: InterfaceStats) -> InterfaceStats:
        return InterfaceStats(self.name, max(0, self.received - before.received),
                              _minus(self.drops, before.drops))


@dataclass(frozen=True)
class VrrpStats:
    instances: tuple[InstanceStats, ...] = ()  # in configuration order, as keepalived
    interfaces: tuple[InterfaceStats, ...] = ()

    def minus(self, baseline: VrrpStats | None) -> VrrpStats:
        """Counts since `baseline` (the last SIGSTATS_CLEAR); an instance or interface the
        baseline does not know (added by a reload since) counts from 0."""
        if baseline is None:
            return self
        old_instances = {i.name: i for i in baseline.instances}
        old_interfaces = {i.name: i for i in baseline.interfaces}
        return VrrpStats(
            tuple(i.minus(old_instances[i.name]) if i.name in old_instances else i
                  for i in self.instances),
            tuple(i.minus(old_interfaces[i.name]) if i.name in old_interfaces else i
                  for i in self.interfaces),
        )


def _sum(counts: Mapping[str, int], reasons: tuple[DropReason, ...]) -> int:
    return sum(counts.get(str(reason), 0) for reason in reasons)


def render_instance(inst: InstanceStats) -> list[str]:
    # The keepalived block: vrrp_print.c vrrp_print_stats, fprintf for fprintf (2.2.7,
    # built with _WITH_VRRP_AUTH_ as Debian's and ours are).
    lines = [
        f"VRRP Instance: {inst.name}",
        "  Advertisements:",
        f"    Received: {inst.adverts_received}",
        f"    Sent: {inst.adverts_sent}",
        f"  Became master: {inst.became_master}",
        f"  Released master: {inst.released_master}",
        "  Packet Errors:",
    ]
    lines += [f"    {label}: {_sum(inst.drops, reasons)}" for label, reasons in PACKET_ERRORS]
    lines.append("  Authentication Errors:")
    lines += [f"    {label}: {_sum(inst.drops, reasons)}" for label, reasons in AUTH_ERRORS]
    lines += [
        "  Priority Zero:",
        f"    Received: {inst.priority_zero_received}",
        f"    Sent: {inst.priority_zero_sent}",
    ]
    # haipvs's own lines, after keepalived's: every ladder drop and note by name.
    lines.append("  Dropped by reason:")
    lines += [f"    {reason}: {count}" for reason, count in inst.drops.items()]
    lines.append("  Accepted with note:")
    lines += [f"    {note}: {count}" for note, count in inst.notes.items()]
    return lines


def render_stats(stats: VrrpStats) -> str:
    lines: list[str] = []
    for inst in stats.instances:
        lines += render_instance(inst)
    for iface in stats.interfaces:
        lines += [f"Interface: {iface.name}", f"  Received: {iface.received}",
                  "  Dropped by reason:"]
        lines += [f"    {reason}: {count}" for reason, count in iface.drops.items()]
    return "".join(line + "\n" for line in lines)
