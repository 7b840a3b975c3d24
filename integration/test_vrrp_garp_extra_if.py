"""Acceptance (issue 15, engineer A): keepalived's `garp_extra_if <delay> [all]`. While
MASTER, each advert sent once now is past the timer (vrrp.c vrrp_state_master_tx(),
timer from vrrp_state_become_master(): now + delay, strictly after) sends one round of
vrrp_send_vmac_update(): ONE gratuitous ARP per other interface holding a VIP (`all`:
plain interfaces too), none on the instance's own interface. The director has eth0 (the
instance's interface, 192.0.2.0/24) and eth1 (198.51.100.0/24) with the second VIP; a
sniffer on each bridge. keepalived 2.2.7 runs the same instance in the same topology, as
the oracle: the rounds on eth1 come at the same period and with the same content."""

from __future__ import annotations

import itertools
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
DELAY = 2  # garp_extra_if; advert_int 1, so a round every 2..3 s (rounded up to an advert)
WATCH = 12.0  # seconds of MASTER watched after the initial burst
# one GARP per VIP at becoming MASTER and no second burst, so what follows is the rounds
INST = VrrpInstance(priority=255, state="MASTER", vips=(VIP0, VIP1),
                    garp={"master_repeat": 1, "master_delay": 0})


LAN_PREFIX = "ga"  # this module's own namespaces (the harness's lan fixture)


def haipvs_director(haipvs_node, node):
    daemon = haipvs_node(node, INST, start=False)
    config = yaml.safe_load(daemon.conf_path.read_text())
    instance = config["vrrp_instances"][0]
    instance["virtual_ipaddress"] = [VIP0, {"address": VIP1, "dev": "eth1"}]
    instance.setdefault("garp", {}).update({"extra_if": DELAY, "extra_if_all": True})
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return daemon.start()


def keepalived_director(keepalived_node, node):
    daemon = keepalived_node(node, INST, start=False)
    text = daemon.conf_path.read_text()
    assert f"{VIP1} dev eth0" in text and "    garp_master_repeat 1\n" in text
    text = text.replace(f"{VIP1} dev eth0", f"{VIP1} dev eth1")
    text = text.replace("    garp_master_repeat 1\n",
                        f"    garp_master_repeat 1\n    garp_extra_if {DELAY} all\n")
    daemon.conf_path.write_text(text)
    return daemon.start()


def watch(sniffers, director, since):
    """The announcements of WATCH seconds after the first one, per segment."""
    ip1 = VIP1.split("/")[0]
    deadline = time.time() + 15
    while not sniffers["eth1"].announcements(since=since, ip=ip1):
        assert time.time() < deadline, "no GARP on eth1 after becoming MASTER"
        time.sleep(0.1)
    first = sniffers["eth1"].announcements(since=since, ip=ip1)[0].ts
    time.sleep(max(0.0, first + WATCH - time.time()))
    return {name: [a for a in s.announcements(since=since) if a.ts <= first + WATCH]
            for name, s in sniffers.items()}


def test_garp_extra_if_rounds_on_the_other_interface_as_keepalived(
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
            daemon = start()
            seen = watch(sniffers, director, since)
            results[name] = seen
            assert director.has_address(VIP1, "eth1"), name
            daemon.proc.stop(timeout=3)
            deadline = time.time() + 5
            while director.has_address(VIP1, "eth1") and time.time() < deadline:
                time.sleep(0.1)
            time.sleep(0.5)
        for name, seen in results.items():
            eth1 = seen["eth1"]
            gaps = [round(b.ts - a.ts, 2) for a, b in itertools.pairwise(eth1)]
            print(f"{name}: eth1 GARPs at gaps {gaps}, eth0 {len(seen['eth0'])}")
            # content: the eth1 VIP only, with eth1's MAC (vrrp_send_update on ip_addr->ifp)
            assert {(a.ip, a.src_mac) for a in eth1} == {(ip1, mac1)}, (name, eth1)
            # the instance's own interface gets its one GARP at becoming MASTER, no rounds
            assert [(a.ip, a.src_mac) for a in seen["eth0"]] == [(ip0, mac0)], (name, seen)
            # timing: the initial GARP, then a round each DELAY rounded up to an advert
            # (strictly after the timer: DELAY..DELAY+advert_int, with load slack)
            assert len(gaps) >= 3, (name, gaps)
            assert all(DELAY - 0.3 <= gap <= DELAY + 1.6 for gap in gaps), (name, gaps)
        counts = {name: len(seen["eth1"]) for name, seen in results.items()}
        assert abs(counts["haipvs"] - counts["keepalived"]) <= 1, counts
