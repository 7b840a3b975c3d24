"""Acceptance (issue 15, engineer J): a VIP's gratuitous ARP goes out on that VIP's own
interface with that interface's MAC (keepalived 2.2.7 vrrp.c vrrp_send_update(),
vrrp_arp.c send_gratuitous_arp_immediate(): `ipaddress->ifp`), not on the instance's
interface. The director has eth0 on 192.0.2.0/24 (the instance's interface) and eth1 on
198.51.100.0/24 where one VIP lives (`dev eth1`); a sniffer on each bridge. haipvs runs as
the director, then keepalived 2.2.7 in the same topology, and both show the same."""

from __future__ import annotations

import time

from integration.garp_two_segments import (
    IP0,
    IP1,
    VIP0,
    VIP1,
    haipvs_director,
    keepalived_director,
    observe_both,
)
from integration.harness.instance import VrrpInstance
from integration.harness.requirements import keepalived_interop_marks

pytestmark = keepalived_interop_marks()

INST = VrrpInstance(priority=255, state="MASTER", vips=(VIP0, VIP1),
                    garp={"master_repeat": 2})


LAN_PREFIX = "gj"  # this module's own namespaces (the harness's lan fixture)


def announcements_of(sniffers, since, timeout=8.0):
    """{segment: [(ip, src_mac)]} once the director's burst is over (2 rounds)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        seen = {name: [(a.ip, a.src_mac) for a in s.announcements(since=since)]
                for name, s in sniffers.items()}
        if sum(len(v) for v in seen.values()) >= 4:
            time.sleep(1.0)  # no more should come
            return {name: [(a.ip, a.src_mac) for a in s.announcements(since=since)]
                    for name, s in sniffers.items()}
        time.sleep(0.1)
    raise AssertionError(f"GARP burst incomplete: {seen}")


def test_vip_garp_goes_out_on_its_own_interface_as_keepalived(
        lan, haipvs_node, keepalived_node):
    starts = {"haipvs": lambda node: haipvs_director(haipvs_node, node, INST),
              "keepalived": lambda node: keepalived_director(keepalived_node, node, INST)}
    director, results = observe_both(lan, starts, announcements_of)
    mac0, mac1 = director.macs["eth0"], director.macs["eth1"]
    for name, seen in results.items():
        print(f"{name}: {seen}")
        # garp_master_repeat 2: each VIP twice, each on its own segment, its own MAC
        assert sorted(seen["eth1"]) == [(IP1, mac1)] * 2, (name, seen)
        assert sorted(seen["eth0"]) == [(IP0, mac0)] * 2, (name, seen)
    assert results["haipvs"] == results["keepalived"]
