"""Acceptance: unicast VRRP (unicast_src_ip / unicast_peers) elects and fails over with
multicast VRRP dropped on the bridge, between two haipvs nodes and with keepalived."""

import pytest

from integration.harness.instance import VrrpInstance
from integration.harness.measure import silent_master_takeover
from integration.harness.requirements import (
    haipvs_unavailable_reason,
    keepalived_unavailable_reason,
)
from integration.harness.vrrp import master_down_interval

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                       reason=haipvs_unavailable_reason() or ""),
]

VIP = "192.0.2.100/24"
MARGIN = 0.1
BASE = VrrpInstance(version=2, password="1111")


def unicast(instance, me, peer):
    return instance.but(unicast_src_ip=me.ip, unicast_peers=[peer.ip])


def haipvs_never_master(daemon):
    return all(t["to"] != "MASTER" for t in daemon.instance_dump()["last_transitions"])


def check_unicast_failover(sniffer, high, low):
    """`high` is MASTER over unicast; crash it and check `low` takes over, unicast only."""
    advert = sniffer.wait_advert(3, src_ip=high.node.ip, dst_ip=low.node.ip)
    assert advert.priority == high.instances["VI_1"].priority
    assert high.has_vip(VIP) and not low.has_vip(VIP)

    result = silent_master_takeover(sniffer, high.node, low.node, VIP, high.kill)
    low.wait_state("MASTER", 2)
    assert result.new_first.dst_ip == high.node.ip, "the new master advertises to its peer"
    assert result.takeover <= master_down_interval(100) + MARGIN
    assert low.has_vip(VIP)
    multicast = [a for a in sniffer.adverts() if a.multicast]
    assert not multicast, f"unicast-mode daemons sent multicast adverts: {multicast[:3]}"


def test_two_haipvs_nodes_over_unicast(lan, sniffer, haipvs_node):
    lan.drop_multicast_vrrp()
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    high = haipvs_node(d1, unicast(BASE.but(priority=150), d1, d2))
    high.wait_started()
    low = haipvs_node(d2, unicast(BASE.but(priority=100), d2, d1))
    high.wait_state("MASTER", 8)
    low.wait_state("BACKUP", 1)
    assert haipvs_never_master(low), "the backup heard the master over unicast from the start"
    check_unicast_failover(sniffer, high, low)


@pytest.mark.keepalived
@pytest.mark.skipif(keepalived_unavailable_reason() is not None,
                    reason=keepalived_unavailable_reason() or "")
@pytest.mark.parametrize("higher", ["haipvs", "keepalived"])
def test_haipvs_and_keepalived_over_unicast(lan, sniffer, haipvs_node, keepalived_node,
                                             higher):
    lan.drop_multicast_vrrp()
    d1, k1 = lan.add_node("d1"), lan.add_node("k1")
    prio = {"haipvs": 100, "keepalived": 100}
    prio[higher] = 150
    haipvs = haipvs_node(d1, unicast(BASE.but(priority=prio["haipvs"]), d1, k1), start=False)
    keepalived = keepalived_node(k1, unicast(BASE.but(priority=prio["keepalived"]), k1, d1),
                                 start=False)
    high, low = (haipvs, keepalived) if higher == "haipvs" else (keepalived, haipvs)
    # The higher node's timer must start first: haipvs needs ~0.4 s more to start than
    # keepalived, more than the 0.2 s skew difference that decides a cold-start election.
    high.start().wait_started()
    low.start()
    high.wait_state("MASTER", 8)
    low.wait_state("BACKUP", 1)
    if low is keepalived:
        assert keepalived.transitions() == ["BACKUP"], "keepalived never became MASTER"
    else:
        assert haipvs_never_master(haipvs), "haipvs never became MASTER"
    check_unicast_failover(sniffer, high, low)
