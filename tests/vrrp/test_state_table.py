"""Every (state, input) pair of the transition table, and random input sequences."""

from __future__ import annotations

import dataclasses
import itertools
import math

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from haipvs.vrrp import core
from haipvs.vrrp.core import (
    INPUT_TYPES,
    TRANSITIONS,
    AddVips,
    AdvertReceived,
    CancelTimer,
    EntryLost,
    FaultCleared,
    FaultDetected,
    Log,
    NotifyLowerPriority,
    NotifyTransition,
    PrimaryAddressChanged,
    PriorityChanged,
    RemoveVips,
    Retune,
    SendAdvert,
    SendGratuitous,
    SetTimer,
    Shutdown,
    Startup,
    State,
    SyncGroupTransition,
    TimerExpired,
    VrrpMachine,
)
from haipvs.vrrp.transitions import IGNORED

from .builders import LOW_PEER_V4, OUR_V4, PEER_V4, advert_for, ip, params, started, to_master

B, M, F, S, N = State.BACKUP, State.MASTER, State.FAULT, State.STOP, State.INIT
P = params(garp=core.GarpParams(master_refresh=30.0, lower_prio_delay=2.0))

# Representative inputs; the timer is the one that matters in each state.
INPUTS = {
    Startup: lambda state: Startup(primary_address=OUR_V4),
    AdvertReceived: lambda state: AdvertReceived(advert_for(P, priority=200), PEER_V4),
    TimerExpired: lambda state: TimerExpired("advert" if state == M else "master_down"),
    Shutdown: lambda state: Shutdown(),
    FaultDetected: lambda state: FaultDetected("link down"),
    FaultCleared: lambda state: FaultCleared(primary_address=OUR_V4),
    PriorityChanged: lambda state: PriorityChanged(150),
    PrimaryAddressChanged: lambda state: PrimaryAddressChanged(ip("192.0.2.11")),
    Retune: lambda state: Retune(dataclasses.replace(P, advert_int=2.0, preempt=False)),
    # The target that moves the member where one does: BACKUP follows to MASTER and back.
    SyncGroupTransition: lambda state: SyncGroupTransition(
        B if state == M else M, "sync group G1: vi_other moved"
    ),
    EntryLost: lambda state: EntryLost("virtual route 198.51.100.0/24 deleted"),
}

# The state each representative input leads to; `None` marks a pair the table ignores.
EXPECTED: dict[tuple[State, type], State | None] = {
    (N, Startup): B,
    (N, AdvertReceived): None,
    (N, TimerExpired): None,
    (N, Shutdown): S,
    (N, FaultDetected): F,
    (N, FaultCleared): None,
    (N, PriorityChanged): N,
    (N, PrimaryAddressChanged): N,
    (N, Retune): N,
    (N, SyncGroupTransition): None,
    (N, EntryLost): None,
    (B, Startup): None,
    (B, AdvertReceived): B,
    (B, TimerExpired): M,
    (B, Shutdown): S,
    (B, FaultDetected): F,
    (B, FaultCleared): None,
    (B, PriorityChanged): B,
    (B, PrimaryAddressChanged): B,
    (B, Retune): B,
    (B, SyncGroupTransition): M,
    (B, EntryLost): None,
    (M, Startup): None,
    (M, AdvertReceived): B,
    (M, TimerExpired): M,
    (M, Shutdown): S,
    (M, FaultDetected): F,
    (M, FaultCleared): None,
    (M, PriorityChanged): M,
    (M, PrimaryAddressChanged): M,
    (M, Retune): M,
    (M, SyncGroupTransition): B,
    (M, EntryLost): B,
    (F, Startup): None,
    (F, AdvertReceived): None,
    (F, TimerExpired): None,
    (F, Shutdown): S,
    (F, FaultDetected): F,
    (F, FaultCleared): B,
    (F, PriorityChanged): F,
    (F, PrimaryAddressChanged): F,
    (F, Retune): F,
    (F, SyncGroupTransition): None,
    (F, EntryLost): None,
    **{(S, kind): None for kind in INPUT_TYPES},
}


def machine_in(state: State) -> tuple[VrrpMachine, float]:
    if state == N:
        return VrrpMachine(P), 0.0
    if state == B:
        return started(P), 0.0
    machine, now = to_master(P)
    if state == F:
        machine.handle(now, FaultDetected("link down"))
    elif state == S:
        machine.handle(now, Shutdown())
    return machine, now


def test_table_covers_every_state_and_input():
    assert set(TRANSITIONS) == set(itertools.product(State, INPUT_TYPES))
    assert set(EXPECTED) == set(TRANSITIONS)


