"""RFC 5798 §6.4 (and RFC 3768 §6.4) state behaviour, driven with an injected clock.

No sleeps: time is the `now` argument. Where keepalived differs from the RFC we follow
keepalived and say so in the test name or docstring.
"""

from __future__ import annotations

import pytest

from haipvs.vrrp.core import (
    TIMER_ADVERT,
    TIMER_GARP_DELAY,
    TIMER_GARP_LOWER_PRIO,
    TIMER_GARP_REFRESH,
    TIMER_MASTER_DOWN,
    TIMER_PREEMPT_DELAY,
    AddVips,
    CancelTimer,
    FaultCleared,
    FaultDetected,
    GarpParams,
    NotifyTransition,
    PrimaryAddressChanged,
    PriorityChanged,
    RemoveVips,
    SendAdvert,
    SendGratuitous,
    SetTimer,
    Shutdown,
    Startup,
    State,
    TimerExpired,
    VrrpMachine,
)

from .builders import (
    LOW_PEER_V4,
    OUR_V4,
    PEER_V4,
    VIP_V4,
    ip,
    params,
    received,
    started,
    to_master,
)

approx = pytest.approx


def _only(actions, kind):
    return [a for a in actions if isinstance(a, kind)]


# ---- §6.4.1 / §6.4.2 timers --------------------------------------------------------


def test_6_4_1_backup_arms_master_down_3_609375_for_prio_100_at_1s():
    machine = VrrpMachine(params())
    actions = machine.handle(0.0, Startup(primary_address=OUR_V4))
    assert actions == [
        SetTimer(TIMER_MASTER_DOWN, approx(3.609375)),
        NotifyTransition(State.INIT, State.BACKUP, "startup"),
    ]
    assert machine.skew_time() == approx(0.609375)


def test_6_4_2_master_down_expiry_makes_master_with_ordered_actions():
    machine = started(params(garp=GarpParams(master_refresh=60.0)))
    actions = machine.handle(3.609375, TimerExpired(TIMER_MASTER_DOWN))
    assert machine.state == State.MASTER
    assert actions == [
        SendAdvert(100, 1.0),
        AddVips(),
        SendGratuitous(5),
        SetTimer(TIMER_ADVERT, approx(4.609375)),
        SetTimer(TIMER_GARP_DELAY, approx(8.609375)),
        SetTimer(TIMER_GARP_REFRESH, approx(68.609375)),
        NotifyTransition(State.BACKUP, State.MASTER, "master_down_timer"),
    ]
    assert machine.master_ip == OUR_V4
    assert machine.counters.became_master == 1


def test_6_4_1_v3_at_100ms_master_down_is_0_3609375():
    machine = VrrpMachine(params(version=3, advert_int=0.1))
    actions = machine.handle(0.0, Startup(primary_address=OUR_V4))
    assert _only(actions, SetTimer) == [SetTimer(TIMER_MASTER_DOWN, approx(0.3609375))]
    actions = machine.handle(0.3609375, TimerExpired(TIMER_MASTER_DOWN))
    assert machine.state == State.MASTER
    assert SendAdvert(100, 0.1) in actions


def test_6_4_2_backup_receiving_priority_0_takes_over_after_skew_time():
    p = params()
    machine = started(p)
    actions = machine.handle(1.0, received(p, priority=0))
    assert _only(actions, SetTimer) == [SetTimer(TIMER_MASTER_DOWN, approx(1.609375))]
    machine.handle(1.609375, TimerExpired(TIMER_MASTER_DOWN))
    assert machine.state == State.MASTER
    assert machine.counters.priority_zero_received == 1


def test_6_4_2_backup_accepting_an_advert_restarts_master_down():
    p = params()
    machine = started(p)
    actions = machine.handle(2.0, received(p, priority=200))
    assert actions == [SetTimer(TIMER_MASTER_DOWN, approx(5.609375))]
    assert machine.master_ip == PEER_V4 and machine.master_priority == 200


def test_6_4_2_v3_backup_adopts_the_masters_interval():
    p = params(version=3, advert_int=1.0)
    machine = started(p)
    actions = machine.handle(1.0, received(p, priority=200, advert_int=0.1))
    # Master_Down = 3 * 0.1 + (256 - 100) * 0.1 / 256
    assert _only(actions, SetTimer) == [SetTimer(TIMER_MASTER_DOWN, approx(1.3609375))]
    assert machine.master_advert_int == 0.1 and machine.advert_int == 0.1


