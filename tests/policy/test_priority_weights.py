"""The tracker weight rules, shared by track_interface, track_script, track_process
(keepalived/vrrp/vrrp_track.c) and track_file's value x weight rule; the script rise/fall
hysteresis (keepalived/vrrp/vrrp_scheduler.c). No clock is involved: each rule is a pure
function of the tracker's state."""

from __future__ import annotations

import pytest

from haipvs.policy.priority import (
    NOTHING,
    Contribution,
    Kind,
    RiseFall,
    Source,
    file_weighted,
    weighted,
)

DOWN = "tracked interface eth1 is down"


def test_vrrp_track_weight_zero_failed_is_fault():
    assert weighted(0, ok=False, failure=DOWN) == Contribution(fault=DOWN)


def test_vrrp_track_weight_zero_ok_contributes_nothing():
    assert weighted(0, ok=True, failure=DOWN) == NOTHING


def test_vrrp_track_negative_weight_is_subtracted_while_failed():
    assert weighted(-20, ok=False, failure=DOWN) == Contribution(delta=-20)
    assert weighted(-20, ok=True, failure=DOWN) == NOTHING


def test_vrrp_track_positive_weight_is_added_while_ok():
    assert weighted(20, ok=True, failure=DOWN) == Contribution(delta=20)
    assert weighted(20, ok=False, failure=DOWN) == NOTHING


def test_vrrp_track_nonzero_weight_never_faults():
    for weight in (-254, -1, 1, 254):
        for ok in (True, False):
            assert weighted(weight, ok=ok, failure=DOWN).fault is None


def test_vrrp_track_file_value_times_weight_is_added():
    assert file_weighted("f", 5, 3) == Contribution(delta=15)
    assert file_weighted("f", 5, -2) == Contribution(delta=-10)
    assert file_weighted("f", 0, 7) == NOTHING


def test_vrrp_track_file_weight_zero_nonzero_value_is_fault():
    assert file_weighted("f", 3, 0) == Contribution(fault="track_file f holds 3")
    assert file_weighted("f", 0, 0) == NOTHING


@pytest.mark.parametrize(("value", "weight", "fault"), [
    (127, -2, True),  # -254: the limit is a fault
    (-254, 1, True),
    (253, -1, False),  # -253 is still a priority delta
    (-100, 3, True),
])
def test_vrrp_track_file_result_at_or_below_minus_254_is_fault(value, weight, fault):
    result = file_weighted("f", value, weight)
    assert (result.fault is not None) is fault
    if fault:
        assert result.delta == 0
        assert result.fault == f"track_file f: {value} x {weight} = {value * weight}"


def test_vrrp_script_first_result_decides_at_once():
    for first in (True, False):
        state = RiseFall(rise=5, fall=5)
        assert state.ok is None
        assert state.record(first) and state.ok is first


def test_vrrp_script_fall_failures_in_a_row_make_it_failed():
    state = RiseFall(rise=2, fall=3)
    state.record(True)
    assert not state.record(False) and not state.record(False)
    assert state.record(False) and state.ok is False


def test_vrrp_script_a_disagreeing_result_resets_the_streak():
    state = RiseFall(rise=2, fall=3)
    state.record(False)
    assert not state.record(True)
    assert not state.record(False)  # back in line: the rise streak starts again
    assert not state.record(True)
    assert state.record(True) and state.ok is True


def test_source_keys_print_as_the_state_dump_keys():
    assert str(Source(Kind.TRACK_INTERFACE, "eth1")) == "track_interface:eth1"
    assert str(Source(Kind.LINK)) == "link"
    assert Source.parse("track_script:chk") == Source(Kind.TRACK_SCRIPT, "chk")
    assert Source.parse("sync_group") == Source(Kind.SYNC_GROUP)
