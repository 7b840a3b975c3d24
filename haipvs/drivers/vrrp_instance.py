"""What the VRRP runtime holds per instance and per interface, and the instance's identity.

`InstanceBinding` is the one home of an instance's identity (what a reload may not change
for the instance to keep its state): the I/O facts here (name, interface, VIPs with device
and label) plus the core's own rule for its parameters, asked through the core's public
`Retune` input rather than restated.
"""

from __future__ import annotations

import ipaddress
from dataclasses import field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import trio

from haipvs.dataclass_lean import dataclass
from haipvs.drivers import addresses
from haipvs.drivers.announce import Announcer
from haipvs.drivers.vrrp_socket import VrrpSocket
from haipvs.policy.priority import NOTHING, Contribution, InstancePriority, Kind, Source, weighted
from haipvs.policy.route_entries import NO_ENTRIES, Entries
from haipvs.vrrp import core, garp_ifaces
from haipvs.vrrp.params import ExtraIf

if TYPE_CHECKING:  # issue 18: loaded by a config with use_vmac only (vrrp_binding.py)
    from haipvs.policy.vmac import VmacSpec

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Packets a receive loop may have queued for the runtime's input queue before it waits:
# beyond that the kernel's socket buffer holds them, as when the loop was busy before.
RECEIVE_QUEUE_CREDIT = 64
EXTRA_IF_OFF = ExtraIf(0)  # keepalived's default: no garp_extra_if rounds


@dataclass(frozen=True)
class InstanceBinding:
    """What the runtime needs for one instance: the core's parameters plus the I/O facts."""

    params: core.InstanceParams
    ifname: str
    vips: tuple[addresses.Vip, ...]
    unicast_src: IPAddress | None = None
    unicast_peers: tuple[IPAddress, ...] = ()
    # (interface, weight): keepalived's track_interface (haipvs.policy.priority.weighted)
    track_interfaces: tuple[tuple[str, int], ...] = ()
    sync_group: str | None = None
    # virtual_ipaddress_excluded, virtual_routes, virtual_rules (haipvs.policy.routes)
    entries: Entries = NO_ENTRIES
    # effective accept mode (haipvs.policy.accept_mode.accept_mode): False = no_accept drops
    accept: bool = True
    # keepalived garp/gna intervals (haipvs.vrrp.garp_pacing), track_interface `reverse`,
    # dont_track_primary, unicast_ttl (None: the kernel's default for IPv6, 255 for IPv4)
    # and mcast_dst_ip (None: the RFC group)
    garp_interval: float = 0.0
    gna_interval: float = 0.0
    track_reverse: frozenset[str] = frozenset()
    dont_track_primary: bool = False
    unicast_ttl: int | None = None
    mcast_group: IPAddress | None = None
    # keepalived use_vmac: the macvlan `ifname` names (haipvs.policy.vmac, drivers/vmac.py)
    vmac: VmacSpec | None = None
    # keepalived garp_extra_if, already resolved (haipvs.vrrp.garp_extra_if.effective), and
    # the vmacs haipvs makes (keepalived's ifp->is_ours) its rounds may send on
    extra_if: ExtraIf = EXTRA_IF_OFF
    vmacs_ours: frozenset[str] = frozenset()

    @property
    def name(self) -> str:
        return self.params.name

    @property
    def family(self) -> int:
        return self.params.family

    @cached_property
    def garp_lines(self) -> list[tuple[str, tuple[IPAddress, ...]]]:
        """keepalived vrrp_send_link_update(): the VIPs, then the excluded ones, each on its
        own interface (ipaddress->ifp), paced per interface (haipvs.vrrp.garp_ifaces).
        Worked out once per binding (a reload makes a new one), not on each takeover."""
        pairs = [(vip.ifname, vip.address) for vip in self.vips]
        pairs += [(a.dev, a.interface.ip) for a in self.entries.addresses]
        return garp_ifaces.by_interface(pairs)

    def same_identity(self, new: InstanceBinding) -> bool:
        """Whether `new` can retune this instance in place: same name, interface, vmac and VIPs
        (with device and label), and parameters the core accepts as a Retune (VRID, family,
        version, VIP addresses and owner-ness: haipvs.vrrp's rule)."""
        if (self.name, self.ifname, frozenset(self.vips), self.vmac) != (
            new.name, new.ifname, frozenset(new.vips), new.vmac
        ):
            return False
        probe = core.VrrpMachine(self.params)  # INIT: a Retune only checks and stores
        try:
            probe.handle(0.0, core.Retune(new.params))
        except ValueError:
            return False
        return True