def test_6_4_2_v3_master_goes_back_to_its_own_interval():
    p = params(version=3, advert_int=1.0)
    machine = started(p)
    machine.handle(1.0, received(p, priority=200, advert_int=0.1))
    machine.handle(machine.timers[TIMER_MASTER_DOWN], TimerExpired(TIMER_MASTER_DOWN))
    assert machine.state == State.MASTER and machine.advert_int == 1.0


def test_stale_timer_after_rearm_is_ignored():
    p = params()
    machine = started(p)
    machine.handle(1.0, received(p, priority=200))
    machine.handle(1.0, TimerExpired(TIMER_GARP_DELAY))
    assert machine.state == State.BACKUP
    assert machine.handle(2.0, TimerExpired("no_such_timer")) == []


# ---- preemption ----------------------------------------------------------------------


def test_6_4_2_preempting_backup_discards_lower_priority_and_takes_over():
    p = params(base_priority=150)
    machine = started(p)
    deadline = machine.timers[TIMER_MASTER_DOWN]
    actions = machine.handle(1.0, received(p, priority=100))
    assert _only(actions, SetTimer) == []
    assert machine.timers[TIMER_MASTER_DOWN] == deadline
    machine.handle(deadline, TimerExpired(TIMER_MASTER_DOWN))
    assert machine.state == State.MASTER


def test_6_4_2_non_preempting_backup_accepts_lower_priority_master():
    p = params(base_priority=150, preempt=False)
    machine = started(p)
    actions = machine.handle(1.0, received(p, priority=100))
    assert _only(actions, SetTimer)[0].deadline == approx(1.0 + 3 + 106 / 256)


def test_equal_priority_advert_is_accepted_by_a_backup():
    p = params()
    machine = started(p)
    assert _only(machine.handle(1.0, received(p, priority=100)), SetTimer)


def test_preempt_delay_starts_when_a_lower_master_is_seen_like_keepalived():
    """keepalived: a lower-priority master is followed until preempt_delay has passed
    since it was first seen; only then is it ignored and the down timer runs out."""
    p = params(base_priority=150, preempt_delay=10.0)
    machine = started(p)
    actions = machine.handle(1.0, received(p, priority=100))
    assert SetTimer(TIMER_PREEMPT_DELAY, 11.0) in actions
    assert SetTimer(TIMER_MASTER_DOWN, approx(1.0 + 3 + 106 / 256)) in actions
    for t in range(2, 11):
        assert _only(machine.handle(float(t), received(p, priority=100)), SetTimer)
    machine.handle(11.0, TimerExpired(TIMER_PREEMPT_DELAY))
    assert _only(machine.handle(11.5, received(p, priority=100)), SetTimer) == []
    machine.handle(machine.timers[TIMER_MASTER_DOWN], TimerExpired(TIMER_MASTER_DOWN))
    assert machine.state == State.MASTER


def test_preempt_delay_stops_when_a_higher_master_appears():
    p = params(base_priority=150, preempt_delay=10.0)
    machine = started(p)
    machine.handle(1.0, received(p, priority=100))
    actions = machine.handle(2.0, received(p, priority=200))
    assert CancelTimer(TIMER_PREEMPT_DELAY) in actions
    assert machine.preempt_deadline is None


def test_initial_state_master_is_only_a_hint_like_keepalived():
    """keepalived starts a non-owner configured MASTER as BACKUP, with a down timer of one
    advert interval plus the minimal skew, and forces preempt without delay."""
    p = params(initial_state="MASTER", preempt=False, preempt_delay=30.0)
    machine = VrrpMachine(p)
    actions = machine.handle(0.0, Startup(primary_address=OUR_V4))
    assert machine.state == State.BACKUP
    assert _only(actions, SetTimer) == [SetTimer(TIMER_MASTER_DOWN, approx(1 + 1 / 256))]
    assert machine.preempt and machine.preempt_delay == 0.0


def test_owner_becomes_master_at_startup():
    machine = VrrpMachine(params(base_priority=255))
    actions = machine.handle(0.0, Startup(primary_address=OUR_V4))
    assert machine.state == State.MASTER
    assert actions[:3] == [SendAdvert(255, 1.0), AddVips(), SendGratuitous(5)]
    assert actions[-1] == NotifyTransition(State.INIT, State.MASTER, "address_owner")


def test_startup_with_a_fault_goes_straight_to_fault():
    machine = VrrpMachine(params(base_priority=255))
    actions = machine.handle(0.0, Startup(primary_address=None, fault="eth0 is down"))
    assert actions == [NotifyTransition(State.INIT, State.FAULT, "fault: eth0 is down")]


