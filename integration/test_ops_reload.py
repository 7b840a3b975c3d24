"""Acceptance: SIGHUP applies only the difference. The MASTER of an unchanged instance keeps
its VIP (no address delete/add, no GARP burst); a broken config changes nothing."""

import time

import pytest

from integration.test_ops_support import (  # noqa: F401 - the fixture is used by name
    FAST,
    address_monitor,
    ops_node_fixture,
)

pytestmark = pytest.mark.netns

VIP1, VIP2 = "192.0.2.100", "192.0.2.101"
VI_1 = FAST.but(name="VI_1", vrid=51, vips=(f"{VIP1}/24",))
VI_2 = FAST.but(name="VI_2", vrid=52, vips=(f"{VIP2}/24",))


def virtual_servers(weight: int, delay_loop: float) -> dict:
    return {"virtual_servers": [{
        "address": VIP1, "port": 80, "protocol": "TCP", "lb_kind": "DR",
        "delay_loop": delay_loop,
        "real_servers": [{"address": "192.0.2.21", "port": 80, "weight": weight,
                          "misc_check": {"path": "/bin/true"}}],
    }]}


def desired_weight(dump: dict) -> int:
    [service] = dump["ipvs"]["desired"]
    [dest] = service["destinations"]
    return dest["weight"]


def test_reload_keeps_unchanged_master_and_rejects_broken_config(lan, sniffer, ops_node):
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    high = ops_node(d1, VI_1.but(priority=150), top=virtual_servers(weight=1, delay_loop=5))
    low = ops_node(d2, VI_1.but(priority=100))
    high.wait_state("MASTER", 8)
    low.wait_state("BACKUP", 2)
    before = high.instance_dump("VI_1")
    assert desired_weight(high.dump()) == 1

    with address_monitor(d1) as monitor:
        # weight 1 -> 3, delay_loop 5 -> 7, and a new instance VI_2 with a new VIP.
        high.top = virtual_servers(weight=3, delay_loop=7)
        high.write_config([VI_1.but(priority=150), VI_2.but(priority=150)])
        sent = high.reload()
        high.wait_log("reload_applied", 5)
        high.wait_state("MASTER", 5, name="VI_2")  # new instance: BACKUP, then MASTER alone
        assert high.has_vip(VIP2, name="VI_2")
        # Let VI_1 run several more advert intervals after the reload.
        sniffer.wait_advert(3, since=time.time() + 1.0, src_ip=d1.ip, vrid=51)

        after = high.instance_dump("VI_1")
        assert after["state"] == "MASTER"
        assert after["counters"]["transitions"] == before["counters"]["transitions"]
        assert not monitor.mentioning(VIP1, since=sent), monitor.mentioning(VIP1)
        assert monitor.mentioning(VIP2, since=sent), "the new VIP was added"
        assert not sniffer.announcements(since=sent, ip=VIP1), "no GARP burst for VI_1"
        assert sniffer.announcements(since=sent, ip=VIP2), "the new MASTER announced VIP2"
        assert low.state() == "BACKUP"
        dump = high.dump()
        assert desired_weight(dump) == 3
        applied = [e for e in high.log_events() if e.get("event") == "reload_applied"][-1]
        assert applied["added"] == ["VI_2"] and applied["removed"] == []

        # A broken file: every error logged, nothing changes.
        good_config = high.conf_path.read_text()
        high.conf_path.write_text(good_config.replace("priority: 150", "priority: 999", 1)
                                  + "bogus_key: 1\n")
        rejected_before = high.count_log("reload_rejected")
        broken_at = high.reload()
        high.wait_log("reload_failed", 5)
        assert high.count_log("reload_rejected") - rejected_before == 2  # both errors
        sniffer.wait_advert(3, since=time.time() + 0.6, src_ip=d1.ip, vrid=52)
        assert not monitor.mentioning("192.0.2.", since=broken_at)
        assert not sniffer.announcements(since=broken_at)
        still = high.dump()
        assert still["instances"]["VI_1"]["state"] == "MASTER"
        assert still["instances"]["VI_2"]["state"] == "MASTER"
        assert still["instances"]["VI_1"]["base_priority"] == 150
        assert desired_weight(still) == 3
        assert still["reloads"] == 1


def test_reload_retunes_priority_and_removes_instance(lan, sniffer, ops_node):
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    high = ops_node(d1, VI_1.but(priority=150), VI_2.but(priority=150))
    low = ops_node(d2, VI_1.but(priority=100))
    high.wait_state("MASTER", 8)
    high.wait_state("MASTER", 2, name="VI_2")
    low.wait_state("BACKUP", 2)

    # Priority 150 -> 50 goes in through PriorityChanged: the peer preempts; VI_2 goes away:
    # it resigns with priority 0 and releases its VIP.
    high.write_config([VI_1.but(priority=50)])
    sent = high.reload()
    low.wait_state("MASTER", 5)
    high.wait_state("BACKUP", 3)
    assert sniffer.adverts(since=sent, src_ip=d1.ip, vrid=52, priority=0), "VI_2 resigned"
    assert not d1.has_address(VIP2)
    assert "VI_2" not in high.dump()["instances"]
    assert high.priority() == 50
