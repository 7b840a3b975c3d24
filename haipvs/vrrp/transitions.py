"""The VRRP transition table (RFC 5798 §6.4 with keepalived's behaviour where they differ).

`TRANSITIONS` is the single place that says what each (state, input) pair does: every pair
maps to a handler or to `IGNORED`. A handler is `(machine, now, input) -> actions`; it reads
and updates the machine through the machine's helpers (`_set`, `_send`, `_become_master`, ...),
which belong with it: the machine (`state.py`) and this table are one unit, split only for
size.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from haipvs.vrrp.messages import (
    TIMER_ADVERT,
    TIMER_GARP_DELAY,
    TIMER_GARP_LOWER_PRIO,
    TIMER_GARP_REFRESH,
    TIMER_MASTER_DOWN,
    TIMER_PREEMPT_DELAY,
    Action,
    AdvertReceived,
    EntryLost,
    FaultCleared,
    FaultDetected,
    Log,
    NotifyLowerPriority,
    PrimaryAddressChanged,
    PriorityChanged,
    RemoveVips,
    Retune,
    SendGratuitous,
    Shutdown,
    Startup,
    State,
    SyncGroupTransition,
    TimerExpired,
)
from haipvs.vrrp.params import InstanceParams

if TYPE_CHECKING:
    # Annotations only: state.py imports this module to dispatch, not the other way round.
    from haipvs.vrrp.state import VrrpMachine


def preempt_settings(params: InstanceParams) -> tuple[bool, float]:
    """(preempt, preempt_delay) in force. keepalived: a non-owner configured as MASTER always
    preempts, without delay; so does the owner."""
    hinted_master = params.initial_state == "MASTER"
    preempt = params.preempt or params.owner or hinted_master
    return preempt, 0.0 if (hinted_master or not preempt) else params.preempt_delay


def _identity(params: InstanceParams) -> tuple:
    return (params.vrid, params.family, params.version, frozenset(params.vips), params.owner)


# ---- handlers: (machine, now, event) -> actions ---------------------------------------

Handler = Callable[["VrrpMachine", float, Any], list[Action]]


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
        parting = [m._send(m.effective_priority)] if m.params.higher_prio_send_advert else []
        reason = (
            "higher_priority_advert"
            if advert.priority > m.effective_priority
            else "equal_priority_higher_address"
        )
        m.master_advert_int = m.params.advert_int
        learned = m._adopt_interval(advert)
        m.master_ip = event.src
        m.master_priority = advert.priority
        return [*parting, *learned, *m._become_backup(now, reason, m.master_down_interval())]
    if advert.priority == m.effective_priority and cmp == 0:
        return [Log("equal_priority_advert_from_own_address", {"from": str(event.src)})]
    # Lower priority: a split brain is healing. RFC 9568 §6.4.3 / keepalived: advertise at
    # once so the other side steps down, and re-announce the VIPs (garp_lower_prio_*).
    actions: list[Action] = [
        Log(
            "lower_priority_advert",
            {"from": str(event.src), "priority": advert.priority, "ours": m.effective_priority},
        ),
    ]
    if not m.params.lower_prio_no_advert:  # strict mode: RFC 5798 §6.4.3 sends none
        actions.append(m._send(m.effective_priority))
    if garp.lower_prio_repeat > 0:
        actions.append(SendGratuitous(garp.lower_prio_repeat))
        if garp.lower_prio_delay > 0:
            actions.append(m._set(TIMER_GARP_LOWER_PRIO, now + garp.lower_prio_delay))
    # keepalived: then send_event_notify(VRRP_EVENT_MASTER_RX_LOWER_PRI), whatever it sent
    actions.append(NotifyLowerPriority(advert.priority))
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
    m.preempt, m.preempt_delay = preempt_settings(new)
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


def _master_entry_lost(m: VrrpMachine, now: float, event: EntryLost) -> list[Action]:
    """keepalived_netlink.c set_vrrp_backup(): wantstate BACKUP, vrrp_state_leave_master()
    (VIPs and routes released, no priority-0 advert), then "a quick transition back to
    master": ms_down_timer = VRRP_TIMER_SKEW."""
    return m._become_backup(now, event.reason, m.skew_time())


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
    (S.INIT, EntryLost): IGNORED,  # holds nothing
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
    (S.BACKUP, EntryLost): IGNORED,  # keepalived: only a MASTER steps down
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
    (S.MASTER, EntryLost): _master_entry_lost,
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
    (S.FAULT, EntryLost): IGNORED,  # holds nothing
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
    (S.STOP, EntryLost): IGNORED,
}
del S