# ---- §6.4.3 MASTER -------------------------------------------------------------------


def test_6_4_3_master_sends_adverts_every_interval():
    machine, now = to_master(params())
    actions = machine.handle(now + 1.0, TimerExpired(TIMER_ADVERT))
    assert actions == [SendAdvert(100, 1.0), SetTimer(TIMER_ADVERT, approx(now + 2.0))]


def test_6_4_3_master_steps_down_for_higher_priority():
    p = params()
    machine, now = to_master(p)
    actions = machine.handle(now + 0.5, received(p, priority=101))
    assert machine.state == State.BACKUP
    assert RemoveVips() in actions
    assert CancelTimer(TIMER_ADVERT) in actions and CancelTimer(TIMER_GARP_DELAY) in actions
    assert SetTimer(TIMER_MASTER_DOWN, approx(now + 0.5 + 3.609375)) in actions
    assert actions[-1] == NotifyTransition(State.MASTER, State.BACKUP, "higher_priority_advert")
    assert machine.timers.keys() == {TIMER_MASTER_DOWN}
    assert machine.counters.released_master == 1


def test_master_stepping_down_sends_one_parting_advert_first():
    """Not in the RFC: one advert at our own priority before we stand down, so the winner
    sees a lower-priority advert and re-announces the VIPs after a partition heals."""
    p = params()
    machine, now = to_master(p)
    actions = machine.handle(now + 0.5, received(p, priority=101))
    assert actions[0] == SendAdvert(100, 1.0)
    assert _only(actions, SendAdvert) == [SendAdvert(100, 1.0)]
    assert actions.index(SendAdvert(100, 1.0)) < actions.index(RemoveVips())
    assert machine.counters.adverts_sent >= 2


def test_healed_split_brain_winner_reannounces_even_if_its_advert_lands_first():
    """Two masters after a partition. The winner's advert reaches the loser first; the
    loser's parting advert makes the winner send its lower-priority GARP burst."""
    winner_p = params(base_priority=150, garp=GarpParams(lower_prio_repeat=2))
    loser_p = params(base_priority=120)
    winner, now = to_master(winner_p)
    loser, _ = to_master(loser_p)
    loser_actions = loser.handle(now + 0.5, received(loser_p, src=PEER_V4, priority=150))
    assert loser.state == State.BACKUP
    (parting,) = _only(loser_actions, SendAdvert)
    winner_actions = winner.handle(
        now + 0.5, received(winner_p, src=LOW_PEER_V4, priority=parting.priority)
    )
    assert winner.state == State.MASTER
    assert SendGratuitous(2) in winner_actions


def test_6_4_3_equal_priority_from_higher_address_wins():
    p = params()
    machine, now = to_master(p)
    machine.handle(now + 0.5, received(p, src=PEER_V4, priority=100))  # 192.0.2.20 > .10
    assert machine.state == State.BACKUP


def test_6_4_3_equal_priority_from_lower_address_loses():
    p = params()
    machine, now = to_master(p)
    actions = machine.handle(now + 0.5, received(p, src=LOW_PEER_V4, priority=100))
    assert machine.state == State.MASTER
    assert SendAdvert(100, 1.0) in actions


def test_address_compare_is_unsigned():
    p = params()
    machine, now = to_master(p)
    machine.handle(now, PrimaryAddressChanged(ip("192.0.2.10")))
    machine.handle(now + 0.5, received(p, src=ip("203.0.113.1"), priority=100))
    assert machine.state == State.BACKUP  # 203.x > 192.x even though the top bit is set


def test_master_answers_lower_priority_at_once_and_regarps_like_keepalived():
    p = params(garp=GarpParams(lower_prio_repeat=3, lower_prio_delay=2.0))
    machine, now = to_master(p)
    actions = machine.handle(now + 0.5, received(p, src=PEER_V4, priority=50))
    assert machine.state == State.MASTER
    assert _only(actions, SendAdvert) == [SendAdvert(100, 1.0)]
    assert SendGratuitous(3) in actions
    assert SetTimer(TIMER_GARP_LOWER_PRIO, approx(now + 2.5)) in actions
    assert machine.handle(now + 2.5, TimerExpired(TIMER_GARP_LOWER_PRIO)) == [SendGratuitous(3)]


def test_master_answers_priority_zero_and_restarts_its_interval():
    p = params()
    machine, now = to_master(p)
    actions = machine.handle(now + 0.25, received(p, priority=0))
    assert actions == [SendAdvert(100, 1.0), SetTimer(TIMER_ADVERT, approx(now + 1.25))]


