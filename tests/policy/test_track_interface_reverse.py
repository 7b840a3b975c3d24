"""track_interface `weight W reverse` and weight 0, as keepalived 2.2.7's vrrp_track.c
initialise_interface_tracking_priorities() and keepalived_netlink.c process_if_status_change()
apply them (haipvs.policy.priority.weighted)."""

from __future__ import annotations

import pytest

from haipvs.policy.priority import (
    NOTHING,
    Contribution,
    FaultCleared,
    FaultDetected,
    InstancePriority,
    Kind,
    PriorityChanged,
    Source,
    Start,
    Update,
    weighted,
)

WHY = "tracked interface eth1 is up (reverse)"


def test_reverse_positive_weight_is_subtracted_while_up():
    assert weighted(20, ok=True, failure=WHY, reverse=True) == Contribution(delta=-20)
    assert weighted(20, ok=False, failure=WHY, reverse=True) == NOTHING


def test_reverse_negative_weight_is_added_while_down():
    assert weighted(-20, ok=False, failure=WHY, reverse=True) == Contribution(delta=20)
    assert weighted(-20, ok=True, failure=WHY, reverse=True) == NOTHING


def test_reverse_weight_zero_is_fault_while_up():
    """`weight 0 reverse` will cause the vrrp instance to be down when the interface is up."""
    assert weighted(0, ok=True, failure=WHY, reverse=True) == Contribution(fault=WHY)
    assert weighted(0, ok=False, failure=WHY, reverse=True) == NOTHING


@pytest.mark.parametrize("weight", [-30, -1, 1, 30])
def test_up_down_step_is_abs_weight_times_multiplier(weight):
    """process_if_status_change(): going up adds abs(weight) * multiplier, going down
    subtracts it; the static rule must agree with those steps."""
    for reverse, multiplier in ((False, 1), (True, -1)):
        up = weighted(weight, True, WHY, reverse).delta
        down = weighted(weight, False, WHY, reverse).delta
        assert up - down == abs(weight) * multiplier


def test_reverse_moves_the_instance_priority_the_other_way():
    policy = InstancePriority(100)
    policy.handle(Start())
    source = Source(Kind.TRACK_INTERFACE, "eth1")
    out = policy.handle(Update(((source, weighted(30, True, WHY, reverse=True)),)))
    assert out == [PriorityChanged(70)]
    out = policy.handle(Update(((source, weighted(30, False, WHY, reverse=True)),)))
    assert out == [PriorityChanged(100)]


def test_reverse_weight_zero_faults_and_clears():
    policy = InstancePriority(100)
    policy.handle(Start())
    source = Source(Kind.TRACK_INTERFACE, "eth1")
    assert policy.handle(Update(((source, weighted(0, True, WHY, True)),))) == [
        FaultDetected(WHY)]
    assert policy.handle(Update(((source, weighted(0, False, WHY, True)),))) == [FaultCleared()]
