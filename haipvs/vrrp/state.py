"""The VRRP state machine (RFC 5798 §6.4 with keepalived's behaviour where they differ).

`TRANSITIONS` below is the single place that says what each (state, input) pair does: every
pair maps to a handler or to `IGNORED`. The machine owns every timer; the driver arms what
`SetTimer` says, and feeds `TimerExpired(name)` back once `now >= deadline`.
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from haipvs.vrrp.counters import InstanceCounters
from haipvs.vrrp.packet import Advert
from haipvs.vrrp.params import OWNER_PRIORITY, InstanceParams

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
    | Log
)

# ---- the machine ----------------------------------------------------------------------


class VrrpMachine:
    """One VRRP instance. Feed it inputs with `handle(now, event)`; do what it returns."""

    def __init__(self, params: InstanceParams) -> None:
        self.params = params
        self.state = State.INIT
        self.effective_priority = params.base_priority
        self.primary_address: IPAddress | None = None
        self.master_advert_int = params.advert_int  # learned from the master (v3)
        self.master_ip: IPAddress | None = None
        self.master_priority: int | None = None
        self.fault_reason: str | None = None
        self.counters = InstanceCounters()
        self.timers: dict[str, float] = {}  # armed timers: name -> deadline
        self.preempt_deadline: float | None = None
        self.preempt, self.preempt_delay = _preempt_settings(params)

    # ---- the entry point ----

    def handle(self, now: float, event: Input) -> list[Action]:
        handler = TRANSITIONS.get((self.state, type(event)))
        if handler is None:
            raise TypeError(f"not a VRRP machine input: {event!r}")
        if isinstance(event, AdvertReceived):
            self.counters.adverts_received += 1
            if event.advert.priority == 0:
                self.counters.priority_zero_received += 1
        if isinstance(event, TimerExpired):
            if event.name not in self.timers:
                return []  # cancelled or re-armed after the driver took it: stale
            del self.timers[event.name]
        if handler is IGNORED:
            return []
        return handler(self, now, event)

    # ---- facts the driver and the state dump read ----

    @property
    def advert_int(self) -> float:
        """The interval currently in force: ours as MASTER, the master's otherwise."""
        return self.params.advert_int if self.state == State.MASTER else self.master_advert_int

    def advert(self, priority: int) -> Advert:
        """The advert to encode for a `SendAdvert(priority)` action."""
        params = self.params
        return Advert(
            version=params.version,
            vrid=params.vrid,
            priority=priority,
            advert_int=params.advert_int,
            addresses=params.vips,
            auth_type=params.auth_type if params.version == 2 else 0,
            auth_data=params.auth_data if params.version == 2 else b"",
        )

    def skew_time(self, priority: int | None = None) -> float:
        """RFC 3768: (256-prio)/256 s. RFC 5798: (256-prio)*Master_Adver_Interval/256."""
        if priority is None:
            priority = self.effective_priority
        if self.params.version == 2:
            return (256 - priority) / 256
        return (256 - priority) * self.master_advert_int / 256

    def master_down_interval(self) -> float:
        return 3 * self.master_advert_int + self.skew_time()

    # ---- helpers used by the handlers ----

    def _set(self, name: str, deadline: float) -> SetTimer:
        self.timers[name] = deadline
        return SetTimer(name, deadline)

    def _cancel(self, *names: str) -> list[Action]:
        return [CancelTimer(name) for name in names if self.timers.pop(name, None) is not None]

    def _cancel_all(self) -> list[Action]:
        return self._cancel(*list(self.timers))

    def _send(self, priority: int) -> SendAdvert:
        self.counters.adverts_sent += 1
        if priority == 0:
            self.counters.priority_zero_sent += 1
        return SendAdvert(priority, self.params.advert_int)

    def _transition(self, now: float, new: State, reason: str) -> NotifyTransition:
        old = self.state
        self.state = new
        self.counters.transitions += 1
        self.counters.last_transition_at = now
        if new == State.MASTER:
            self.counters.became_master += 1
        elif old == State.MASTER:
            self.counters.released_master += 1
        return NotifyTransition(old, new, reason)

    def _become_master(self, now: float, reason: str) -> list[Action]:
        garp = self.params.garp
        actions: list[Action] = self._cancel_all()
        # RFC 5798: as MASTER we advertise our own interval again.
        self.master_advert_int = self.params.advert_int
        self.master_ip = self.primary_address
        self.master_priority = self.effective_priority
        self.preempt_deadline = None
        # keepalived's order: claim mastership on the wire first (the election does not wait
        # for netlink), then take the VIPs, then announce them.
        actions += [self._send(self.effective_priority), AddVips()]
        if garp.master_repeat > 0:
            actions.append(SendGratuitous(garp.master_repeat))
        actions.append(self._set(TIMER_ADVERT, now + self.params.advert_int))
        if garp.master_delay > 0 and garp.master_repeat > 0:
            actions.append(self._set(TIMER_GARP_DELAY, now + garp.master_delay))
        if garp.master_refresh > 0:
            # keepalived starts the refresh cycle after the delayed burst.
            first = now + garp.master_delay + garp.master_refresh
            actions.append(self._set(TIMER_GARP_REFRESH, first))
        actions.append(self._transition(now, State.MASTER, reason))
        return actions

    def _become_backup(self, now: float, reason: str, down_after: float) -> list[Action]:
        actions = self._cancel_all()
        if self.state == State.MASTER:
            actions.append(RemoveVips())
        self.preempt_deadline = None
        actions.append(self._set(TIMER_MASTER_DOWN, now + down_after))
        actions.append(self._transition(now, State.BACKUP, reason))
        return actions

    def _adopt_interval(self, advert: Advert) -> list[Action]:
        """v3 (RFC 5798 §6.4.2): Master_Adver_Interval := the advert's interval."""
        if self.params.version != 3 or advert.advert_int == self.master_advert_int:
            return []
        old, self.master_advert_int = self.master_advert_int, advert.advert_int
        return [Log("master_advert_int_adopted", {"old": old, "new": advert.advert_int})]

    def _set_priority(self, requested: int) -> tuple[int, int] | None:
        """Apply a tracker priority; None when nothing changes. The owner keeps 255
        (keepalived refuses weighted trackers on an address owner)."""
        if self.params.owner:
            return None
        new = min(max(requested, 1), OWNER_PRIORITY - 1)
        if new == self.effective_priority:
            return None
        old, self.effective_priority = self.effective_priority, new
        return old, new

    def _compare_source(self, src: IPAddress) -> int:
        """Sign of (sender's address - our primary address), compared as unsigned integers;
        0 when equal or when we have no primary address to compare with."""
        own = self.primary_address
        if own is None or own.version != src.version:
            return 0
        return (int(src) > int(own)) - (int(src) < int(own))


