"""Acceptance: two haipvs directors elect one MASTER, survive a crashed master, preempt."""

import pytest

from integration.harness.instance import VrrpInstance
from integration.harness.measure import silent_master_takeover
from integration.harness.requirements import haipvs_unavailable_reason
from integration.harness.vrrp import master_down_interval

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                       reason=haipvs_unavailable_reason() or ""),
]

BASE = VrrpInstance(advert_int=1, password="1111")
VIP = "192.0.2.100/24"
MARGIN = 0.1  # the acceptance bound: Master_Down_Interval + 100 ms


def elect(lan, haipvs_node, high_instance, low_instance):
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    high = haipvs_node(d1, high_instance)
    high.wait_started()  # a cold-start election is decided by who started first, too
    low = haipvs_node(d2, low_instance)
    high.wait_state("MASTER", 8)
    low.wait_state("BACKUP", 2)
    assert high.has_vip(VIP) and not low.has_vip(VIP), "exactly one director holds the VIP"
    return high, low


def crash_master_and_check_takeover(sniffer, high, low):
    result = silent_master_takeover(sniffer, high.node, low.node, VIP, high.kill)
    low.wait_state("MASTER", 2)
    assert low.has_vip(VIP)
    limit = master_down_interval(100) + MARGIN
    assert result.garp_after_old is not None and result.garp_after_old <= limit, (
        f"GARP {result.garp_after_old:.3f}s after the last advert, limit {limit:.3f}s")
    assert result.takeover >= master_down_interval(100) - 0.05, (
        f"took over after {result.takeover:.3f}s, before Master_Down_Interval")
    assert result.new_first.priority == 100
    return result


def test_crashed_master_is_replaced_and_preempts_back_on_restart(lan, sniffer, haipvs_node):
    high, low = elect(lan, haipvs_node, BASE.but(priority=150), BASE.but(priority=100))
    crash_master_and_check_takeover(sniffer, high, low)

    restarted_at = sniffer.adverts()[-1].ts
    high.start()
    high.wait_state("MASTER", 8)
    low.wait_state("BACKUP", 2)
    back = sniffer.wait_advert(1, since=restarted_at, src_ip=high.node.ip, priority=150)
    assert back.addresses == ("192.0.2.100",)
    assert high.has_vip(VIP), "the restarted master holds the VIP again"
    assert not low.has_vip(VIP), "the preempted backup released the VIP"


def test_without_preempt_the_restarted_director_stays_backup(lan, sniffer, haipvs_node):
    high, low = elect(lan, haipvs_node, BASE.but(priority=150, preempt=False),
                      BASE.but(priority=100))
    crash_master_and_check_takeover(sniffer, high, low)

    high.start()
    high.wait_ready()
    restarted_at = sniffer.adverts()[-1].ts
    # Give the restarted director a full Master_Down_Interval of low-priority adverts in
    # which a preempting director would have taken over.
    patience = master_down_interval(150) + 1.0
    sniffer.wait_advert(patience + 1.5, since=restarted_at + patience, src_ip=low.node.ip)
    assert high.state() == "BACKUP"
    assert low.state() == "MASTER"
    assert not sniffer.adverts(since=restarted_at, src_ip=high.node.ip), (
        "a non-preempting backup never advertises")
    assert low.has_vip(VIP) and not high.has_vip(VIP)
