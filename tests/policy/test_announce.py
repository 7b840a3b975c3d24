"""haipvs/policy/announce.py: issue 17's "Health -> announce" and "Drain and stop", with
injected time (no keepalived counterpart: the issue's Design is the reference)."""

from __future__ import annotations

import ipaddress

from haipvs.policy.announce import (
    TRANSITIONS,
    ActiveConns,
    Adopted,
    Announce,
    AnnouncePolicy,
    Drain,
    DrainDone,
    OwnChecks,
    Phase,
    Reconfigure,
    ServiceHealth,
    Settings,
    Stop,
    Tick,
    TimerAt,
    Transition,
    Undrain,
    Withdraw,
)

VIP = ipaddress.ip_address("192.0.2.10")
VIP2 = ipaddress.ip_address("192.0.2.11")
EVERY = 0.5


def policy(**settings) -> AnnouncePolicy:
    return AnnouncePolicy({VIP: 0, VIP2: 7}, Settings(evaluate_interval=EVERY, **settings))


def routes(outputs) -> list:
    return [o for o in outputs if isinstance(o, Announce | Withdraw | DrainDone)]


def fit(p: AnnouncePolicy, now: float, vip=VIP, healthy=True) -> list:
    out = p.handle(now, OwnChecks(vip, True, True))
    return out + p.handle(now, ServiceHealth(vip, healthy))


def tick_until(p: AnnouncePolicy, start: float, end: float) -> list[tuple[float, object]]:
    """Ticks every 0.1 s from start to end; (time, route output) of each."""
    seen = []
    steps = round((end - start) / 0.1)
    for n in range(steps + 1):
        now = start + n * 0.1
        seen += [(round(now, 3), o) for o in routes(p.handle(now, Tick()))]
    return seen


def test_nothing_is_announced_before_every_input_is_known():
    p = policy(rise=1)
    assert routes(p.handle(0.0, ServiceHealth(VIP, True))) == []
    assert routes(p.handle(1.0, Tick())) == []  # IPVS presence and uplink still unknown
    assert routes(p.handle(1.1, OwnChecks(VIP, True, True))) == [Announce(VIP, 0)]


def test_announce_after_rise_fit_evaluations_in_a_row():
    p = policy(rise=2)
    assert routes(fit(p, 0.0)) == []  # evaluation 1: the change itself
    assert routes(p.handle(0.4, Tick())) == []  # not an evaluation yet (every 0.5 s)
    assert routes(p.handle(0.5, Tick())) == [Announce(VIP, 0)]  # evaluation 2
    assert p.vips[VIP].phase is Phase.ANNOUNCED


def test_the_metric_goes_with_the_announce_for_med():
    p = policy(rise=1)
    assert routes(fit(p, 0.0, VIP2)) == [Announce(VIP2, 7)]


def test_withdraw_after_fall_unfit_evaluations():
    p = policy(rise=1, fall=2)
    fit(p, 0.0)
    assert routes(p.handle(1.0, ServiceHealth(VIP, False))) == []
    assert routes(p.handle(1.5, Tick())) == [Withdraw(VIP)]


def test_fall_1_withdraws_at_the_first_unhealthy_result():
    p = policy(rise=1, fall=1)
    fit(p, 0.0)
    assert routes(p.handle(3.2, ServiceHealth(VIP, False))) == [Withdraw(VIP)]


def test_own_checks_ipvs_service_missing_or_uplink_down_withdraw():
    p = policy(rise=1)
    fit(p, 0.0)
    assert routes(p.handle(1.0, OwnChecks(VIP, False, True))) == [Withdraw(VIP)]
    q = policy(rise=1)
    fit(q, 0.0)
    assert routes(q.handle(1.0, OwnChecks(VIP, True, False))) == [Withdraw(VIP)]


def test_the_first_announce_at_start_is_not_held_down():
    p = policy(rise=1, hold_down=30.0)
    assert routes(fit(p, 0.0)) == [Announce(VIP, 0)]


def test_after_a_withdraw_no_reannounce_before_hold_down():
    p = policy(rise=1, hold_down=5.0)
    fit(p, 0.0)
    p.handle(1.0, ServiceHealth(VIP, False))  # withdrawn at 1.0
    p.handle(1.2, ServiceHealth(VIP, True))  # healthy again at once
    seen = tick_until(p, 1.3, 7.0)
    # hold_down after the last unfit evaluation (the withdraw itself at 1.0)
    assert seen == [(6.0, Announce(VIP, 0))]


