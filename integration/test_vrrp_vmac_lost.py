"""Acceptance (issue 15, engineer A, item 2): a vmac deleted by hand on a MASTER. keepalived
2.2.7 (core/keepalived_netlink.c netlink_link_filter() RTM_DELLINK, vrrp/vrrp_if.c
recreate_vmac_thread()): the instance goes to FAULT with its interface, the vmac it made
is made again at once ("Success creating VMAC interface"), the link coming up takes the
instance to BACKUP, and with no other router it is MASTER again at its down timer, the
VIP back on the vmac. haipvs runs on one director, keepalived on another (each alone on
the LAN); the same `ip link del` on both, and the transitions are compared."""

from __future__ import annotations

from integration.harness.requirements import (
    keepalived_interop_marks,
)
from integration.harness.wait import wait_until
from integration.test_ops_support import (  # noqa: F401 - the fixture is used by name
    FAST,
    ops_node_fixture,
)

pytestmark = keepalived_interop_marks()

VID = 74
VMAC = f"vrrp.{VID}"
VIP = "192.0.2.100/24"
VI_1 = FAST.but(name="VI_1", vrid=VID, vips=(VIP,), priority=150)


LAN_PREFIX = "gv"  # this module's own namespaces (the harness's lan fixture)


def scenario(node, transitions) -> list[str]:
    wait_until(lambda: node.has_address(VIP, VMAC), 5, what=f"{VIP} on {VMAC}")
    before = len(transitions())
    node.netns.ip("link", "del", VMAC)
    wait_until(lambda: transitions()[before:][-1:] == ["MASTER"], 10,
               what=f"MASTER again on {node.name} (saw {transitions()[before:]})")
    wait_until(lambda: node.has_address(VIP, VMAC), 3, what=f"{VIP} back on {VMAC}")
    return transitions()[before:]


def test_vmac_deleted_by_hand_is_made_again_as_keepalived(lan, ops_node, keepalived_node):
    node_d, node_k = lan.add_node("d1"), lan.add_node("k1")
    haipvs = ops_node(node_d, VI_1, per_instance={"VI_1": {"use_vmac": True}})
    haipvs.wait_state("MASTER", 8)

    def haipvs_transitions() -> list[str]:
        return [e["new"] for e in haipvs.log_events() if e.get("event") == "vrrp_transition"]

    results = {"haipvs": scenario(node_d, haipvs_transitions)}
    assert haipvs.count_log("vmac_recreated") == 1
    # the adverts go out on the new link (its own socket): none failed after the FAULT
    sent_after = [e for e in haipvs.log_events() if e.get("event") == "vrrp_send_failed"]
    assert len(sent_after) <= 2, sent_after  # only the ones while the link was gone
    assert haipvs.stop(timeout=5) == 0
    assert node_d.netns.ip("link", "show", VMAC, check=False).returncode != 0  # removed

    keepalived = keepalived_node(node_k, VI_1, start=False)
    conf = keepalived.conf_path.read_text()
    assert f"{VIP} dev eth0" in conf
    conf = conf.replace(f"{VIP} dev eth0", VIP).replace(
        "    virtual_ipaddress {", "    use_vmac\n    virtual_ipaddress {", 1)
    keepalived.conf_path.write_text(conf)
    keepalived.start()
    keepalived.wait_state("MASTER", 8)
    results["keepalived"] = scenario(node_k, keepalived.transitions)
    print(results)
    assert results["keepalived"] == ["FAULT", "BACKUP", "MASTER"]
    assert results["haipvs"] == results["keepalived"]