def test_garp_second_burst_and_periodic_refresh():
    p = params(
        garp=GarpParams(
            master_delay=5.0, master_repeat=4, master_refresh=10.0, master_refresh_repeat=2
        )
    )
    machine, now = to_master(p)
    assert machine.handle(now + 5, TimerExpired(TIMER_GARP_DELAY)) == [SendGratuitous(4)]
    actions = machine.handle(now + 15, TimerExpired(TIMER_GARP_REFRESH))
    assert actions == [SendGratuitous(2), SetTimer(TIMER_GARP_REFRESH, approx(now + 25))]


def test_no_delayed_garp_when_master_delay_is_zero():
    machine, _ = to_master(params(garp=GarpParams(master_delay=0.0)))
    assert TIMER_GARP_DELAY not in machine.timers


# ---- §6.4.3 shutdown, faults ---------------------------------------------------------


def test_6_4_3_master_shutdown_sends_priority_0_and_releases_vips():
    machine, now = to_master(params())
    actions = machine.handle(now + 0.1, Shutdown())
    assert _only(actions, SendAdvert) == [SendAdvert(0, 1.0)]
    assert actions.index(SendAdvert(0, 1.0)) < actions.index(RemoveVips())
    assert actions[-1] == NotifyTransition(State.MASTER, State.STOP, "shutdown")
    assert machine.timers == {}
    assert machine.counters.priority_zero_sent == 1


def test_6_4_2_backup_shutdown_sends_nothing():
    machine = started(params())
    actions = machine.handle(1.0, Shutdown())
    assert actions == [
        CancelTimer(TIMER_MASTER_DOWN),
        NotifyTransition(State.BACKUP, State.STOP, "shutdown"),
    ]


def test_fault_as_master_releases_vips_and_stops_adverts():
    p = params()
    machine, now = to_master(p)
    actions = machine.handle(now + 1, FaultDetected("eth0 is down"))
    assert machine.state == State.FAULT and machine.timers == {}
    assert RemoveVips() in actions
    assert machine.handle(now + 2, received(p, priority=200)) == []


def test_fault_cleared_goes_to_backup_with_a_fresh_down_timer():
    p = params()
    machine = started(p)
    machine.handle(1.0, FaultDetected("eth0 is down"))
    actions = machine.handle(5.0, FaultCleared(primary_address=ip("192.0.2.11")))
    assert machine.state == State.BACKUP
    assert _only(actions, SetTimer) == [SetTimer(TIMER_MASTER_DOWN, approx(8.609375))]
    assert machine.primary_address == ip("192.0.2.11")


def test_owner_recovering_from_fault_goes_through_backup_like_keepalived():
    machine = started(params(base_priority=255))
    machine.handle(1.0, FaultDetected("eth0 is down"))
    machine.handle(2.0, FaultCleared())
    assert machine.state == State.BACKUP
    assert machine.timers[TIMER_MASTER_DOWN] == approx(2.0 + 3 + 1 / 256)


# ---- effective priority ----------------------------------------------------------------


def test_priority_change_moves_the_running_down_timer_like_keepalived():
    machine = started(params())
    before = machine.timers[TIMER_MASTER_DOWN]
    actions = machine.handle(1.0, PriorityChanged(200))
    assert machine.effective_priority == 200
    assert _only(actions, SetTimer) == [
        SetTimer(TIMER_MASTER_DOWN, approx(before - (200 - 100) / 256))
    ]


def test_priority_is_clamped_to_non_owner_range():
    machine = started(params())
    machine.handle(1.0, PriorityChanged(300))
    assert machine.effective_priority == 254
    machine.handle(1.0, PriorityChanged(-5))
    assert machine.effective_priority == 1


def test_owner_ignores_priority_changes_like_keepalived():
    machine = started(params(base_priority=255))
    machine.handle(1.0, PriorityChanged(10))
    assert machine.effective_priority == 255


def test_master_advertises_its_new_priority():
    machine, now = to_master(params())
    machine.handle(now, PriorityChanged(90))
    assert machine.handle(now + 1, TimerExpired(TIMER_ADVERT))[0] == SendAdvert(90, 1.0)


def test_advert_for_send_action():
    machine = VrrpMachine(params(auth_pass=b"pw"))
    advert = machine.advert(0)
    assert (advert.version, advert.vrid, advert.priority, advert.addresses) == (2, 51, 0, (VIP_V4,))
    assert advert.auth_type == 1 and advert.auth_data == b"pw\x00\x00\x00\x00\x00\x00"