def _preempt_settings(params: InstanceParams) -> tuple[bool, float]:
    """(preempt, preempt_delay) in force. keepalived: a non-owner configured as MASTER always
    preempts, without delay; so does the owner."""
    hinted_master = params.initial_state == "MASTER"
    preempt = params.preempt or params.owner or hinted_master
    return preempt, 0.0 if (hinted_master or not preempt) else params.preempt_delay


def _identity(params: InstanceParams) -> tuple:
    return (params.vrid, params.family, params.version, frozenset(params.vips), params.owner)


# ---- handlers: (machine, now, event) -> actions ---------------------------------------

Handler = Callable[[VrrpMachine, float, Any], list[Action]]


class _Ignored:
    def __repr__(self) -> str:
        return "IGNORED"


IGNORED: Any = _Ignored()


def _init_startup(m: VrrpMachine, now: float, event: Startup) -> list[Action]:
    m.primary_address = event.primary_address
    actions: list[Action] = []
    if m.params.initial_state == "MASTER" and not m.params.owner:
        actions.append(Log("initial_master_hint", {"preempt": True, "preempt_delay": 0.0}))
    if event.fault is not None:
        m.fault_reason = event.fault
        actions.append(m._transition(now, State.FAULT, f"fault: {event.fault}"))
        return actions
    if m.params.owner:
        return actions + m._become_master(now, "address_owner")
    if m.params.initial_state == "MASTER":
        # keepalived: wait one advert interval plus the minimal skew, so an existing
        # master is heard before we claim the address.
        down_after = m.master_advert_int + m.skew_time(255)
        return actions + m._become_backup(now, "startup_master_hint", down_after)
    return actions + m._become_backup(now, "startup", m.master_down_interval())


def _fault_detected(m: VrrpMachine, now: float, event: FaultDetected) -> list[Action]:
    m.fault_reason = event.reason
    actions = m._cancel_all()
    if m.state == State.MASTER:
        actions += [m._send(0), RemoveVips()]
    m.master_ip = None
    actions.append(m._transition(now, State.FAULT, f"fault: {event.reason}"))
    return actions


def _fault_still(m: VrrpMachine, now: float, event: FaultDetected) -> list[Action]:
    old, m.fault_reason = m.fault_reason, event.reason
    return [Log("fault_reason_changed", {"old": old, "new": event.reason})]