@dataclass
class Instance:
    binding: InstanceBinding
    machine: core.VrrpMachine
    group: InterfaceGroup
    policy: InstancePriority
    timers: dict[str, float] = field(default_factory=dict)  # armed by the core's SetTimer
    primary: IPAddress | None = None
    tracked_ifindex: dict[str, int | None] = field(default_factory=dict)
    started: bool = False
    vips_held: bool = False
    transitions: list[dict[str, Any]] = field(default_factory=list)  # the dump's last ten

    @property
    def name(self) -> str:
        return self.binding.name

    @property
    def family(self) -> int:
        return self.binding.family

    @property
    def faulted(self) -> bool:
        """What the machine was told (not what the sources say right now)."""
        return self.policy.told_fault is not None

    # ---- link facts -> sources (the rules are haipvs.policy.priority's) ----

    def source_address(self, state: addresses.LinkState) -> IPAddress | None:
        if self.binding.unicast_src is not None:
            return self.binding.unicast_src
        return state.primary_v4 if self.family == 4 else state.primary_v6_linklocal

    def usable(self, state: addresses.LinkState) -> bool:
        return state.up and self.source_address(state) is not None

    def link_contribution(self, state: addresses.LinkState) -> Contribution:
        if self.usable(state):
            return NOTHING
        ifname = self.binding.ifname
        if state.index is None:
            return Contribution(fault=f"interface {ifname} is gone")
        if not state.up:
            # keepalived dont_track_primary: its own interface is tracked with
            # VRRP_NOT_TRACK_IF, so going down is no FAULT (keepalived_netlink.c)
            if self.binding.dont_track_primary:
                return NOTHING
            return Contribution(fault=f"interface {ifname} is down")
        return Contribution(fault=f"interface {ifname} has no usable source address")

    def tracked_changes(self, states: dict[str, addresses.LinkState]
                        ) -> list[tuple[Source, Contribution]]:
        """keepalived track_interface, with the weight rule every up/down tracker shares."""
        changes = []
        for ifname, weight in self.binding.track_interfaces:
            state = states.get(ifname)
            if state is None:  # read before a reload started tracking it
                continue
            self.tracked_ifindex[ifname] = state.index
            up = state.index is not None and state.up
            reverse = ifname in self.binding.track_reverse
            failure = f"tracked interface {ifname} is {'up (reverse)' if reverse else 'down'}"
            contribution = weighted(weight, up, failure, reverse)
            changes.append((Source(Kind.TRACK_INTERFACE, ifname), contribution))
        return changes

    def describe(self) -> dict[str, Any]:
        """The state dump's entry (format unchanged)."""
        machine = self.machine
        params = machine.params
        return {
            "state": str(machine.state),
            "interface": self.binding.ifname,
            "vrid": params.vrid,
            "version": params.version,
            "family": params.family,
            "base_priority": params.base_priority,
            "effective_priority": machine.effective_priority,
            "advert_int": machine.advert_int,
            "master_ip": str(machine.master_ip) if machine.master_ip else None,
            "source_ip": str(self.primary) if self.primary else None,
            "fault_reasons": self.policy.fault_reasons(),
            "priority_parts": self.policy.priority_parts(),
            "sync_group": self.binding.sync_group,
            "vips_held": [str(v.interface) for v in self.binding.vips] if self.vips_held else [],
            "counters": machine.counters.as_dict(),
            "last_transitions": list(self.transitions),
            "garp_sent": self.group.announcer.sent,
        }


@dataclass
class InterfaceGroup:
    """Instances sharing one interface and address family share one socket pair."""

    ifname: str
    family: int
    ifindex: int
    sock: VrrpSocket
    announcer: Announcer
    dispatcher: core.Dispatcher
    instances: dict[int, Instance] = field(default_factory=dict)
    loop_scope: trio.CancelScope = field(default_factory=trio.CancelScope)
    # The receive loop takes one credit per queued packet; the runtime returns it once the
    # packet is handled (backpressure into the socket buffer instead of an unbounded queue).
    credit: trio.Semaphore = field(default_factory=lambda: trio.Semaphore(RECEIVE_QUEUE_CREDIT))

    @property
    def key(self) -> tuple[str, int]:
        return self.ifname, self.family

    def datagram(self, data: bytes, source: Any, destination: Any,
                 hop_limit: int | None) -> core.Datagram:
        """What the socket gave, as the core's datagram (IPv4 comes with its header)."""
        if self.family == 4:
            return core.parse_ipv4_datagram(data)
        return core.Datagram(
            family=6,
            src=source,
            dst=destination or self.sock.multicast_group,
            ttl=hop_limit if hop_limit is not None else -1,
            payload=data,
            ip_total_length=None,
        )
