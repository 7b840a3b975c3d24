"""Retune (reload of a running instance) and SyncGroupTransition (keepalived vrrp_sync_group)
through the core's one entry point, with time passed in explicitly."""

from __future__ import annotations

import dataclasses

import pytest

from haipvs.vrrp.core import (
    TIMER_ADVERT,
    TIMER_GARP_DELAY,
    TIMER_GARP_REFRESH,
    TIMER_MASTER_DOWN,
    TIMER_PREEMPT_DELAY,
    AddVips,
    CancelTimer,
    FaultDetected,
    GarpParams,
    Log,
    NotifyTransition,
    RemoveVips,
    Retune,
    SendAdvert,
    SendGratuitous,
    SetTimer,
    Shutdown,
    State,
    SyncGroupTransition,
    TimerExpired,
    VrrpMachine,
)

from .builders import LOW_PEER_V4, OUR_V4, PEER_V4, ip, params, received, started, to_master

REASON = "sync group G1: vi_other became MASTER"


def retuned(machine: VrrpMachine, **changes) -> Retune:
    return Retune(dataclasses.replace(machine.params, **changes))


# ---- Retune ---------------------------------------------------------------------------


def test_retune_in_master_advertises_and_rearms_the_advert_timer_at_the_new_interval():
    machine, now = to_master(params(advert_int=1.0))
    now += 0.4
    actions = machine.handle(now, retuned(machine, advert_int=3.0))
    assert actions == [
        Log("advert_int_changed", {"old": 1.0, "new": 3.0}),
        SendAdvert(100, 3.0),
        SetTimer(TIMER_ADVERT, now + 3.0),
    ]
    assert machine.advert_int == 3.0
    assert machine.advert(100).advert_int == 3.0
    # The cadence continues at the new interval.
    deadline = machine.timers[TIMER_ADVERT]
    assert machine.handle(deadline, TimerExpired(TIMER_ADVERT)) == [
        SendAdvert(100, 3.0),
        SetTimer(TIMER_ADVERT, deadline + 3.0),
    ]


def test_retune_in_master_v3_to_a_shorter_interval():
    machine, now = to_master(params(version=3, advert_int=1.0))
    actions = machine.handle(now + 0.1, retuned(machine, advert_int=0.2))
    assert SetTimer(TIMER_ADVERT, now + 0.1 + 0.2) in actions
    assert machine.timers[TIMER_ADVERT] == pytest.approx(now + 0.3)
    assert machine.master_advert_int == 0.2


def test_retune_in_master_with_the_same_interval_leaves_the_timers_alone():
    machine, now = to_master(params())
    timers = dict(machine.timers)
    assert machine.handle(now + 0.5, retuned(machine, preempt_delay=3.0)) == []
    assert machine.timers == timers


def test_retune_in_master_restarts_a_changed_garp_refresh():
    machine, now = to_master(params(garp=GarpParams(master_refresh=0.0)))
    assert TIMER_GARP_REFRESH not in machine.timers
    garp = GarpParams(master_refresh=30.0)
    assert machine.handle(now + 1, retuned(machine, garp=garp)) == [
        SetTimer(TIMER_GARP_REFRESH, now + 31.0)
    ]
    off = GarpParams(master_refresh=0.0)
    assert machine.handle(now + 2, retuned(machine, garp=off)) == [CancelTimer(TIMER_GARP_REFRESH)]


def test_retune_turning_preempt_off_makes_the_backup_follow_a_lower_master():
    machine = started(params(base_priority=150))
    lower = received(machine.params, src=PEER_V4, priority=100)
    # Preempting: the lower master is ignored and the down timer runs on.
    assert [type(a) for a in machine.handle(0.5, lower)] == [Log]
    assert machine.handle(0.6, retuned(machine, preempt=False)) == []
    assert (machine.preempt, machine.preempt_delay) == (False, 0.0)
    actions = machine.handle(1.0, lower)
    assert actions == [SetTimer(TIMER_MASTER_DOWN, 1.0 + machine.master_down_interval())]