def test_flapping_check_gives_at_most_one_update_per_hold_down():
    hold_down = 5.0
    p = policy(rise=1, fall=1, hold_down=hold_down)
    fit(p, 0.0)
    updates: list[tuple[float, object]] = []
    for n in range(600):  # 60 s of a check flapping every 0.3 s
        now = n * 0.1
        if n % 3 == 0:
            updates += [(now, o) for o in routes(p.handle(now, ServiceHealth(VIP, n % 6 == 0)))]
        updates += [(now, o) for o in routes(p.handle(now, Tick()))]
    assert updates[0][1] == Withdraw(VIP)
    # the flapping never stays fit for hold_down: it stays withdrawn, one update in 60 s
    assert len(updates) <= 60.0 / hold_down
    assert len(updates) == 1


def test_slow_flapping_gives_at_most_one_update_per_hold_down_on_average():
    # A server healthy 3 s, down 3 s, hold_down 2 s: the withdraw is never delayed (traffic
    # would be black-holed), and every re-announce waits hold_down after the last unfit
    # evaluation, so over the run there is at most one update per hold_down.
    hold_down = 2.0
    p = policy(rise=1, fall=1, hold_down=hold_down)
    fit(p, 0.0)
    updates = []
    for n in range(1200):
        now = round(n * 0.1, 3)
        if n % 30 == 0:
            updates += [(now, o) for o in routes(p.handle(now, ServiceHealth(VIP, n % 60 == 0)))]
        updates += [(now, o) for o in routes(p.handle(now, Tick()))]
    assert len(updates) <= 120.0 / hold_down
    withdrawn_at = None
    for now, update in updates:
        if isinstance(update, Withdraw):
            withdrawn_at = now
        elif withdrawn_at is not None:
            assert now - withdrawn_at >= hold_down


def test_drain_withdraws_at_once_then_waits_for_connections():
    p = policy(rise=1, drain_timeout=30.0)
    fit(p, 0.0)
    out = p.handle(10.0, Drain(VIP))
    assert routes(out) == [Withdraw(VIP)]
    assert p.vips[VIP].phase is Phase.DRAINING
    assert routes(p.handle(10.1, ActiveConns(VIP, 12))) == []
    assert routes(p.handle(11.0, Tick())) == []
    assert routes(p.handle(12.0, ActiveConns(VIP, 0))) == [DrainDone(VIP)]
    assert p.vips[VIP].phase is Phase.DRAINED
    assert routes(fit(p, 13.0)) == []  # drained: fit or not, not announced


def test_drain_ends_at_drain_timeout_with_connections_left():
    p = policy(rise=1, drain_timeout=3.0)
    fit(p, 0.0)
    out = p.handle(10.0, Drain(VIP))
    assert min(o.at for o in out if isinstance(o, TimerAt)) <= 13.0  # wakes by the deadline
    p.handle(10.1, ActiveConns(VIP, 5))
    assert routes(p.handle(12.9, Tick())) == []
    assert routes(p.handle(13.0, Tick())) == [DrainDone(VIP)]


def test_a_connection_count_from_before_the_drain_does_not_end_it():
    p = policy(rise=1)
    fit(p, 0.0)
    p.handle(1.0, ActiveConns(VIP, 0))  # counted while announced
    assert routes(p.handle(2.0, Drain(VIP))) == [Withdraw(VIP)]  # waits for a fresh count
    assert p.vips[VIP].phase is Phase.DRAINING


def test_undrain_announces_again_without_hold_down():
    p = policy(rise=1, hold_down=60.0)
    fit(p, 0.0)
    p.handle(1.0, Drain(VIP))
    p.handle(1.1, ActiveConns(VIP, 0))
    assert routes(p.handle(2.0, Undrain(VIP))) == [Announce(VIP, 0)]


def test_drain_all_and_undrain_all():
    p = policy(rise=1)
    fit(p, 0.0)
    fit(p, 0.0, VIP2)
    assert routes(p.handle(1.0, Drain())) == [Withdraw(VIP), Withdraw(VIP2)]
    assert routes(p.handle(2.0, Undrain())) == [Announce(VIP, 0), Announce(VIP2, 7)]


def test_graceful_shutdown_marks_first_and_withdraws_once_traffic_is_gone():
    p = policy(rise=1, graceful_shutdown=True)
    fit(p, 0.0)
    assert routes(p.handle(1.0, Drain(VIP))) == [Announce(VIP, 0, graceful_shutdown=True)]
    assert routes(p.handle(1.1, ActiveConns(VIP, 3))) == []
    assert routes(p.handle(2.0, ActiveConns(VIP, 0))) == [Withdraw(VIP), DrainDone(VIP)]


