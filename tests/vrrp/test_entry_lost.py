"""keepalived_netlink.c netlink_route_filter() / netlink_rule_filter() -> set_vrrp_backup():
a tracked virtual route or rule deleted while MASTER sends the instance to BACKUP
(vrrp_state_leave_master(): VIPs released, no priority-0 advert) with its down timer at
the skew time, "a quick transition back to master"."""

from __future__ import annotations

import pytest

from haipvs.vrrp.core import (
    TIMER_MASTER_DOWN,
    EntryLost,
    RemoveVips,
    SendAdvert,
    State,
    TimerExpired,
)

from .builders import params, started, to_master


def test_set_vrrp_backup_leaves_master_without_a_priority_zero_advert():
    machine, now = to_master(params())
    actions = machine.handle(now + 0.1, EntryLost("virtual route 198.51.100.0/24 deleted"))
    assert machine.state == State.BACKUP
    assert any(isinstance(a, RemoveVips) for a in actions)
    assert not any(isinstance(a, SendAdvert) for a in actions)


def test_set_vrrp_backup_arms_the_down_timer_at_the_skew_time():
    machine, now = to_master(params())
    machine.handle(now, EntryLost("virtual rule deleted"))
    assert machine.timers[TIMER_MASTER_DOWN] == pytest.approx(now + machine.skew_time())
    # no other router: MASTER again once the skew time has passed (routes re-added)
    machine.handle(now + machine.skew_time(), TimerExpired(TIMER_MASTER_DOWN))
    assert machine.state == State.MASTER


def test_only_a_master_steps_down():
    machine = started(params())
    assert machine.handle(0.5, EntryLost("virtual route deleted")) == []
    assert machine.state == State.BACKUP
