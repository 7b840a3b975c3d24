"""Acceptance (issue 15, engineer J): a VIP's gratuitous ARP goes out on that VIP's own
interface with that interface's MAC (keepalived 2.2.7 vrrp.c vrrp_send_update(),
vrrp_arp.c send_gratuitous_arp_immediate(): `ipaddress->ifp`), not on the instance's
interface. The director has eth0 on 192.0.2.0/24 (the instance's interface) and eth1 on
198.51.100.0/24 where one VIP lives (`dev eth1`); a sniffer on each bridge. haipvs runs as
the director, then keepalived 2.2.7 in the same topology, and both show the same."""

from __future__ import annotations

import time

import yaml

from integration.harness.instance import VrrpInstance
from integration.harness.requirements import (
    keepalived_interop_marks,
)
from integration.harness.sniffer import Sniffer

pytestmark = keepalived_interop_marks()

VIP0 = "192.0.2.100/24"
VIP1 = "198.51.100.100/24"  # on eth1
INST = VrrpInstance(priority=255, state="MASTER", vips=(VIP0, VIP1),
                    garp={"master_repeat": 2})


LAN_PREFIX = "gj"  # this module's own namespaces (the harness's lan fixture)


def haipvs_director(haipvs_node, node):
    daemon = haipvs_node(node, INST, start=False)
    config = yaml.safe_load(daemon.conf_path.read_text())
    config["vrrp_instances"][0]["virtual_ipaddress"] = [
        VIP0, {"address": VIP1, "dev": "eth1"}]
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return daemon.start()


def keepalived_director(keepalived_node, node):
    daemon = keepalived_node(node, INST, start=False)
    text = daemon.conf_path.read_text()
    assert f"{VIP1} dev eth0" in text
    daemon.conf_path.write_text(text.replace(f"{VIP1} dev eth0", f"{VIP1} dev eth1"))
    return daemon.start()


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
    segment1 = lan.add_segment()
    director = lan.add_node("d1")
    lan.attach(director, segment1)
    mac0, mac1 = director.macs["eth0"], director.macs["eth1"]
    ip0, ip1 = VIP0.split("/")[0], VIP1.split("/")[0]
    with Sniffer(lan.bridge_ns.name, "br0") as s0, Sniffer(lan.bridge_ns.name, "br1") as s1:
        sniffers = {"eth0": s0, "eth1": s1}
        results = {}
        for name, start in (("haipvs", lambda: haipvs_director(haipvs_node, director)),
                            ("keepalived", lambda: keepalived_director(keepalived_node,
                                                                       director))):
            since = time.time()
            t0 = time.monotonic()
            daemon = start()
            seen = announcements_of(sniffers, since)
            results[name] = seen
            print(f"{name}: burst seen after {time.monotonic() - t0:.2f}s: {seen}")
            assert director.has_address(VIP1, "eth1"), name
            daemon.proc.stop(timeout=3)
            deadline = time.time() + 5
            while director.has_address(VIP1, "eth1") and time.time() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)
        for name, seen in results.items():
            # garp_master_repeat 2: each VIP twice, each on its own segment, its own MAC
            assert sorted(seen["eth1"]) == [(ip1, mac1)] * 2, (name, seen)
            assert sorted(seen["eth0"]) == [(ip0, mac0)] * 2, (name, seen)
        assert results["haipvs"] == results["keepalived"]
