"""Harness self-tests with keepalived 2.2.7 only: they prove the topology, the process
runner, the sniffer's timestamps and the timing formulas before any haipvs code runs."""

import pytest

from integration.harness.instance import VrrpInstance
from integration.harness.sniffer import TcpdumpCapture
from integration.harness.vrrp import master_down_interval, skew_time

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

BASE = VrrpInstance(advert_int=1, password="1111")
# The sniffer's kernel timestamps against keepalived's own timer: how far a measured
# interval may sit from the RFC formula on a busy 2-core machine.
SLACK = 0.25


def start_pair(lan, keepalived_node, instance=BASE):
    node_a, node_b = lan.add_node("a"), lan.add_node("b")
    high = keepalived_node(node_a, instance.but(priority=150, state="MASTER"))
    low = keepalived_node(node_b, instance.but(priority=100))
    high.wait_state("MASTER", 5)
    low.wait_state("BACKUP", 5)
    return high, low


@pytest.mark.parametrize("version", [2, 3])
def test_silent_master_is_replaced_after_master_down_interval(
        lan, sniffer, keepalived_node, version):
    instance = BASE.but(version=version, password="1111" if version == 2 else None)
    high, low = start_pair(lan, keepalived_node, instance)
    assert high.has_vip() and not low.has_vip(), "exactly one node holds the VIP"
    first_high = sniffer.wait_advert(3, src_ip=high.node.ip, priority=150)
    assert first_high.version == version
    assert first_high.addresses == ("192.0.2.100",)
    assert first_high.ttl == 255
    if version == 2:
        assert first_high.auth_type == 1 and first_high.auth == b"1111\0\0\0\0"

    # Let the backup see one more advert so its master-down timer restarts from a known point.
    sniffer.wait_advert(3, since=first_high.ts + 0.5, src_ip=high.node.ip)
    high.kill()
    low.wait_state("MASTER", 6)
    last_high = sniffer.adverts(src_ip=high.node.ip)[-1]
    first_low = sniffer.wait_advert(1, since=last_high.ts, src_ip=low.node.ip)
    garp = sniffer.wait_announcement(2, since=last_high.ts, src_mac=low.node.mac,
                                     ip="192.0.2.100")

    expected = master_down_interval(100, 1.0, version)
    takeover = first_low.ts - last_high.ts
    assert expected - 0.05 <= takeover <= expected + SLACK, (takeover, expected)
    assert garp.ts - first_low.ts < SLACK
    assert low.has_vip()


def test_sigterm_master_sends_priority_zero_and_backup_takes_over_after_skew(
        lan, sniffer, keepalived_node, tmp_path):
    high, low = start_pair(lan, keepalived_node)
    tcpdump = TcpdumpCapture(lan.bridge_ns, lan.bridge, tmp_path / "br0.pcap").start()
    sniffer.wait_advert(3, src_ip=high.node.ip, priority=150)
    assert high.stop() == 0
    goodbye = sniffer.wait_advert(1, src_ip=high.node.ip, priority=0)
    low.wait_state("MASTER", 3)
    first_low = sniffer.wait_advert(1, since=goodbye.ts, src_ip=low.node.ip)
    assert not high.has_vip(), "keepalived drops its VIPs on SIGTERM"

    takeover = first_low.ts - goodbye.ts
    expected = skew_time(100)
    assert expected - 0.05 <= takeover <= expected + SLACK, (takeover, expected)

    # tcpdump, a second opinion on the sniffer: same packets, same kernel timestamps.
    pcap = [f.advert for f in tcpdump.stop() if f.advert is not None]
    for seen in (goodbye, first_low):
        twins = [a for a in pcap if a.src_ip == seen.src_ip and a.priority == seen.priority
                 and abs(a.ts - seen.ts) < 0.005]
        assert twins, f"tcpdump did not capture {seen}"


def test_unicast_pair_elects_with_multicast_dropped(lan, sniffer, keepalived_node):
    lan.drop_multicast_vrrp()
    node_a, node_b = lan.add_node("a"), lan.add_node("b")
    unicast = BASE.but(version=3, password=None)
    high = keepalived_node(node_a, unicast.but(
        priority=150, unicast_src_ip=node_a.ip, unicast_peers=[node_b.ip]))
    high.wait_started()
    low = keepalived_node(node_b, unicast.but(
        priority=100, unicast_src_ip=node_b.ip, unicast_peers=[node_a.ip]))
    # Both start BACKUP: the election needs the unicast adverts to get through.
    high.wait_state("MASTER", 6)
    sniffer.wait_advert(3, src_ip=node_a.ip, dst_ip=node_b.ip)
    low.wait_state("BACKUP", 1)
    assert low.transitions() == ["BACKUP"], "the low node never became MASTER: it heard A"
    assert high.has_vip() and not low.has_vip()
    assert not [a for a in sniffer.adverts() if a.multicast]
