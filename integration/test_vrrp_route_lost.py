"""Acceptance (issue 15, engineer A, item 3): a virtual route deleted by hand while MASTER.
keepalived 2.2.7 core/keepalived_netlink.c netlink_route_filter(): a deletion of a route
it set for an instance, unless `no_track` (route->dont_track), calls set_vrrp_backup():
the instance leaves MASTER (vrrp_state_leave_master(): VIPs and routes released) with its
down timer at the skew time, and with no other router takes MASTER back at once, adding
the route again. A `no_track` route's deletion is ignored. haipvs runs on one director,
keepalived on another (each alone on the LAN), the same routes are deleted on both, and
the transitions and routes that follow are compared."""

from __future__ import annotations

import time

from integration.harness.requirements import (
    keepalived_interop_marks,
)
from integration.harness.wait import wait_until
from integration.test_ops_support import (  # noqa: F401 - the fixture is used by name
    FAST,
    ops_node_fixture,
)
from integration.test_vrrp_routes import routes

pytestmark = keepalived_interop_marks()

VI_1 = FAST.but(name="VI_1", vrid=72, vips=("192.0.2.100/24",), priority=150)
TRACKED = "198.51.100.0/25"  # table 100
UNTRACKED = "198.51.100.128/25"  # table 100, no_track


LAN_PREFIX = "gr"  # this module's own namespaces (the harness's lan fixture)


def keepalived_routes(conf: str) -> str:
    block = ("    virtual_routes {\n"
             f"        {TRACKED} via 192.0.2.254 dev eth0 table 100\n"
             f"        {UNTRACKED} via 192.0.2.254 dev eth0 table 100 no_track\n"
             "    }\n")
    return conf.replace("    virtual_ipaddress {", block + "    virtual_ipaddress {", 1)


HAIPVS_ROUTES = {"VI_1": {"virtual_routes": [
    {"to": TRACKED, "via": "192.0.2.254", "dev": "eth0", "table": 100},
    {"to": UNTRACKED, "via": "192.0.2.254", "dev": "eth0", "table": 100, "no_track": True},
]}}


def present(node) -> tuple[int, int]:
    return len(routes(node, TRACKED, 100)), len(routes(node, UNTRACKED, 100))


def scenario(node, transitions) -> dict[str, object]:
    """Deletes the no_track route, then the tracked one; what each daemon did."""
    wait_until(lambda: present(node) == (1, 1), 5, what=f"routes on {node.name}")
    before = len(transitions())
    node.netns.ip("route", "del", UNTRACKED, "table", "100")
    time.sleep(1.5)  # 7 adverts: time for any reaction
    after_untracked = (transitions()[before:], present(node))
    before = len(transitions())
    t0 = time.monotonic()
    node.netns.ip("route", "del", TRACKED, "table", "100")
    wait_until(lambda: transitions()[before:] == ["BACKUP", "MASTER"], 5,
               what=f"BACKUP then MASTER on {node.name} (saw {transitions()[before:]})")
    back_after = time.monotonic() - t0
    wait_until(lambda: present(node)[0] == 1, 3, what=f"{TRACKED} re-added on {node.name}")
    time.sleep(1.0)
    return {"no_track deleted": after_untracked,
            "tracked deleted": (transitions()[before:], present(node)),
            "back_after": back_after}


def test_deleted_virtual_route_steps_down_and_back_as_keepalived(
        lan, ops_node, keepalived_node):
    node_d, node_k = lan.add_node("d1"), lan.add_node("k1")
    haipvs = ops_node(node_d, VI_1, per_instance=HAIPVS_ROUTES)
    haipvs.wait_state("MASTER", 8)

    def haipvs_transitions() -> list[str]:
        return [e["new"] for e in haipvs.log_events() if e.get("event") == "vrrp_transition"]

    results = {"haipvs": scenario(node_d, haipvs_transitions)}
    assert haipvs.stop(timeout=5) == 0

    keepalived = keepalived_node(node_k, VI_1, start=False)
    keepalived.conf_path.write_text(keepalived_routes(keepalived.conf_path.read_text()))
    keepalived.start()
    keepalived.wait_state("MASTER", 8)
    results["keepalived"] = scenario(node_k, keepalived.transitions)
    print(results)
    for name, seen in results.items():
        # no_track: ignored, not re-added, no transition
        assert seen["no_track deleted"] == ([], (1, 0)), (name, seen)
        # tracked: BACKUP, then MASTER at the skew time (a few ms here), route re-added
        assert seen["back_after"] < 2.0, (name, seen)
    assert results["haipvs"]["tracked deleted"] == results["keepalived"]["tracked deleted"]