def test_stop_drains_every_vip_and_nothing_comes_back():
    p = policy(rise=1)
    fit(p, 0.0)
    out = p.handle(1.0, Stop())
    assert routes(out) == [Withdraw(VIP)]
    p.handle(1.1, ActiveConns(VIP, 0))
    p.handle(1.1, ActiveConns(VIP2, 0))
    assert p.all_drained
    assert routes(p.handle(2.0, Undrain())) == []
    assert routes(fit(p, 3.0)) == []


def test_stop_after_a_drain_says_drain_done_again_for_the_stop_to_wait_on():
    p = policy(rise=1)
    fit(p, 0.0)
    p.handle(1.0, Drain(VIP))
    p.handle(1.1, ActiveConns(VIP, 0))
    assert DrainDone(VIP) in p.handle(2.0, Stop())


def test_restart_adopts_the_route_it_finds_without_an_update():
    p = policy(rise=2)
    assert routes(p.handle(0.0, Adopted(VIP, 0))) == []
    assert p.vips[VIP].phase is Phase.ANNOUNCED
    assert routes(fit(p, 0.2)) == []  # healthy: kept as it is
    assert routes(p.handle(5.0, ServiceHealth(VIP, False))) == [Withdraw(VIP)]


def test_adopted_route_with_an_old_metric_is_announced_with_the_configured_one():
    p = policy(rise=2)
    assert routes(p.handle(0.0, Adopted(VIP2, 3))) == [Announce(VIP2, 7)]


def test_every_transition_is_named_and_legal():
    p = policy(rise=1, graceful_shutdown=True)
    out = fit(p, 0.0) + p.handle(1.0, ServiceHealth(VIP, False)) + p.handle(2.0, Drain(VIP))
    out += p.handle(3.0, ActiveConns(VIP, 0)) + p.handle(4.0, Undrain(VIP))
    names = [o.name for o in out if isinstance(o, Transition)]
    assert names == ["rise_reached", "fall_reached", "drain", "drain_done", "undrain"]
    for o in out:
        if isinstance(o, Transition):
            sources, target, _ = TRANSITIONS[o.name]
            assert o.before in sources and o.after is target


def test_unknown_vips_are_ignored():
    p = policy(rise=1)
    other = ipaddress.ip_address("203.0.113.1")
    assert routes(fit(p, 0.0, other)) == []
    assert routes(p.handle(0.0, Drain(other))) == []


def test_reload_withdraws_a_vip_no_longer_listed_and_adds_a_new_one():
    p = policy(rise=1)
    fit(p, 0.0)
    new = ipaddress.ip_address("192.0.2.12")
    out = p.handle(1.0, Reconfigure(((VIP2, 7), (new, 0)), Settings(rise=1)))
    assert routes(out) == [Withdraw(VIP)]
    assert set(p.vips) == {VIP2, new}
    assert routes(fit(p, 2.0, new)) == [Announce(new, 0)]


def test_reload_with_a_new_metric_reannounces_at_once():
    p = policy(rise=1)
    fit(p, 0.0)
    out = p.handle(1.0, Reconfigure(((VIP, 30), (VIP2, 7)), Settings(rise=1)))
    assert routes(out) == [Announce(VIP, 30)]


def test_the_next_timer_is_never_in_the_past():
    # held, fit again, hold-down over but rise (4) not met yet: the next wake is the next
    # evaluation, not the hold-down's end that already passed (the driver would spin)
    p = policy(rise=4, hold_down=1.0)
    fit(p, 0.0)
    for now in (0.5, 1.0, 1.5):
        p.handle(now, Tick())
    assert p.vips[VIP].phase is Phase.ANNOUNCED
    p.handle(1.6, ServiceHealth(VIP, False))  # held until 2.6
    p.handle(1.7, ServiceHealth(VIP, True))
    for now in (2.2, 2.7):
        out = p.handle(now, Tick())
        assert p.vips[VIP].phase is Phase.HELD
        assert all(o.at > now for o in out if isinstance(o, TimerAt)), (now, out)


def test_undrain_while_marked_replaces_the_route_plain_without_a_withdraw():
    p = policy(rise=1, graceful_shutdown=True)
    fit(p, 0.0)
    p.handle(1.0, Drain(VIP))
    p.handle(1.1, ActiveConns(VIP, 4))  # still marked, still draining
    assert routes(p.handle(2.0, Undrain(VIP))) == [Announce(VIP, 0)]
    p.handle(3.0, Drain(VIP))
    p.handle(3.1, ServiceHealth(VIP, False))
    assert routes(p.handle(4.0, Undrain(VIP))) == [Withdraw(VIP)]  # marked and not fit
