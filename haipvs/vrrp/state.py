"""The VRRP state machine: one instance's variables, timers and helpers, driven through
`handle(now, input)`.

What each (state, input) pair does is in `transitions.py` (`TRANSITIONS`); the inputs,
actions and `State` are in `messages.py`. The machine owns every timer; the driver arms what
`SetTimer` says, and feeds `TimerExpired(name)` back once `now >= deadline`.
"""

from __future__ import annotations

import math

from haipvs.vrrp.counters import InstanceCounters
from haipvs.vrrp.messages import (
    TIMER_ADVERT,
    TIMER_GARP_DELAY,
    TIMER_GARP_REFRESH,
    TIMER_MASTER_DOWN,
    Action,
    AddVips,
    AdvertReceived,
    CancelTimer,
    Input,
    IPAddress,
    Log,
    NotifyTransition,
    RemoveVips,
    SendAdvert,
    SendGratuitous,
    SetTimer,
    State,
    TimerExpired,
)
from haipvs.vrrp.packet import Advert
from haipvs.vrrp.params import OWNER_PRIORITY, InstanceParams
from haipvs.vrrp.transitions import IGNORED, TRANSITIONS, preempt_settings


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
        # The latest time handled. The driver may hand over a MASTER's advert timer ahead, at
        # its deadline (haipvs.drivers.timed_adverts): an input that arrives in between is
        # handled at that deadline, after it, so this machine's clock never runs backwards.
        self.clock = -math.inf
        self.preempt_deadline: float | None = None
        self.preempt, self.preempt_delay = preempt_settings(params)

    # ---- the entry point ----

    def handle(self, now: float, event: Input) -> list[Action]:
        handler = TRANSITIONS.get((self.state, type(event)))
        if handler is None:
            raise TypeError(f"not a VRRP machine input: {event!r}")
        now = self.clock = max(now, self.clock)
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