def _fault_cleared(m: VrrpMachine, now: float, event: FaultCleared) -> list[Action]:
    if event.primary_address is not None:
        m.primary_address = event.primary_address
    m.fault_reason = None
    m.master_advert_int = m.params.advert_int  # keepalived forgets the learned interval
    # keepalived goes to BACKUP even as owner; the owner's tiny skew and preempt
    # make it MASTER after one master-down interval unless it hears a master.
    return m._become_backup(now, "fault_cleared", m.master_down_interval())


def _shutdown(m: VrrpMachine, now: float, event: Shutdown) -> list[Action]:
    actions = m._cancel_all()
    if m.state == State.MASTER:
        # RFC 5798 §6.4.3: resign with priority 0 so a backup takes over after Skew_Time.
        actions += [m._send(0), RemoveVips()]
    actions.append(m._transition(now, State.STOP, "shutdown"))
    return actions


def _priority_changed_quiet(m: VrrpMachine, now: float, event: PriorityChanged) -> list[Action]:
    if m.params.owner:
        return [Log("priority_change_ignored_owner", {"requested": event.effective_priority})]
    change = m._set_priority(event.effective_priority)
    if change is None:
        return []
    return [Log("effective_priority_changed", {"old": change[0], "new": change[1]})]


def _backup_priority_changed(m: VrrpMachine, now: float, event: PriorityChanged) -> list[Action]:
    old_skew = m.skew_time()
    actions = _priority_changed_quiet(m, now, event)
    delta = m.skew_time() - old_skew
    deadline = m.timers.get(TIMER_MASTER_DOWN)
    if delta and deadline is not None:
        # keepalived shifts the running down timer by the change in Skew_Time.
        actions.append(m._set(TIMER_MASTER_DOWN, max(now, deadline + delta)))
    return actions


def _primary_changed(m: VrrpMachine, now: float, event: PrimaryAddressChanged) -> list[Action]:
    old, m.primary_address = m.primary_address, event.primary_address
    if old == event.primary_address:
        return []
    return [Log("primary_address_changed", {"old": str(old), "new": str(event.primary_address)})]


def _backup_advert(m: VrrpMachine, now: float, event: AdvertReceived) -> list[Action]:
    advert = event.advert
    if advert.priority == 0:
        # RFC 5798 §6.4.2: the master resigned; take over after Skew_Time.
        m.master_ip = event.src
        return [
            m._set(TIMER_MASTER_DOWN, now + m.skew_time()),
            Log("priority_zero_received", {"from": str(event.src)}),
        ]
    delaying = m.preempt_delay > 0 and (m.preempt_deadline is None or now < m.preempt_deadline)
    if not m.preempt or advert.priority >= m.effective_priority or delaying:
        actions = m._adopt_interval(advert)
        m.master_ip = event.src
        m.master_priority = advert.priority
        actions.append(m._set(TIMER_MASTER_DOWN, now + m.master_down_interval()))
        if m.preempt_delay > 0:
            if advert.priority >= m.effective_priority:
                if m.preempt_deadline is not None:
                    m.preempt_deadline = None
                    actions += m._cancel(TIMER_PREEMPT_DELAY)
            elif m.preempt_deadline is None:
                # keepalived: the delay starts when a lower-priority master is first seen.
                m.preempt_deadline = now + m.preempt_delay
                actions.append(m._set(TIMER_PREEMPT_DELAY, m.preempt_deadline))
                actions.append(Log("preempt_delay_started", {"until": m.preempt_deadline}))
        return actions
    # Preempting: ignore the lower-priority master and let the down timer run out.
    m.master_ip = event.src
    m.master_priority = advert.priority
    return [
        Log(
            "lower_priority_advert_discarded",
            {"from": str(event.src), "priority": advert.priority, "ours": m.effective_priority},
        )
    ]


def _backup_timer(m: VrrpMachine, now: float, event: TimerExpired) -> list[Action]:
    if event.name == TIMER_MASTER_DOWN:
        return m._become_master(now, "master_down_timer")
    if event.name == TIMER_PREEMPT_DELAY:
        # The deadline stays in the past: from now on lower-priority adverts are ignored.
        return [Log("preempt_delay_expired", {})]
    return []


