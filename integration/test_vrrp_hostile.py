"""Acceptance: hostile or broken adverts injected on the director LAN leave the MASTER in
place and are counted under the right drop reason in the state dump.

Every injected advert claims priority 254, so a packet that slipped through validation
would demote the priority-100 master at once; the control case shows that it would.
"""

import pytest

from integration.harness.instance import VrrpInstance
from integration.harness.requirements import haipvs_unavailable_reason
from integration.harness.sniffer import inject
from integration.harness.vrrp import advert_v2
from integration.harness.wait import wait_until

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                       reason=haipvs_unavailable_reason() or ""),
]

VIP = "192.0.2.100/24"
MASTER = VrrpInstance(priority=100, state="MASTER", version=2, password="1111")
UNICAST_PEER = "192.0.2.200"  # configured but absent: the attacker is not it


def hostile(attacker, master, **changes):
    fields = {"password": "1111", "advert_int": 1, "ttl": 255}
    fields.update(changes)
    addresses = fields.pop("addresses", ["192.0.2.100"])
    return advert_v2(attacker.mac, attacker.ip, 51, 254, addresses, **fields)


def bad_checksum(attacker, master):
    from scapy.layers.l2 import Ether
    from scapy.layers.vrrp import VRRP

    good = Ether(bytes(hostile(attacker, master)))[VRRP].chksum
    return hostile(attacker, master, chksum=good ^ 0x5A5A)


def truncated(attacker, master):
    from scapy.layers.inet import IP
    from scapy.layers.l2 import Ether
    from scapy.packet import Raw

    packet = hostile(attacker, master)
    vrrp_bytes = bytes(packet[IP].payload)
    # Header and part of the address list: the advert's count says there is more.
    return (Ether(src=packet.src, dst=packet.dst)
            / IP(src=attacker.ip, dst="224.0.0.18", ttl=255, proto=112)
            / Raw(vrrp_bytes[:10]))


def from_unknown_peer(attacker, master):
    return hostile(attacker, master, dst_ip=master.ip, dst_mac=master.mac)


CASES = {
    "ttl": (lambda a, m: hostile(a, m, ttl=64), {"ttl"}, {}),
    "auth_mismatch": (lambda a, m: hostile(a, m, password="2222"), {"auth_mismatch"}, {}),
    "checksum": (bad_checksum, {"checksum"}, {}),
    "interval_mismatch": (lambda a, m: hostile(a, m, advert_int=3), {"interval_mismatch"}, {}),
    "vip_mismatch": (lambda a, m: hostile(a, m, addresses=["192.0.2.99"]), {"vip_mismatch"}, {}),
    "truncated": (truncated, {"short_packet", "length"}, {}),
    "unknown_peer": (from_unknown_peer, {"unknown_peer"},
                     {"unicast_src_ip": "192.0.2.1", "unicast_peers": [UNICAST_PEER]}),
}


def drop_counts(dump, reasons):
    """Drops for `reasons` on VI_1, and on the interfaces (drops before the VRID is known)."""
    on_instance = sum(dump["instances"]["VI_1"]["counters"]["drops"].get(r, 0) for r in reasons)
    on_interfaces = 0
    for entry in dump.get("interfaces", {}).values():
        drops = entry.get("drops", {})
        drops = drops.get("drops", drops)  # tolerate {"drops": {...}, "received": n}
        on_interfaces += sum(drops.get(r, 0) for r in reasons if isinstance(drops.get(r), int))
    return on_instance, on_interfaces


def start_master(lan, haipvs_node, **changes):
    master_node = lan.add_node("d1")
    attacker = lan.add_node("x1")
    master = haipvs_node(master_node, MASTER.but(**changes))
    master.wait_state("MASTER", 6)
    assert master.has_vip(VIP)
    return master, master_node, attacker


@pytest.mark.parametrize("case", list(CASES))
def test_hostile_advert_is_dropped_and_counted(lan, sniffer, haipvs_node, case):
    build, reasons, changes = CASES[case]
    master, master_node, attacker = start_master(lan, haipvs_node, **changes)
    before = master.instance_dump()
    before_counts = drop_counts(master.dump(), reasons)

    inject(attacker.ns, "eth0", build(attacker, master_node))

    def counted():
        counts = drop_counts(master.dump(), reasons)
        return counts if sum(counts) > sum(before_counts) else None

    on_instance, _ = wait_until(counted, 3, interval=0.1, what=f"a {sorted(reasons)} drop",
                                describe=lambda: str(master.instance_dump()["counters"]))
    after = master.instance_dump()
    if case != "truncated":  # a truncated advert may be dropped before its VRID is read
        assert on_instance > before_counts[0], "the drop is attributed to VI_1"
    assert after["state"] == "MASTER"
    assert after["counters"]["transitions"] == before["counters"]["transitions"]
    assert master.has_vip(VIP)


def test_control_a_valid_higher_priority_advert_does_demote_the_master(
        lan, sniffer, haipvs_node):
    master, master_node, attacker = start_master(lan, haipvs_node)
    inject(attacker.ns, "eth0", hostile(attacker, master_node))
    master.wait_state("BACKUP", 2)
    assert master.instance_dump()["master_ip"] == attacker.ip
