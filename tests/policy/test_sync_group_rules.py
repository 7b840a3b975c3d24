"""keepalived's vrrp_sync_group rules (keepalived/vrrp/vrrp_sync.c): group state, the
fault pull, and the follow rule, driven through real core machines with time injected."""

from __future__ import annotations

import ipaddress

from haipvs.policy.sync_group import Member, fault_pull, follow, follows, group_state
from haipvs.vrrp import core
from haipvs.vrrp.core import State, SyncGroupTransition

MASTER, BACKUP, FAULT, STOP, INIT = (State.MASTER, State.BACKUP, State.FAULT, State.STOP,
                                     State.INIT)


def test_vrrp_sync_group_state_is_fault_when_any_member_is():
    assert group_state([MASTER, FAULT, BACKUP]) == FAULT


def test_vrrp_sync_group_state_settles_once_all_agree():
    assert group_state([MASTER, MASTER]) == MASTER
    assert group_state([BACKUP]) == BACKUP
    assert group_state([MASTER, BACKUP]) is None
    assert group_state([INIT, INIT]) is None


def test_vrrp_sync_one_member_fault_pulls_group():
    members = [Member("VI_1", True, False), Member("VI_2", True, True),
               Member("VI_3", True, False)]
    assert fault_pull("G", members) == {
        "VI_1": "sync group G: VI_2 is in FAULT",
        "VI_2": None,
        "VI_3": "sync group G: VI_2 is in FAULT",
    }


def test_vrrp_sync_two_faulted_members_hold_each_other_and_name_the_first():
    members = [Member("VI_1", True, True), Member("VI_2", True, True),
               Member("VI_3", True, False)]
    assert fault_pull("G", members) == {
        "VI_1": "sync group G: VI_2 is in FAULT",
        "VI_2": "sync group G: VI_1 is in FAULT",
        "VI_3": "sync group G: VI_1 is in FAULT",
    }


def test_vrrp_sync_a_member_not_started_pulls_no_one():
    members = [Member("VI_1", False, True), Member("VI_2", True, False)]
    assert fault_pull("G", members) == {"VI_1": None, "VI_2": None}


def test_vrrp_sync_pull_is_released_when_the_fault_clears():
    members = [Member("VI_1", True, False), Member("VI_2", True, False)]
    assert fault_pull("G", members) == {"VI_1": None, "VI_2": None}


def test_vrrp_sync_master_takes_the_others_along():
    assert follow("G", "VI_1", BACKUP, MASTER, ["VI_1", "VI_2", "VI_3"]) == [
        ("VI_2", SyncGroupTransition(MASTER, "sync group G: VI_1 became MASTER")),
        ("VI_3", SyncGroupTransition(MASTER, "sync group G: VI_1 became MASTER")),
    ]


def test_vrrp_sync_master_stepping_down_to_backup_takes_the_others_along():
    assert follow("G", "VI_2", MASTER, BACKUP, ["VI_1", "VI_2"]) == [
        ("VI_1", SyncGroupTransition(BACKUP, "sync group G: VI_2 became BACKUP")),
    ]


def test_vrrp_sync_other_moves_do_not_follow():
    for old, new in ((INIT, BACKUP), (FAULT, BACKUP), (BACKUP, FAULT), (MASTER, FAULT),
                     (MASTER, STOP), (BACKUP, STOP)):
        assert not follows(old, new)
        assert follow("G", "VI_1", old, new, ["VI_1", "VI_2"]) == []


def machine(name: str, vrid: int, own: str) -> tuple[core.VrrpMachine, float]:
    params = core.InstanceParams(name=name, vrid=vrid,
                                 vips=(ipaddress.ip_address(f"192.0.2.{100 + vrid}"),))
    m = core.VrrpMachine(params)
    m.handle(0.0, core.Startup(ipaddress.ip_address(own)))
    return m, 0.0


def test_vrrp_sync_follow_through_the_core_with_injected_time():
    """VI_1's master-down timer fires first (t=3.7): it becomes MASTER and VI_2, still
    BACKUP, is taken to MASTER at the same instant; when VI_1 steps down, VI_2 follows."""
    vi1, _ = machine("VI_1", 1, "192.0.2.10")
    vi2, _ = machine("VI_2", 2, "192.0.2.11")
    machines = {"VI_1": vi1, "VI_2": vi2}
    now = vi1.timers[core.TIMER_MASTER_DOWN]
    actions = vi1.handle(now, core.TimerExpired(core.TIMER_MASTER_DOWN))
    [notify] = [a for a in actions if isinstance(a, core.NotifyTransition)]
    for name, event in follow("G", "VI_1", notify.old, notify.new, machines):
        machines[name].handle(now, event)
    assert vi1.state == vi2.state == MASTER

    now += 0.5
    vi1.handle(now, core.Shutdown())  # STOP does not move the group
    assert follow("G", "VI_1", MASTER, STOP, machines) == []
    assert vi2.state == MASTER

    vi3, _ = machine("VI_3", 3, "192.0.2.12")  # a BACKUP ignores a BACKUP target
    assert vi3.handle(now, SyncGroupTransition(BACKUP, "x")) == []
    assert vi3.state == BACKUP
