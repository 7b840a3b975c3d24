"""Typed events: what crosses between the VRRP thread, the main loop, notify, metrics and
the state dump. One dataclass per kind; `as_record()` is the JSON-lines/dump form (the keys
operators' consumers already read: `kind`, `at` and the kind's own fields).

Pure: no I/O, no clock. The producer stamps `at` (wall-clock seconds) when it creates one.
"""

from __future__ import annotations

from typing import ClassVar

from haipvs.dataclass_lean import dataclass
from haipvs.vrrp.messages import State

# JSON-ready: str, int, float, bool, None (what the event log and the dump hold).
Record = dict[str, str | int | float | bool | None]


@dataclass(frozen=True)
class VrrpTransition:
    """A VRRP instance changed state (core NotifyTransition, seen by the VRRP driver)."""

    kind: ClassVar[str] = "vrrp_transition"
    instance: str
    old: State
    new: State
    reason: str
    priority: int  # effective priority at the transition
    at: float

    def as_record(self) -> Record:
        return {"kind": self.kind, "instance": self.instance, "from": str(self.old),
                "to": str(self.new), "reason": self.reason, "priority": self.priority,
                "at": self.at}


@dataclass(frozen=True)
class InstanceNotice:
    """A VRRP instance notification that is not a state change of the core (keepalived
    vrrp_notify.c notify_fifo's other words): DELETED (removed by a reload, with
    notify_deleted), MASTER_RX_LOWER_PRI (a MASTER received a lower-priority advert, vrrp.c
    vrrp_state_master_rx), MASTER_PRIORITY / BACKUP_PRIORITY (the effective priority changed,
    vrrp_track.c vrrp_set_effective_priority, with notify_priority_changes)."""

    kind: ClassVar[str] = "vrrp_notice"
    instance: str
    notice: str  # one of NOTICES
    priority: int  # effective priority
    at: float

    def as_record(self) -> Record:
        return {"kind": self.kind, "instance": self.instance, "notice": self.notice,
                "priority": self.priority, "at": self.at}


NOTICE_DELETED = "DELETED"
NOTICE_MASTER_RX_LOWER_PRI = "MASTER_RX_LOWER_PRI"
NOTICE_MASTER_PRIORITY = "MASTER_PRIORITY"
NOTICE_BACKUP_PRIORITY = "BACKUP_PRIORITY"
NOTICES = (NOTICE_DELETED, NOTICE_MASTER_RX_LOWER_PRI, NOTICE_MASTER_PRIORITY,
           NOTICE_BACKUP_PRIORITY)


@dataclass(frozen=True)
class GroupTransition:
    """A sync group's aggregate state changed (haipvs.policy.sync_group.group_state)."""

    kind: ClassVar[str] = "vrrp_group_transition"
    group: str
    old: State
    new: State
    at: float

    def as_record(self) -> Record:
        return {"kind": self.kind, "group": self.group, "from": str(self.old),
                "to": str(self.new), "at": self.at}


@dataclass(frozen=True)
class VirtualService:
    """A virtual server as keepalived names it in its notify FIFO lines
    (keepalived/check/check_data.c format_vs, format_rs): address, port and IP protocol
    number (6 TCP, 17 UDP, 132 SCTP), or a firewall mark with protocol 0 (keepalived clears
    the protocol of a fwmark service, check_data.c validate_check_config)."""

    protocol: int
    address: str = ""  # "" for a fwmark service
    port: int = 0
    fwmark: int = 0


@dataclass(frozen=True)
class RealServerChange:
    """A real server went up or down, or its dynamic weight changed (`up_changed` False:
    only the weight did; keepalived writes no FIFO line for that)."""

    kind: ClassVar[str] = "realserver"
    service: str
    real_server: str
    up: bool
    weight: int | None  # a checker's dynamic weight; None: the configured weight
    reason: str
    at: float
    virtual: VirtualService  # the service, typed (`service` is its display form)
    rs_address: str
    rs_port: int
    up_changed: bool
    # its starting state, told without a change (keepalived do_rs_notifies: RS line and
    # notify script, no e-mail): up at start for global rs_init_notifies (ipwrapper.c
    # init_service_rs), down after an alpha checker's first failure (update_svr_checker_state)
    initial: bool = False

    def as_record(self) -> Record:
        return {"kind": self.kind, "service": self.service, "real_server": self.real_server,
                "up": self.up, "weight": self.weight, "reason": self.reason, "at": self.at}


@dataclass(frozen=True)
class QuorumEvent:
    """A virtual server gained or lost quorum (`initial`: its starting state, at start or
    when a reload adds it; haipvs.policy.quorum)."""

    kind: ClassVar[str] = "quorum"
    service: str
    up: bool
    weight: int
    initial: bool
    at: float
    virtual: VirtualService  # the service, typed (`service` is its display form)

    def as_record(self) -> Record:
        return {"kind": self.kind, "service": self.service, "up": self.up,
                "weight": self.weight, "initial": self.initial, "at": self.at}


Event = VrrpTransition | GroupTransition | RealServerChange | QuorumEvent | InstanceNotice