def test_retune_turning_preempt_on_takes_over_from_a_lower_master():
    machine = started(params(base_priority=150, preempt=False))
    lower = received(machine.params, src=PEER_V4, priority=100)
    machine.handle(0.5, lower)  # followed: down timer restarted
    machine.handle(0.6, retuned(machine, preempt=True))
    assert machine.preempt is True
    machine.handle(1.0, lower)  # now discarded
    deadline = machine.timers[TIMER_MASTER_DOWN]
    assert deadline == 0.5 + machine.master_down_interval()
    actions = machine.handle(deadline, TimerExpired(TIMER_MASTER_DOWN))
    assert actions[-1] == NotifyTransition(State.BACKUP, State.MASTER, "master_down_timer")


def test_retune_initial_state_master_preempts_without_delay_like_init():
    machine = started(params(preempt=False, preempt_delay=5.0))
    machine.handle(0.1, retuned(machine, initial_state="MASTER"))
    fresh = VrrpMachine(machine.params)
    assert (machine.preempt, machine.preempt_delay) == (fresh.preempt, fresh.preempt_delay)
    assert (machine.preempt, machine.preempt_delay) == (True, 0.0)


def test_retune_moves_a_running_preempt_delay_or_drops_it():
    machine = started(params(base_priority=150, preempt_delay=10.0))
    machine.handle(1.0, received(machine.params, src=LOW_PEER_V4, priority=100))
    assert machine.timers[TIMER_PREEMPT_DELAY] == 11.0
    # The delay started at 1.0; 4 s from there.
    assert machine.handle(2.0, retuned(machine, preempt_delay=4.0)) == [
        SetTimer(TIMER_PREEMPT_DELAY, 5.0)
    ]
    assert machine.preempt_deadline == 5.0
    assert machine.handle(3.0, retuned(machine, preempt_delay=0.0)) == [
        CancelTimer(TIMER_PREEMPT_DELAY)
    ]
    assert machine.preempt_deadline is None


def test_retune_v2_backup_uses_the_new_interval_for_master_down():
    machine = started(params(advert_int=1.0))
    deadline = machine.timers[TIMER_MASTER_DOWN]
    assert machine.handle(0.5, retuned(machine, advert_int=2.0)) == []
    assert machine.timers[TIMER_MASTER_DOWN] == deadline  # the next advert restarts it
    assert machine.master_down_interval() == 3 * 2.0 + (256 - 100) / 256
    actions = machine.handle(1.0, received(machine.params, priority=120, advert_int=2.0))
    assert actions == [SetTimer(TIMER_MASTER_DOWN, 1.0 + 6.609375)]


def test_retune_v3_backup_keeps_the_interval_learned_from_the_master():
    machine = started(params(version=3, advert_int=1.0))
    machine.handle(0.5, received(machine.params, priority=120, advert_int=0.5))
    assert machine.master_advert_int == 0.5
    machine.handle(0.6, retuned(machine, advert_int=2.0))
    assert machine.master_advert_int == 0.5
    assert machine.params.advert_int == 2.0


def test_retune_leaves_priority_to_priority_changed():
    machine = started(params(base_priority=100))
    machine.handle(0.1, retuned(machine, base_priority=180))
    assert machine.effective_priority == 100
    assert machine.params.base_priority == 180


@pytest.mark.parametrize(
    "change",
    [
        {"vrid": 52},
        {"version": 3},
        {"vips": (ip("192.0.2.101"),)},
        {"base_priority": 255},
    ],
    ids=["vrid", "version", "vips", "owner"],
)
def test_retune_refuses_another_identity_and_changes_nothing(change):
    machine, now = to_master(params())
    before = (machine.params, dict(machine.timers), machine.state)
    with pytest.raises(ValueError, match="new instance"):
        machine.handle(now + 0.1, retuned(machine, **change))
    assert (machine.params, machine.timers, machine.state) == before


def test_retune_accepts_the_same_vips_in_another_order():
    p = params(vips=(ip("192.0.2.100"), ip("192.0.2.101")))
    machine = started(p)
    machine.handle(0.1, retuned(machine, vips=tuple(reversed(p.vips))))
    assert machine.params.vips == tuple(reversed(p.vips))


