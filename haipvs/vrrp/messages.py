"""What goes into the VRRP machine and what comes out: the `State` enum, the timer names,
the inputs the driver feeds (`Input`) and the actions it carries out (`Action`).

Plain frozen data, shared by the machine (`state.py`), its transition table
(`transitions.py`) and every driver. Import it through `haipvs.vrrp.core`.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import field
from typing import Any

from haipvs.dataclass_lean import dataclass
from haipvs.vrrp.packet import Advert
from haipvs.vrrp.params import InstanceParams

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class State(enum.StrEnum):
    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"
    STOP = "STOP"


# Timer names (the driver treats them as opaque keys).
TIMER_ADVERT = "advert"
TIMER_MASTER_DOWN = "master_down"
TIMER_PREEMPT_DELAY = "preempt_delay"
TIMER_GARP_DELAY = "garp_delay"  # second GARP burst after becoming MASTER
TIMER_GARP_REFRESH = "garp_refresh"  # periodic GARP while MASTER
TIMER_GARP_LOWER_PRIO = "garp_lower_prio"  # second burst after a lower-priority advert

# ---- inputs ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Startup:
    """Start the instance. `primary_address` is our advert source (compared on equal
    priority); `fault` set means the interface is already unusable: go straight to FAULT."""

    primary_address: IPAddress | None = None
    fault: str | None = None


@dataclass(frozen=True, slots=True)
class AdvertReceived:
    """An advert that passed the validation ladder."""

    advert: Advert
    src: IPAddress


@dataclass(frozen=True, slots=True)
class TimerExpired:
    name: str


@dataclass(frozen=True, slots=True)
class Shutdown:
    pass


@dataclass(frozen=True, slots=True)
class FaultDetected:
    reason: str


@dataclass(frozen=True, slots=True)
class FaultCleared:
    primary_address: IPAddress | None = None  # None keeps the one we had


@dataclass(frozen=True, slots=True)
class PriorityChanged:
    effective_priority: int  # base priority plus tracker weights; clamped to 1..254


@dataclass(frozen=True, slots=True)
class PrimaryAddressChanged:
    primary_address: IPAddress | None


@dataclass(frozen=True, slots=True)
class Retune:
    """New parameters for a running instance (a reload). The identity (VRID, family, version,
    the VIP set and owner-ness) must not change: that is a new instance, and the handler
    raises ValueError. Priority is not touched: the driver follows with `PriorityChanged`
    (base priority plus its tracker weights, which only the driver knows)."""

    params: InstanceParams


@dataclass(frozen=True, slots=True)
class SyncGroupTransition:
    """Another member of this instance's sync group went to `target` (keepalived
    vrrp_sync_group): a BACKUP follows it to MASTER, a MASTER follows it to BACKUP; every
    other combination is a no-op."""

    target: State
    reason: str


@dataclass(frozen=True, slots=True)
class EntryLost:
    """A virtual route or rule of this instance (not `no_track`) was deleted while it was
    MASTER (keepalived_netlink.c netlink_route_filter() / netlink_rule_filter() ->
    set_vrrp_backup()): it steps down to BACKUP and, with its down timer at the skew time,
    soon takes MASTER back (adding it again) unless another router's advert comes first."""

    reason: str


Input = (
    Startup
    | AdvertReceived
    | TimerExpired
    | Shutdown
    | FaultDetected
    | FaultCleared
    | PriorityChanged
    | PrimaryAddressChanged
    | Retune
    | SyncGroupTransition
    | EntryLost
)
INPUT_TYPES: tuple[type, ...] = (
    Startup,
    AdvertReceived,
    TimerExpired,
    Shutdown,
    FaultDetected,
    FaultCleared,
    PriorityChanged,
    PrimaryAddressChanged,
    Retune,
    SyncGroupTransition,
    EntryLost,
)

# ---- actions --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SendAdvert:
    """Send one advert with this priority (0 = resigning). Build it with
    `VrrpMachine.advert(priority)` and `encode_advert`."""

    priority: int
    advert_int: float


@dataclass(frozen=True, slots=True)
class SetTimer:
    """Arm (or re-arm) timer `name` to fire at monotonic time `deadline`."""

    name: str
    deadline: float


@dataclass(frozen=True, slots=True)
class CancelTimer:
    name: str


@dataclass(frozen=True, slots=True)
class AddVips:
    pass


@dataclass(frozen=True, slots=True)
class RemoveVips:
    pass


@dataclass(frozen=True, slots=True)
class SendGratuitous:
    """Send `count` gratuitous ARPs / unsolicited NAs for every VIP, back to back."""

    count: int


@dataclass(frozen=True, slots=True)
class NotifyTransition:
    old: State
    new: State
    reason: str


@dataclass(frozen=True, slots=True)
class NotifyLowerPriority:
    """As MASTER, an advert with a lower priority arrived (keepalived vrrp.c
    vrrp_state_master_rx: send_event_notify(VRRP_EVENT_MASTER_RX_LOWER_PRI))."""

    priority: int  # the advert's


@dataclass(frozen=True, slots=True)
class Log:
    event: str
    fields: dict[str, Any] = field(default_factory=dict)


Action = (
    SendAdvert
    | SetTimer
    | CancelTimer
    | AddVips
    | RemoveVips
    | SendGratuitous
    | NotifyTransition
    | NotifyLowerPriority
    | Log
)
