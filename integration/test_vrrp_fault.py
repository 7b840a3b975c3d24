"""Acceptance: the master's interface going down puts it in FAULT and hands the VIP over;
the interface coming back brings it back (MASTER again by preemption)."""

import pytest

from integration.harness.instance import VrrpInstance
from integration.harness.requirements import haipvs_unavailable_reason
from integration.harness.vrrp import master_down_interval
from integration.harness.wait import wait_until

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                       reason=haipvs_unavailable_reason() or ""),
]

VIP = "192.0.2.100/24"
BASE = VrrpInstance(version=2, password="1111")


def test_interface_down_faults_the_master_and_up_recovers_it(lan, sniffer, haipvs_node):
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    high = haipvs_node(d1, BASE.but(priority=150, state="MASTER"))
    low = haipvs_node(d2, BASE.but(priority=100))
    high.wait_state("MASTER", 6)
    low.wait_state("BACKUP", 2)
    assert high.has_vip(VIP)

    d1.set_link(False)
    high.wait_state("FAULT", 2)
    wait_until(lambda: not d1.has_address(VIP), 2, what="the VIP removed from the faulted node")
    low.wait_state("MASTER", master_down_interval(100) + 2)
    assert low.has_vip(VIP)
    down_at = sniffer.adverts(src_ip=d1.ip)[-1].ts
    first_low = sniffer.wait_advert(1, since=down_at, src_ip=d2.ip, priority=100)
    sniffer.wait_announcement(2, since=down_at, src_mac=d2.mac, ip="192.0.2.100")
    assert first_low.ts - down_at <= master_down_interval(100) + 0.1

    d1.set_link(True)
    high.wait_state("MASTER", master_down_interval(150) + 3)
    low.wait_state("BACKUP", 2)
    assert high.has_vip(VIP) and not low.has_vip(VIP)
    states = [t["to"] for t in high.instance_dump()["last_transitions"]]
    assert "FAULT" in states and states[-1] == "MASTER"
    assert states[states.index("FAULT") + 1] == "BACKUP", "FAULT recovers through BACKUP"
