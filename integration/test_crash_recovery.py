"""Crash recovery of VIPs: a director SIGKILLed while holding, adding or removing its VIPs
and restarted next to a higher-priority MASTER comes back as BACKUP with none of its stale
(haipvs-marked) VIPs left, and an address someone else put on the same interface is still
there. (IPVS table recovery after a crash is tested in the qemu guest:
integration/qemu_tests/test_edits_and_restarts.py.)"""

from __future__ import annotations

import signal
import socket
import sys
from pathlib import Path

import pytest

from integration.harness.instance import VrrpInstance
from integration.harness.netns import call_in_netns
from integration.harness.wait import wait_until

pytestmark = pytest.mark.netns

VIPS = ("192.0.2.100/24", "192.0.2.101/24", "192.0.2.102/24")
FOREIGN = "192.0.2.77/24"  # added by the test, no IFA_PROTO mark: never haipvs' to remove
BASE = VrrpInstance(version=3, advert_int=0.2, password=None, vips=VIPS,
                    garp={"master_delay": 0})
HAIPVS_ADDR_PROTO = 0x4B


def address_protos(node) -> dict[str, int | None]:
    """address/prefix -> IFA_PROTO on eth0, read over rtnetlink inside the node's netns (this
    iproute2 neither shows nor sets an address protocol)."""
    from pyroute2 import IPRoute

    def read() -> dict[str, int | None]:
        with IPRoute() as ipr:
            index = ipr.link_lookup(ifname="eth0")[0]
            return {f"{m.get_attr('IFA_ADDRESS')}/{m['prefixlen']}": m.get_attr("IFA_PROTO")
                    for m in ipr.get_addr(index=index, family=socket.AF_INET)}

    return call_in_netns(node.ns, read)


def held_vips(node) -> set[str]:
    return {vip for vip in VIPS if node.has_address(vip)}


def transitions(daemon, to: str) -> int:
    return sum(1 for e in daemon.log_events()
               if e.get("event") == "vrrp_transition" and e.get("new") == to)


def kill_when_first_vip_appears(low, node) -> None:
    wait_until(lambda: held_vips(node), 8, interval=0.002,
               what="the first VIP on the new MASTER", describe=low.describe)
    low.kill()


def kill_when_it_steps_down(low, node, high) -> None:
    before = transitions(low, "BACKUP")
    high.start()
    wait_until(lambda: transitions(low, "BACKUP") > before, 8, interval=0.002,
               what=f"{low} stepping down", describe=low.describe)
    low.kill()


KILL_AT_OP = [sys.executable, str(Path(__file__).with_name("kill_at_address_op.py"))]
# Exact kill points between the address ops (no outside kill can land between them).
EXACT = {"after_add_1": ("add", 1), "after_add_2": ("add", 2),
         "after_del_1": ("del", 1), "after_del_2": ("del", 2)}


@pytest.mark.parametrize("kill_point", ["steady_master", "just_became_master",
                                        "stepping_down", *EXACT])
def test_restarted_director_drops_stale_vips_and_keeps_foreign_addresses(
        lan, haipvs_node, kill_point):
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    d2.netns.ip("addr", "add", FOREIGN, "dev", "eth0")
    high = haipvs_node(d1, BASE.but(priority=150), start=False)
    exact = EXACT.get(kill_point)
    if exact is None:
        low = haipvs_node(d2, BASE.but(priority=120))
    else:
        low = haipvs_node(d2, BASE.but(priority=120), start=False)
        low.start(launcher=[*KILL_AT_OP, exact[0], str(exact[1]), "--"])

    if kill_point == "just_became_master":
        kill_when_first_vip_appears(low, d2)
    elif kill_point == "stepping_down":
        low.wait_state("MASTER", 8)
        kill_when_it_steps_down(low, d2, high)
    elif exact is not None:
        kind, count = exact
        if kind == "del":
            low.wait_state("MASTER", 8)
            high.start()  # low steps down and starts removing its VIPs
        wait_until(lambda: not low.alive, 10, what=f"{low} to die after {kind} #{count}",
                   describe=low.describe)
        assert low.proc.returncode == -signal.SIGKILL
    else:
        low.wait_state("MASTER", 8)
        wait_until(lambda: held_vips(d2) == set(VIPS), 3, what="all VIPs on d2")
        low.kill()
    left_behind = held_vips(d2)
    print(f"killed at {kill_point} holding {sorted(left_behind)}")
    assert all(address_protos(d2)[vip] == HAIPVS_ADDR_PROTO for vip in left_behind)
    if kill_point == "steady_master":
        assert left_behind == set(VIPS)
    if exact is not None:
        # VIPs are added and removed in config order.
        kind, count = exact
        expected = VIPS[:count] if kind == "add" else VIPS[count:]
        assert left_behind == set(expected)

    if not high.alive:
        high.start()
    high.wait_state("MASTER", 8)
    wait_until(lambda: held_vips(d1) == set(VIPS), 3, what="all VIPs on d1")

    low.start()
    low.wait_started()
    # Stale VIPs go before the VRRP machines start, so before the daemon is ready.
    assert held_vips(d2) == set()
    removed = {e["vip"] for e in low.log_events() if e.get("event") == "stale_vip_removed"}
    assert removed == left_behind
    low.wait_state("BACKUP", 3)
    assert held_vips(d2) == set()
    assert FOREIGN in address_protos(d2) and address_protos(d2)[FOREIGN] != HAIPVS_ADDR_PROTO
    assert high.state() == "MASTER" and held_vips(d1) == set(VIPS)


def test_reload_with_a_crashing_config_value_keeps_the_running_master(lan, haipvs_node):
    d1 = lan.add_node("d1")
    master = haipvs_node(d1, BASE.but(priority=150))
    master.wait_state("MASTER", 8)
    text = master.conf_path.read_text()
    master.conf_path.write_text(text.replace("priority: 150", "priority: !!float"))
    master.wait_ready()
    master.proc.signal(signal.SIGHUP)
    wait_until(lambda: any(e.get("event") == "reload_failed" for e in master.log_events())
               or not master.alive, 5, what="the reload to be rejected or the daemon to exit")
    assert master.alive, master.describe()
    assert master.state() == "MASTER" and held_vips(d1) == set(VIPS)
