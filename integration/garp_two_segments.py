"""Support for the GARP tests on a director with two segments (test_vrrp_garp_ifaces.py,
test_vrrp_garp_extra_if.py): eth0 on 192.0.2.0/24 is the instance's interface, eth1 on
198.51.100.0/24 holds the second VIP (`dev eth1`), a sniffer on each bridge. haipvs runs as
the director, then keepalived 2.2.7 in the same topology, and each test compares what the two
sent."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import yaml

from integration.harness.instance import VrrpInstance
from integration.harness.sniffer import Sniffer
from integration.harness.wait import wait_until

VIP0 = "192.0.2.100/24"
VIP1 = "198.51.100.100/24"  # on eth1
IP0, IP1 = VIP0.split("/")[0], VIP1.split("/")[0]


def haipvs_director(haipvs_node, node, inst: VrrpInstance, garp: dict[str, Any] | None = None):
    """haipvs with VIP1 on eth1 and `garp` keys added to the instance's."""
    daemon = haipvs_node(node, inst, start=False)
    config = yaml.safe_load(daemon.conf_path.read_text())
    instance = config["vrrp_instances"][0]
    instance["virtual_ipaddress"] = [VIP0, {"address": VIP1, "dev": "eth1"}]
    if garp:
        instance.setdefault("garp", {}).update(garp)
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return daemon.start()


def keepalived_director(keepalived_node, node, inst: VrrpInstance, after: str = "",
                        lines: str = ""):
    """keepalived with VIP1 on eth1 and `lines` inserted after the line `after`."""
    daemon = keepalived_node(node, inst, start=False)
    text = daemon.conf_path.read_text()
    assert f"{VIP1} dev eth0" in text, text
    text = text.replace(f"{VIP1} dev eth0", f"{VIP1} dev eth1")
    if lines:
        assert after in text, (after, text)
        text = text.replace(after, after + lines)
    daemon.conf_path.write_text(text)
    return daemon.start()


def observe_both(lan, starts: dict[str, Callable[[Any], Any]],
                 observe: Callable[[dict[str, Sniffer], float], Any]) -> tuple[Any, dict]:
    """A two-segment director; each of `starts` (name -> start(director) -> daemon) runs in
    turn, `observe(sniffers, since)` is what it sent, then it is stopped and its VIPs are
    gone before the next starts. Returns the director and {name: observation}."""
    segment1 = lan.add_segment()
    director = lan.add_node("d1")
    lan.attach(director, segment1)
    results = {}
    with Sniffer(lan.bridge_ns.name, "br0") as s0, Sniffer(lan.bridge_ns.name, "br1") as s1:
        sniffers = {"eth0": s0, "eth1": s1}
        for name, start in starts.items():
            since = time.time()
            daemon = start(director)
            results[name] = observe(sniffers, since)
            assert director.has_address(VIP1, "eth1"), name
            daemon.proc.stop(timeout=3)
            wait_until(lambda: not director.has_address(VIP1, "eth1"), 5, interval=0.1,
                       what=f"{name}'s VIPs removed at stop")
            time.sleep(0.5)  # its last packets are on the bridges before the next starts
    return director, results