def test_retune_is_ignored_after_stop():
    machine, now = to_master(params())
    machine.handle(now, Shutdown())
    assert machine.handle(now + 1, retuned(machine, vrid=99)) == []


# ---- SyncGroupTransition ---------------------------------------------------------------


def test_sync_to_master_is_the_master_down_path_with_the_group_reason():
    p = params(garp=GarpParams(master_delay=2.0, master_refresh=30.0))
    by_timer, by_group = started(p), started(p)
    now = by_timer.timers[TIMER_MASTER_DOWN]
    timer_path = by_timer.handle(now, TimerExpired(TIMER_MASTER_DOWN))
    group_path = by_group.handle(now, SyncGroupTransition(State.MASTER, REASON))
    # The driver took the expired timer off already; the group path cancels the armed one.
    assert group_path[0] == CancelTimer(TIMER_MASTER_DOWN)
    assert group_path[1:-1] == timer_path[:-1]
    assert [type(a) for a in group_path[1:]] == [
        SendAdvert,
        AddVips,
        SendGratuitous,
        SetTimer,
        SetTimer,
        SetTimer,
        NotifyTransition,
    ]
    assert group_path[-1] == NotifyTransition(State.BACKUP, State.MASTER, REASON)
    assert by_group.state == State.MASTER
    assert by_group.timers == by_timer.timers
    assert by_group.master_ip == OUR_V4


def test_sync_to_backup_removes_vips_and_arms_master_down_without_an_advert():
    machine, now = to_master(params(garp=GarpParams(master_delay=2.0)))
    master_ip = machine.master_ip
    now += 0.5
    actions = machine.handle(now, SyncGroupTransition(State.BACKUP, "sync group G1: down"))
    assert actions == [
        CancelTimer(TIMER_ADVERT),
        CancelTimer(TIMER_GARP_DELAY),
        RemoveVips(),
        SetTimer(TIMER_MASTER_DOWN, now + machine.master_down_interval()),
        NotifyTransition(State.MASTER, State.BACKUP, "sync group G1: down"),
    ]
    assert machine.state == State.BACKUP
    assert machine.timers == {TIMER_MASTER_DOWN: now + 3.609375}
    assert machine.master_ip == master_ip
    assert machine.counters.adverts_received == 0


def test_sync_to_backup_matches_the_better_advert_path_up_to_the_reason():
    p = params(version=3)
    by_advert, now = to_master(p)
    by_group, _ = to_master(p)
    advert_path = by_advert.handle(now + 0.5, received(p, priority=200))
    group_path = by_group.handle(now + 0.5, SyncGroupTransition(State.BACKUP, REASON))
    # Only a step-down to a better advert sends the parting advert: there is a winner on the
    # wire to make re-announce. A sync-group step-down has none.
    assert advert_path[0] == SendAdvert(100, 1.0)
    assert advert_path[1:-1] == group_path[:-1]
    assert by_group.timers == by_advert.timers


IGNORED_FOLLOWS = [
    (state, target)
    for state in State
    for target in State
    if (state, target) not in {(State.BACKUP, State.MASTER), (State.MASTER, State.BACKUP)}
]


def machine_in(state: State) -> tuple[VrrpMachine, float]:
    if state == State.INIT:
        return VrrpMachine(params()), 0.0
    if state == State.BACKUP:
        return started(params()), 0.0
    machine, now = to_master(params())
    if state == State.FAULT:
        machine.handle(now, FaultDetected("link down"))
    elif state == State.STOP:
        machine.handle(now, Shutdown())
    return machine, now


@pytest.mark.parametrize(("state", "target"), IGNORED_FOLLOWS)
def test_other_sync_group_moves_change_nothing(state, target):
    machine, now = machine_in(state)
    timers = dict(machine.timers)
    assert machine.handle(now + 0.5, SyncGroupTransition(target, REASON)) == []
    assert machine.state == state
    assert machine.timers == timers
