"""Acceptance: haipvs and keepalived 2.2.7 share one virtual router, both directions,
VRRPv2 with PASS authentication and VRRPv3 without."""

import pytest

from haipvs.drivers.timed_send import open_timed_sender
from integration.harness.instance import VrrpInstance
from integration.harness.measure import priority_zero_takeover, silent_master_takeover
from integration.harness.requirements import keepalived_interop_marks
from integration.harness.vrrp import master_down_interval, skew_time

pytestmark = keepalived_interop_marks()

VIP = "192.0.2.100/24"
MARGIN = 0.1
VERSIONS = {
    "v2-pass": VrrpInstance(version=2, password="1111"),
    "v3-noauth": VrrpInstance(version=3, password=None),
}


@pytest.fixture(params=list(VERSIONS))
def base(request):
    return VERSIONS[request.param]


def ring_expected() -> str:
    sender, _ = open_timed_sender()
    if sender is None:
        return "timer"
    sender.close()
    return "kernel"


def assert_takeover_within(result, limit, what):
    assert result.garp_after_old is not None, f"{what}: no GARP from the new master"
    assert result.takeover <= limit, f"{what}: took {result.takeover:.3f}s, limit {limit:.3f}s"
    assert result.garp_after_old <= limit + MARGIN, (
        f"{what}: GARP {result.garp_after_old:.3f}s after the old master's last advert")


def test_haipvs_preempts_keepalived_and_keepalived_takes_over_from_it(
        lan, sniffer, haipvs_node, keepalived_node, base):
    node_d, node_k = lan.add_node("d1"), lan.add_node("k1")
    keepalived = keepalived_node(node_k, base.but(priority=100, state="MASTER"))
    keepalived.wait_state("MASTER", 5)
    assert keepalived.has_vip(VIP)

    haipvs = haipvs_node(node_d, base.but(priority=150))
    haipvs.wait_state("MASTER", 8)
    keepalived.wait_state("BACKUP", 2)
    assert haipvs.has_vip(VIP)
    assert not keepalived.has_vip(VIP), "the VIP left keepalived's netns"
    advert = sniffer.wait_advert(2, src_ip=node_d.ip, priority=150)
    assert advert.version == base.version
    # the MASTER's adverts went through the io_uring ring where this kernel has one, and the
    # priority-0 takeover below shows that none of them overtook the priority-0 advert
    timing = [e for e in haipvs.log_events() if e.get("event") == "vrrp_advert_timing"]
    assert timing and timing[-1]["sent_by"] == ring_expected(), timing

    crashed = silent_master_takeover(sniffer, node_d, node_k, VIP, haipvs.kill)
    keepalived.wait_state("MASTER", 1)
    assert_takeover_within(crashed, master_down_interval(100) + MARGIN, "haipvs SIGKILL")

    haipvs.start()
    haipvs.wait_state("MASTER", 8)
    keepalived.wait_state("BACKUP", 2)
    assert not keepalived.has_vip(VIP)

    stopped = priority_zero_takeover(sniffer, node_d, node_k, VIP,
                                     lambda: haipvs.stop(timeout=5))
    assert haipvs.proc.returncode == 0
    keepalived.wait_state("MASTER", 1)
    assert_takeover_within(stopped, skew_time(100, 1.0, base.version) + MARGIN,
                           "haipvs SIGTERM")
    assert not node_d.has_address(VIP), "haipvs removed its VIP on SIGTERM"
    assert keepalived.has_vip(VIP)


def test_keepalived_preempts_haipvs_and_haipvs_takes_over_from_it(
        lan, sniffer, haipvs_node, keepalived_node, base):
    node_d, node_k = lan.add_node("d1"), lan.add_node("k1")
    haipvs = haipvs_node(node_d, base.but(priority=100, state="MASTER"))
    haipvs.wait_state("MASTER", 5)
    assert haipvs.has_vip(VIP)

    keepalived = keepalived_node(node_k, base.but(priority=150))
    keepalived.wait_state("MASTER", 8)
    haipvs.wait_state("BACKUP", 2)
    assert keepalived.has_vip(VIP)
    assert not haipvs.has_vip(VIP), "the VIP left haipvs' netns"
    assert haipvs.instance_dump()["master_ip"] == node_k.ip

    crashed = silent_master_takeover(sniffer, node_k, node_d, VIP, keepalived.kill)
    haipvs.wait_state("MASTER", 1)
    assert_takeover_within(crashed, master_down_interval(100) + MARGIN, "keepalived SIGKILL")
    assert crashed.new_first.version == base.version
    if base.version == 2:
        assert crashed.new_first.auth == b"1111\0\0\0\0"
    assert haipvs.has_vip(VIP)
