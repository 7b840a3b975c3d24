"""Acceptance: track_interface, track_script and track_file each move the priority and cause
a takeover in a two-director netns; a sync group member's fault pulls the group into FAULT."""

import pytest

from integration.test_ops_support import FAST, ops_node_fixture  # noqa: F401 - fixture

pytestmark = pytest.mark.netns

VI_1 = FAST.but(name="VI_1", vrid=51, vips=("192.0.2.100/24",))
VI_2 = FAST.but(name="VI_2", vrid=52, vips=("192.0.2.101/24",))
TAKEOVER = 4.0  # generous: Master_Down at 0.2 s adverts is ~0.7 s


def pair(lan, ops_node, **high_extra):
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    high = ops_node(d1, VI_1.but(priority=150), **high_extra)
    low = ops_node(d2, VI_1.but(priority=120))
    high.wait_state("MASTER", 8)
    low.wait_state("BACKUP", 2)
    return high, low


def assert_takeover_and_back(high, low, degrade, restore, degraded_priority):
    degrade()
    high.wait_priority(degraded_priority, TAKEOVER)
    low.wait_state("MASTER", TAKEOVER)
    high.wait_state("BACKUP", TAKEOVER)
    assert low.has_vip() and not high.has_vip()
    restore()
    high.wait_priority(150, TAKEOVER)
    high.wait_state("MASTER", TAKEOVER)
    low.wait_state("BACKUP", TAKEOVER)


def test_track_file_value_times_weight(lan, ops_node, tmp_path):
    flag = tmp_path / "maint"
    flag.write_text("0\n")
    high, low = pair(lan, ops_node,
                     top={"vrrp_track_files": [{"name": "maint", "file": str(flag),
                                                "weight": -2}]},
                     per_instance={"VI_1": {"track_file": ["maint"]}})
    assert_takeover_and_back(high, low, lambda: flag.write_text("25\n"),
                             lambda: flag.write_text("0\n"), degraded_priority=100)
    # 127 x -2 = -254: a fault, not a priority.
    flag.write_text("127\n")
    high.wait_state("FAULT", TAKEOVER)
    low.wait_state("MASTER", TAKEOVER)


def test_track_script_rise_fall_weight(lan, ops_node, tmp_path):
    ok_flag = tmp_path / "healthy"
    ok_flag.write_text("")
    script = {"name": "chk", "script": ["/usr/bin/test", "-e", str(ok_flag)],
              "interval": 0.2, "fall": 2, "rise": 2, "weight": -60}
    high, low = pair(lan, ops_node, top={"vrrp_scripts": [script]},
                     per_instance={"VI_1": {"track_script": ["chk"]}})
    assert_takeover_and_back(high, low, ok_flag.unlink, lambda: ok_flag.write_text(""),
                             degraded_priority=90)
    trackers = high.dump()["trackers"]["scripts"]["chk"]
    assert trackers["ok"] is True and trackers["users"] == {"VI_1": -60}


def test_track_interface_weight_and_fault(lan, ops_node):
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    segment = lan.add_segment()
    lan.attach(d1, segment)  # d1 eth1
    high = ops_node(d1, VI_1.but(priority=150),
                    per_instance={"VI_1": {"track_interface": [{"name": "eth1",
                                                                "weight": -60}]}})
    low = ops_node(d2, VI_1.but(priority=120))
    high.wait_state("MASTER", 8)
    low.wait_state("BACKUP", 2)
    assert_takeover_and_back(high, low, lambda: d1.set_link(False, "eth1"),
                             lambda: d1.set_link(True, "eth1"), degraded_priority=90)


def test_sync_group_member_fault_pulls_group_and_peer_takes_both(lan, ops_node, tmp_path):
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    flag = tmp_path / "down"
    flag.write_text("0")
    group = {"vrrp_sync_groups": [{"name": "G1", "group": ["VI_1", "VI_2"]}],
             "vrrp_track_files": [{"name": "down", "file": str(flag), "weight": 0}]}
    high = ops_node(d1, VI_1.but(priority=150), VI_2.but(priority=150), top=group,
                    per_instance={"VI_2": {"track_file": ["down"]}})
    low = ops_node(d2, VI_1.but(priority=120), VI_2.but(priority=120),
                   top={"vrrp_sync_groups": group["vrrp_sync_groups"]})
    for name in ("VI_1", "VI_2"):
        high.wait_state("MASTER", 8, name=name)
        low.wait_state("BACKUP", 2, name=name)

    flag.write_text("1")  # only VI_2 is faulted by its tracker ...
    high.wait_state("FAULT", TAKEOVER, name="VI_2")
    high.wait_state("FAULT", TAKEOVER, name="VI_1")  # ... the group follows
    for name in ("VI_1", "VI_2"):
        low.wait_state("MASTER", TAKEOVER, name=name)
    dump = high.dump()
    assert dump["sync_groups"]["G1"]["state"] == "FAULT"
    assert "sync_group" in dump["instances"]["VI_1"]["fault_reasons"]

    flag.write_text("0")
    for name in ("VI_1", "VI_2"):
        high.wait_state("MASTER", TAKEOVER, name=name)
        low.wait_state("BACKUP", TAKEOVER, name=name)
    assert high.dump()["sync_groups"]["G1"]["state"] == "MASTER"
