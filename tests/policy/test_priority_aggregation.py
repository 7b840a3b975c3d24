"""One instance's priority and fault from its sources (keepalived/vrrp/vrrp_track.c: the
effective priority is the base plus every tracker's weight, clamped to 1..254; any fault
source holds the instance in FAULT). The outputs are fed to a real core machine with time
passed in, to show the two agree."""

from __future__ import annotations

import ipaddress

from haipvs.policy.priority import (
    LINK,
    NOTHING,
    SYNC_GROUP,
    Begin,
    Contribution,
    FaultCleared,
    FaultDetected,
    InstancePriority,
    Kind,
    PriorityChanged,
    Source,
    Start,
    Update,
)
from haipvs.vrrp import core

ETH1 = Source(Kind.TRACK_INTERFACE, "eth1")
CHK = Source(Kind.TRACK_SCRIPT, "chk")
FILE = Source(Kind.TRACK_FILE, "f")


def update(*changes, base=None):
    return Update(tuple(changes), base)


def started(base=100, owner=False):
    policy = InstancePriority(base, owner=owner)
    assert policy.handle(Start()) == [Begin(None)]
    return policy


def test_vrrp_track_priority_is_base_plus_the_sum_of_weights():
    policy = started()
    assert policy.handle(update((CHK, Contribution(delta=20)))) == [PriorityChanged(120)]
    assert policy.handle(update((FILE, Contribution(delta=-50)))) == [PriorityChanged(70)]
    assert policy.priority_parts() == {"track_file:f": -50, "track_script:chk": 20}
    assert policy.handle(update((CHK, NOTHING))) == [PriorityChanged(50)]


def test_vrrp_track_priority_is_clamped_to_1_254():
    policy = started(base=200)
    assert policy.handle(update((CHK, Contribution(delta=100)))) == [PriorityChanged(254)]
    assert policy.handle(update((CHK, Contribution(delta=-300)))) == [PriorityChanged(1)]
    assert policy.handle(update((CHK, Contribution(delta=-250)))) == []  # still 1


def test_vrrp_track_owner_request_goes_to_the_core_which_keeps_255():
    policy = started(base=255, owner=True)
    outputs = policy.handle(update((CHK, Contribution(delta=-20))))
    assert outputs == [PriorityChanged(235)]
    machine = core.VrrpMachine(core.InstanceParams(
        name="vi", vrid=1, vips=(ipaddress.ip_address("192.0.2.1"),), base_priority=255))
    assert machine.handle(0.0, core.PriorityChanged(235)) == [
        core.Log("priority_change_ignored_owner", {"requested": 235})]
    assert machine.effective_priority == 255


def test_vrrp_track_any_fault_source_holds_fault_and_the_last_one_clears_it():
    policy = started()
    assert policy.handle(update((LINK, Contribution(fault="interface eth0 is down")))) == [
        FaultDetected("interface eth0 is down")]
    assert policy.handle(update((ETH1, Contribution(fault="tracked interface eth1 is down")))) \
        == [FaultDetected("interface eth0 is down; tracked interface eth1 is down")]
    assert policy.handle(update((LINK, NOTHING))) == [
        FaultDetected("tracked interface eth1 is down")]
    assert policy.handle(update((ETH1, NOTHING))) == [FaultCleared()]
    assert policy.handle(update((ETH1, NOTHING))) == []


def test_fault_reason_is_joined_in_source_key_order():
    policy = InstancePriority(100)
    policy.handle(update((SYNC_GROUP, Contribution(fault="s")),
                         (ETH1, Contribution(fault="t")), (LINK, Contribution(fault="l"))))
    assert policy.fault == "l; s; t"
    assert list(policy.fault_reasons()) == ["link", "sync_group", "track_interface:eth1"]


def test_priority_changes_before_fault_clears():
    """A fault that clears starts BACKUP with the priority of the sources already in force."""
    policy = started()
    policy.handle(update((ETH1, Contribution(fault="down"))))
    outputs = policy.handle(update((ETH1, NOTHING), (CHK, Contribution(delta=10))))
    assert outputs == [PriorityChanged(110), FaultCleared()]


def test_one_update_gives_one_fault_output_no_flap():
    """A reload that drops one tracked interface and adds another (both down) stays FAULT."""
    policy = started()
    policy.handle(update((ETH1, Contribution(fault="eth1 down"))))
    eth2 = Source(Kind.TRACK_INTERFACE, "eth2")
    assert policy.handle(update((ETH1, NOTHING), (eth2, Contribution(fault="eth2 down")))) == [
        FaultDetected("eth2 down")]


def test_nothing_is_told_before_start_then_start_carries_priority_and_fault():
    policy = InstancePriority(100)
    assert policy.handle(update((CHK, Contribution(delta=-10)))) == []
    assert policy.handle(update((LINK, Contribution(fault="down")))) == []
    assert policy.handle(Start()) == [PriorityChanged(90), Begin("down")]
    assert policy.handle(update((LINK, NOTHING))) == [FaultCleared()]


def test_reload_base_priority_and_sources_together_give_one_priority_change():
    policy = started()
    policy.handle(update((CHK, Contribution(delta=10))))
    assert policy.handle(update((CHK, Contribution(delta=5)), base=150)) == [
        PriorityChanged(155)]


def test_own_fault_does_not_count_the_sync_group_source():
    policy = started()
    policy.handle(update((SYNC_GROUP, Contribution(fault="group"))))
    assert not policy.own_fault()
    policy.handle(update((LINK, Contribution(fault="down"))))
    assert policy.own_fault()


def test_the_core_agrees_with_the_policy_priority():
    """Fed through a BACKUP machine (time injected), the machine ends where the policy says."""
    params = core.InstanceParams(name="vi", vrid=1,
                                 vips=(ipaddress.ip_address("192.0.2.1"),))
    machine = core.VrrpMachine(params)
    policy = InstancePriority(params.base_priority)
    now = 10.0
    for output in policy.handle(Start()):
        assert isinstance(output, Begin)
        machine.handle(now, core.Startup(ipaddress.ip_address("192.0.2.10"), output.fault))
    for delta in (50, 200, -99, -400, 0, 154):
        now += 0.25
        for output in policy.handle(update((CHK, Contribution(delta=delta)))):
            assert isinstance(output, PriorityChanged)
            machine.handle(now, core.PriorityChanged(output.priority))
        assert machine.effective_priority == policy.priority == policy.told_priority