def test_ignored_pairs_in_the_table_are_the_expected_ones():
    ignored = {pair for pair, handler in TRANSITIONS.items() if handler is IGNORED}
    assert ignored == {pair for pair, new in EXPECTED.items() if new is None}


@pytest.mark.parametrize(
    ("state", "kind"), sorted(EXPECTED, key=lambda pair: (pair[0], pair[1].__name__))
)
def test_every_state_input_pair(state, kind):
    machine, now = machine_in(state)
    assert machine.state == state
    timers_before = dict(machine.timers)
    event = INPUTS[kind](state)
    if kind is TimerExpired and event.name in machine.timers:
        now = machine.timers[event.name]
    else:
        now += 0.5
    actions = machine.handle(now, event)
    expected = EXPECTED[(state, kind)]
    if expected is None:
        assert actions == []
        assert machine.state == state
        if kind is not TimerExpired:
            assert machine.timers == timers_before
        return
    assert machine.state == expected
    transitions = [a for a in actions if isinstance(a, NotifyTransition)]
    if expected != state:
        assert transitions == [NotifyTransition(state, expected, transitions[0].reason)]
    else:
        assert transitions == []


def test_unknown_input_type_is_refused():
    with pytest.raises(TypeError):
        VrrpMachine(P).handle(0.0, "startup")


# ---- random sequences --------------------------------------------------------------

ALL_TIMERS = [
    core.TIMER_ADVERT,
    core.TIMER_MASTER_DOWN,
    core.TIMER_PREEMPT_DELAY,
    core.TIMER_GARP_DELAY,
    core.TIMER_GARP_REFRESH,
    core.TIMER_GARP_LOWER_PRIO,
]
ACTION_TYPES = (
    SendAdvert,
    SetTimer,
    CancelTimer,
    AddVips,
    RemoveVips,
    SendGratuitous,
    NotifyTransition,
    NotifyLowerPriority,
    Log,
)


