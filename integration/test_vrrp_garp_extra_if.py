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
from integration.harness.wait import wait_until

pytestmark = keepalived_interop_marks()

DELAY = 2  # garp_extra_if; advert_int 1, so a round every 2..3 s (rounded up to an advert)
WATCH = 12.0  # seconds of MASTER watched after the initial burst
# one GARP per VIP at becoming MASTER and no second burst, so what follows is the rounds
INST = VrrpInstance(priority=255, state="MASTER", vips=(VIP0, VIP1),
                    garp={"master_repeat": 1, "master_delay": 0})


LAN_PREFIX = "ga"  # this module's own namespaces (the harness's lan fixture)


def watch(sniffers, since):
    """The announcements of WATCH seconds after the first one on eth1, per segment."""
    wait_until(lambda: sniffers["eth1"].announcements(since=since, ip=IP1), 15, interval=0.1,
               what="a GARP on eth1 after becoming MASTER")
    first = sniffers["eth1"].announcements(since=since, ip=IP1)[0].ts
    time.sleep(max(0.0, first + WATCH - time.time()))  # the rounds of WATCH seconds
    return {name: [a for a in s.announcements(since=since) if a.ts <= first + WATCH]
            for name, s in sniffers.items()}


def test_garp_extra_if_rounds_on_the_other_interface_as_keepalived(
        lan, haipvs_node, keepalived_node):
    starts = {
        "haipvs": lambda node: haipvs_director(
            haipvs_node, node, INST, {"extra_if": DELAY, "extra_if_all": True}),
        "keepalived": lambda node: keepalived_director(
            keepalived_node, node, INST, after="    garp_master_repeat 1\n",
            lines=f"    garp_extra_if {DELAY} all\n"),
    }
    director, results = observe_both(lan, starts, watch)
    mac0, mac1 = director.macs["eth0"], director.macs["eth1"]
    for name, seen in results.items():
        eth1 = seen["eth1"]
        gaps = [round(b.ts - a.ts, 2) for a, b in itertools.pairwise(eth1)]
        print(f"{name}: eth1 GARPs at gaps {gaps}, eth0 {len(seen['eth0'])}")
        # content: the eth1 VIP only, with eth1's MAC (vrrp_send_update on ip_addr->ifp)
        assert {(a.ip, a.src_mac) for a in eth1} == {(IP1, mac1)}, (name, eth1)
        # the instance's own interface gets its one GARP at becoming MASTER, no rounds
        assert [(a.ip, a.src_mac) for a in seen["eth0"]] == [(IP0, mac0)], (name, seen)
        # timing: the initial GARP, then a round each DELAY rounded up to an advert
        # (strictly after the timer: DELAY..DELAY+advert_int, with load slack)
        assert len(gaps) >= 3, (name, gaps)
        assert all(DELAY - 0.3 <= gap <= DELAY + 1.6 for gap in gaps), (name, gaps)
    counts = {name: len(seen["eth1"]) for name, seen in results.items()}
    assert abs(counts["haipvs"] - counts["keepalived"]) <= 1, counts
