"""Acceptance: an IPv6 instance (VRRPv3) advertises from the link-local address to ff02::12
with hop limit 255, carries the VIP, and fails over like IPv4."""

import time

import pytest

from integration.harness.instance import VrrpInstance
from integration.harness.requirements import haipvs_unavailable_reason
from integration.harness.vrrp import master_down_interval

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                       reason=haipvs_unavailable_reason() or ""),
]

VIP6 = "2001:db8::100/64"
V6 = VrrpInstance(version=3, password=None, advert_int=0.5, vrid=61, vips=(VIP6,))
MARGIN = 0.1


def test_ipv6_instance_elects_and_fails_over(lan, sniffer, haipvs_node):
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    high = haipvs_node(d1, V6.but(priority=150))
    high.wait_started()
    low = haipvs_node(d2, V6.but(priority=100))
    # A fresh link-local address is tentative until DAD ends: the instance waits in FAULT
    # for a usable source, then recovers on the address event.
    high.wait_state("MASTER", 10)
    low.wait_state("BACKUP", 5)
    assert high.has_vip(VIP6) and not low.has_vip(VIP6)

    old_ll, new_ll = d1.link_local(), d2.link_local()
    advert = sniffer.wait_advert(3.0, src_ip=old_ll, vrid=61)
    assert (advert.family, advert.version, advert.dst_ip, advert.ttl) == (6, 3, "ff02::12", 255)
    assert advert.addresses == ("2001:db8::100",) and advert.priority == 150
    assert advert.advert_int == 0.5

    sniffer.wait_advert(2.0, since=time.time(), src_ip=old_ll, vrid=61)
    killed_at = time.time()
    high.kill()
    limit = master_down_interval(100, 0.5, 3) + MARGIN
    first = sniffer.wait_advert(limit + 2, since=killed_at, src_ip=new_ll, vrid=61)
    last_old = [a for a in sniffer.adverts(src_ip=old_ll, vrid=61) if a.ts <= killed_at][-1]
    assert first.ts - last_old.ts <= limit, f"takeover {first.ts - last_old.ts:.3f}s"
    low.wait_state("MASTER", 2)
    assert low.has_vip(VIP6)