class MachineSequence(RuleBasedStateMachine):
    """Drives one machine the way the driver does, checking its promises after each step:
    only known actions, the driver's copy of the timers equals the machine's, VIPs are held
    exactly while MASTER, and each state keeps the timers it needs."""

    params_choice = st.sampled_from(
        [
            P,
            params(version=3, advert_int=0.5, preempt=False),
            params(preempt_delay=5.0, garp=core.GarpParams(master_delay=0.0)),
            params(base_priority=255, owner_ignore_adverts=False),
            params(initial_state="MASTER"),
        ]
    )

    def __init__(self):
        super().__init__()
        self.machine: VrrpMachine | None = None
        self.now = 0.0
        self.timers: dict[str, float] = {}
        self.vips_held = False
        self.state = State.INIT

    @rule(p=params_choice)
    @precondition(lambda self: self.machine is None)
    def create(self, p):
        self.machine = VrrpMachine(p)

    def _feed(self, event, advance=0.0):
        # Like the driver: timers due before the input arrives fire first, in order.
        target = self.now + advance
        while self.timers and min(self.timers.values()) <= target:
            name, deadline = min(self.timers.items(), key=lambda item: item[1])
            del self.timers[name]
            self.now = max(self.now, deadline)
            self._apply(self.machine.handle(self.now, TimerExpired(name)))
        self.now = target
        self._apply(self.machine.handle(self.now, event))

    def _apply(self, actions):
        for action in actions:
            assert isinstance(action, ACTION_TYPES), action
            match action:
                case SetTimer(name=name, deadline=deadline):
                    assert deadline >= self.now and math.isfinite(deadline)
                    self.timers[name] = deadline
                case CancelTimer(name=name):
                    assert name in self.timers
                    del self.timers[name]
                case AddVips():
                    assert not self.vips_held
                    self.vips_held = True
                case RemoveVips():
                    assert self.vips_held
                    self.vips_held = False
                case NotifyTransition(old=old, new=new):
                    assert old == self.state and new != old
                    self.state = new
                case SendAdvert(priority=priority):
                    assert 0 <= priority <= 255
                case SendGratuitous(count=count):
                    assert count > 0
                case NotifyLowerPriority():  # vrrp.c vrrp_state_master_rx: only as MASTER
                    assert self.state == State.MASTER

    @rule(dt=st.floats(0, 5))
    @precondition(lambda self: self.machine is not None)
    def startup(self, dt):
        self._feed(Startup(primary_address=OUR_V4), dt)

    @rule(
        dt=st.floats(0, 5),
        priority=st.integers(0, 255),
        src=st.sampled_from([PEER_V4, LOW_PEER_V4, OUR_V4]),
        centis=st.integers(1, 300),
    )
    @precondition(lambda self: self.machine is not None)
    def advert(self, dt, priority, src, centis):
        p = self.machine.params
        interval = centis / 100 if p.version == 3 else p.advert_int
        self._feed(AdvertReceived(advert_for(p, priority=priority, advert_int=interval), src), dt)

    @rule()
    @precondition(lambda self: self.machine is not None and self.timers)
    def fire_earliest_timer(self):
        name, deadline = min(self.timers.items(), key=lambda item: item[1])
        del self.timers[name]
        self.now = max(self.now, deadline)
        self._apply(self.machine.handle(self.now, TimerExpired(name)))

    @rule(name=st.sampled_from([*ALL_TIMERS, "bogus"]))
    @precondition(lambda self: self.machine is not None)
    def stale_timer(self, name):
        if name not in self.timers:
            self._feed(TimerExpired(name))

    @rule(dt=st.floats(0, 5))
    @precondition(lambda self: self.machine is not None)
    def shutdown(self, dt):
        self._feed(Shutdown(), dt)

    @rule(dt=st.floats(0, 5))
    @precondition(lambda self: self.machine is not None)
    def fault(self, dt):
        self._feed(FaultDetected("link down"), dt)

    @rule(dt=st.floats(0, 5))
    @precondition(lambda self: self.machine is not None)
    def fault_cleared(self, dt):
        self._feed(FaultCleared(primary_address=OUR_V4), dt)

    @rule(dt=st.floats(0, 5), priority=st.integers(-50, 300))
    @precondition(lambda self: self.machine is not None)
    def priority(self, dt, priority):
        self._feed(PriorityChanged(priority), dt)

    @rule(address=st.sampled_from([None, OUR_V4, ip("192.0.2.200")]))
    @precondition(lambda self: self.machine is not None)
    def primary(self, address):
        self._feed(PrimaryAddressChanged(address))

    @rule(
        dt=st.floats(0, 5),
        interval_steps=st.integers(1, 5),
        preempt=st.booleans(),
        preempt_delay=st.sampled_from([0.0, 2.0, 5.0]),
        initial_state=st.sampled_from(["BACKUP", "MASTER"]),
        priority=st.integers(1, 254),
        refresh=st.sampled_from([0.0, 3.0]),
    )
    @precondition(lambda self: self.machine is not None)
    def retune(self, dt, interval_steps, preempt, preempt_delay, initial_state, priority,
               refresh):
        p = self.machine.params
        new = dataclasses.replace(
            p,
            # v2 whole seconds; v3 tenths, so sub-second intervals come up too.
            advert_int=float(interval_steps) if p.version == 2 else interval_steps / 10,
            preempt=preempt,
            preempt_delay=preempt_delay,
            initial_state=initial_state,
            base_priority=p.base_priority if p.owner else priority,
            garp=dataclasses.replace(p.garp, master_refresh=refresh),
        )
        self._feed(Retune(new), dt)

    @rule(change=st.sampled_from(["vrid", "version", "vips", "owner"]))
    @precondition(lambda self: self.machine is not None and self.state != State.STOP)
    def retune_of_another_identity_is_refused(self, change):
        p = self.machine.params
        other = {
            "vrid": {"vrid": p.vrid % 255 + 1},
            "version": {"version": 3 if p.version == 2 else 2, "advert_int": 1.0},
            "vips": {"vips": (*p.vips, ip("192.0.2.101"))},
            "owner": {"base_priority": 100 if p.owner else 255},
        }[change]
        before = (self.machine.params, dict(self.machine.timers), self.machine.state)
        with pytest.raises(ValueError):
            self.machine.handle(self.now, Retune(dataclasses.replace(p, **other)))
        assert (self.machine.params, self.machine.timers, self.machine.state) == before

    # (`target` is a keyword of @rule itself)
    @rule(dt=st.floats(0, 5), to=st.sampled_from(list(State)))
    @precondition(lambda self: self.machine is not None)
    def sync_group(self, dt, to):
        self._feed(SyncGroupTransition(to, "sync group G1: vi_other moved"), dt)

    @invariant()
    def promises_hold(self):
        machine = self.machine
        if machine is None:
            return
        assert machine.state == self.state
        assert machine.timers == self.timers
        assert self.vips_held == (machine.state == State.MASTER)
        if machine.state == State.MASTER:
            assert core.TIMER_ADVERT in machine.timers
        if machine.state == State.BACKUP:
            assert core.TIMER_MASTER_DOWN in machine.timers
        if machine.state in (State.INIT, State.FAULT, State.STOP):
            assert machine.timers == {}
        if machine.params.owner:
            assert machine.effective_priority == 255
        else:
            assert 1 <= machine.effective_priority <= 254


MachineSequence.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None
)
test_random_input_sequences = MachineSequence.TestCase
