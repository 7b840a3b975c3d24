"""FastVipAdder resolves interface indexes ahead of the takeover, as keepalived keeps its
interfaces' indexes (vrrp_if.c, updated by vrrp_netlink.c from RTM_NEWLINK/RTM_DELLINK), and
never adds to an index it cannot vouch for: a failed add forgets the index, and the link
monitor's messages resolve the touched interfaces again. The kernel side (the message equals
sync_add's) is integration/test_vip_fast_path.py."""

from __future__ import annotations

import ipaddress

import pytest

from haipvs.drivers import vip_fastpath
from haipvs.drivers.addresses import Vip
from haipvs.drivers.vip_fastpath import FastVipAdder, newaddr_body

VIP = Vip(ipaddress.ip_interface("192.0.2.100/24"), "eth0")


@pytest.fixture
def links(monkeypatch):
    """Interface name -> index, as if_nametoindex() would answer; lookups are counted."""
    table = {"eth0": 7}
    lookups: list[str] = []

    def nametoindex(name: str) -> int:
        lookups.append(name)
        if name not in table:
            raise OSError(19, "No such device")
        return table[name]

    monkeypatch.setattr(vip_fastpath.socket, "if_nametoindex", nametoindex)
    return table, lookups


@pytest.fixture
def adder(monkeypatch):
    adder = FastVipAdder()
    adder.sent: list[bytes] = []
    adder.refuse = False
    monkeypatch.setattr(adder, "_socket", lambda: None)

    def add_one(sock, body: bytes) -> bool:
        adder.sent.append(body)
        return not adder.refuse

    monkeypatch.setattr(adder, "_add_one", add_one)
    return adder


def test_the_takeover_add_looks_up_no_interface(links, adder):
    _, lookups = links
    adder.prepare([VIP])
    lookups.clear()
    assert adder.add([VIP]) == ([VIP], [])
    assert lookups == []
    assert adder.sent == [newaddr_body(VIP, 7)]


def test_a_recreated_interface_is_resolved_from_the_link_messages(links, adder):
    table, _ = links
    adder.prepare([VIP])
    del table["eth0"]
    adder.links_changed({7})  # RTM_DELLINK for index 7
    table["eth0"] = 12
    adder.links_changed({12})  # RTM_NEWLINK for the new index: the missing VIP is resolved
    assert adder.add([VIP]) == ([VIP], [])
    assert adder.sent == [newaddr_body(VIP, 12)]


def test_messages_about_other_interfaces_cost_no_lookup(links, adder):
    _, lookups = links
    adder.prepare([VIP])
    lookups.clear()
    adder.links_changed({3, 4})
    assert lookups == []
    adder.links_changed({0})  # an overrun: everything again
    assert lookups == ["eth0"]


def test_a_failed_add_forgets_the_index_and_leaves_the_vip_to_sync_add(links, adder):
    table, lookups = links
    adder.prepare([VIP])
    table["eth0"] = 12  # changed without a message seen yet: the add fails (ENODEV)
    adder.refuse = True
    assert adder.add([VIP]) == ([], [VIP])
    adder.refuse = False
    lookups.clear()
    assert adder.add([VIP]) == ([VIP], [])
    assert lookups == ["eth0"]
    assert adder.sent[-1] == newaddr_body(VIP, 12)


def test_a_missing_interface_leaves_the_vip_to_sync_add(links, adder):
    table, _ = links
    del table["eth0"]
    adder.prepare([VIP])
    assert adder.add([VIP]) == ([], [VIP])
    assert adder.sent == []