def _master_advert(m: VrrpMachine, now: float, event: AdvertReceived) -> list[Action]:
    advert = event.advert
    garp = m.params.garp
    if advert.priority == 0:
        # RFC 5798 §6.4.3: answer a resigning router at once and restart our interval.
        return [m._send(m.effective_priority), m._set(TIMER_ADVERT, now + m.params.advert_int)]
    cmp = m._compare_source(event.src)
    if advert.priority > m.effective_priority or (
        advert.priority == m.effective_priority and cmp > 0
    ):
        # Parting advert at our own priority before stepping down: the winner takes it as a
        # lower-priority advert and re-announces the VIPs (garp.lower_prio_repeat). Without
        # it, when a partition heals and the winner's advert arrives first, nobody
        # re-announces and neighbours keep our MAC for the VIP until their ARP entry ages.
        parting = m._send(m.effective_priority)
        reason = (
            "higher_priority_advert"
            if advert.priority > m.effective_priority
            else "equal_priority_higher_address"
        )
        m.master_advert_int = m.params.advert_int
        learned = m._adopt_interval(advert)
        m.master_ip = event.src
        m.master_priority = advert.priority
        return [parting, *learned, *m._become_backup(now, reason, m.master_down_interval())]
    if advert.priority == m.effective_priority and cmp == 0:
        return [Log("equal_priority_advert_from_own_address", {"from": str(event.src)})]
    # Lower priority: a split brain is healing. RFC 9568 §6.4.3 / keepalived: advertise at
    # once so the other side steps down, and re-announce the VIPs (garp_lower_prio_*).
    actions: list[Action] = [
        Log(
            "lower_priority_advert",
            {"from": str(event.src), "priority": advert.priority, "ours": m.effective_priority},
        ),
        m._send(m.effective_priority),
    ]
    if garp.lower_prio_repeat > 0:
        actions.append(SendGratuitous(garp.lower_prio_repeat))
        if garp.lower_prio_delay > 0:
            actions.append(m._set(TIMER_GARP_LOWER_PRIO, now + garp.lower_prio_delay))
    return actions


def _master_timer(m: VrrpMachine, now: float, event: TimerExpired) -> list[Action]:
    garp = m.params.garp
    if event.name == TIMER_ADVERT:
        return [m._send(m.effective_priority), m._set(TIMER_ADVERT, now + m.params.advert_int)]
    if event.name == TIMER_GARP_DELAY:
        return [SendGratuitous(garp.master_repeat)]
    if event.name == TIMER_GARP_REFRESH:
        return [
            SendGratuitous(garp.master_refresh_repeat),
            m._set(TIMER_GARP_REFRESH, now + garp.master_refresh),
        ]
    if event.name == TIMER_GARP_LOWER_PRIO:
        return [SendGratuitous(garp.lower_prio_repeat)]
    return []


def _retune_quiet(m: VrrpMachine, now: float, event: Retune) -> list[Action]:
    """Take the new parameters; nothing is running that depends on them (INIT, FAULT), and
    the other states' handlers start here."""
    new = event.params
    if _identity(new) != _identity(m.params):
        raise ValueError(
            f"instance {m.params.name}: Retune may not change VRID, family, version, VIPs "
            "or owner-ness; that is a new instance"
        )
    m.params = new
    m.preempt, m.preempt_delay = _preempt_settings(new)
    if m.state != State.BACKUP or new.version == 2:
        # Only a v3 backup keeps an interval learned from the master; v2 has no learning.
        m.master_advert_int = new.advert_int
    return []


def _backup_retune(m: VrrpMachine, now: float, event: Retune) -> list[Action]:
    """The running down timer keeps its deadline (the next advert restarts it with the new
    interval). A running preempt delay is moved to its new length, or dropped."""
    old_delay = m.preempt_delay
    actions = _retune_quiet(m, now, event)
    if m.preempt_deadline is None or m.preempt_delay == old_delay:
        return actions
    if m.preempt_delay == 0:
        m.preempt_deadline = None
        return actions + m._cancel(TIMER_PREEMPT_DELAY)
    if TIMER_PREEMPT_DELAY in m.timers:  # still running: it started at deadline - old delay
        m.preempt_deadline = max(now, m.preempt_deadline - old_delay + m.preempt_delay)
        actions.append(m._set(TIMER_PREEMPT_DELAY, m.preempt_deadline))
    return actions


def _master_retune(m: VrrpMachine, now: float, event: Retune) -> list[Action]:
    """A new interval takes effect at once: advertise now, so v3 backups adopt it before
    their down timers (based on the old one) run out, and re-arm the advert timer. A changed
    GARP refresh period restarts the refresh cycle."""
    old = m.params
    actions = _retune_quiet(m, now, event)
    new = m.params
    if new.advert_int != old.advert_int:
        actions += [
            Log("advert_int_changed", {"old": old.advert_int, "new": new.advert_int}),
            m._send(m.effective_priority),
            m._set(TIMER_ADVERT, now + new.advert_int),
        ]
    if new.garp.master_refresh != old.garp.master_refresh:
        actions += m._cancel(TIMER_GARP_REFRESH)
        if new.garp.master_refresh > 0:
            actions.append(m._set(TIMER_GARP_REFRESH, now + new.garp.master_refresh))
    return actions


def _backup_sync_group(m: VrrpMachine, now: float, event: SyncGroupTransition) -> list[Action]:
    if event.target != State.MASTER:
        return []
    return m._become_master(now, event.reason)


def _master_sync_group(m: VrrpMachine, now: float, event: SyncGroupTransition) -> list[Action]:
    """Step down as for a better advert, but no advert arrived: master_ip and the learned
    interval stay as they were (ours), and the next advert heard sets them."""
    if event.target != State.BACKUP:
        return []
    return m._become_backup(now, event.reason, m.master_down_interval())


S = State
# Every (state, input) pair, written out: a handler, or IGNORED with the reason beside it.
TRANSITIONS: dict[tuple[State, type], Handler] = {
    # INIT: nothing runs before Startup.
    (S.INIT, Startup): _init_startup,
    (S.INIT, AdvertReceived): IGNORED,  # not started
    (S.INIT, TimerExpired): IGNORED,  # no timers armed
    (S.INIT, Shutdown): _shutdown,
    (S.INIT, FaultDetected): _fault_detected,
    (S.INIT, FaultCleared): IGNORED,  # not faulted
    (S.INIT, PriorityChanged): _priority_changed_quiet,
    (S.INIT, PrimaryAddressChanged): _primary_changed,
    (S.INIT, Retune): _retune_quiet,
    (S.INIT, SyncGroupTransition): IGNORED,  # not started
    # BACKUP
    (S.BACKUP, Startup): IGNORED,  # already started
    (S.BACKUP, AdvertReceived): _backup_advert,
    (S.BACKUP, TimerExpired): _backup_timer,
    (S.BACKUP, Shutdown): _shutdown,
    (S.BACKUP, FaultDetected): _fault_detected,
    (S.BACKUP, FaultCleared): IGNORED,  # not faulted
    (S.BACKUP, PriorityChanged): _backup_priority_changed,
    (S.BACKUP, PrimaryAddressChanged): _primary_changed,
    (S.BACKUP, Retune): _backup_retune,
    (S.BACKUP, SyncGroupTransition): _backup_sync_group,  # to MASTER only
    # MASTER
    (S.MASTER, Startup): IGNORED,  # already started
    (S.MASTER, AdvertReceived): _master_advert,
    (S.MASTER, TimerExpired): _master_timer,
    (S.MASTER, Shutdown): _shutdown,
    (S.MASTER, FaultDetected): _fault_detected,
    (S.MASTER, FaultCleared): IGNORED,  # not faulted
    (S.MASTER, PriorityChanged): _priority_changed_quiet,  # the next advert carries it
    (S.MASTER, PrimaryAddressChanged): _primary_changed,
    (S.MASTER, Retune): _master_retune,
    (S.MASTER, SyncGroupTransition): _master_sync_group,  # to BACKUP only
    # FAULT: no adverts in or out until the fault clears.
    (S.FAULT, Startup): IGNORED,  # already started
    (S.FAULT, AdvertReceived): IGNORED,  # keepalived does not listen while faulted
    (S.FAULT, TimerExpired): IGNORED,  # every timer was cancelled on entry
    (S.FAULT, Shutdown): _shutdown,
    (S.FAULT, FaultDetected): _fault_still,
    (S.FAULT, FaultCleared): _fault_cleared,
    (S.FAULT, PriorityChanged): _priority_changed_quiet,
    (S.FAULT, PrimaryAddressChanged): _primary_changed,
    (S.FAULT, Retune): _retune_quiet,
    (S.FAULT, SyncGroupTransition): IGNORED,  # the group's fault rule keeps members here
    # STOP is final.
    (S.STOP, Startup): IGNORED,
    (S.STOP, AdvertReceived): IGNORED,
    (S.STOP, TimerExpired): IGNORED,
    (S.STOP, Shutdown): IGNORED,
    (S.STOP, FaultDetected): IGNORED,
    (S.STOP, FaultCleared): IGNORED,
    (S.STOP, PriorityChanged): IGNORED,
    (S.STOP, PrimaryAddressChanged): IGNORED,
    (S.STOP, Retune): IGNORED,
    (S.STOP, SyncGroupTransition): IGNORED,
}
del S
