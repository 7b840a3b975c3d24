"""The rtnetlink owner's requests leave no unread replies behind.

pyroute2 0.9's "get" requests (get_links(index), link_lookup) ask for an ACK but stop
reading at the reply, so each ACK stayed in the IPRoute object's unread queue for good. The
VIP path checks the link after every address change, so a flapping director grew ~2 KiB per
flap (docs/soak.md). The VIP path now has its own socket (drivers/rtnl_socket.py); this runs
it many times and counts what the kernel has queued that nobody read.
"""

from __future__ import annotations

import ipaddress

import pytest

from integration.harness.netns import call_in_netns

pytestmark = pytest.mark.netns

CYCLES = 200


def _unread(rt) -> int:
    return rt.pending()


def test_vip_and_link_requests_leave_nothing_unread(lan):
    from haipvs.daemon import _make_rtnl
    from haipvs.drivers import addresses
    from haipvs.drivers.netlink_thread import NetlinkThread

    node = lan.add_node("d1")
    vip = addresses.Vip(ipaddress.ip_interface("192.0.2.100/24"), "eth0")

    def churn() -> tuple[int, int, list[str], addresses.LinkState]:
        with NetlinkThread(_make_rtnl, name="rtnl") as rtnl:
            rtnl.call_blocking(addresses.sync_link_state, "eth0")
            before = rtnl.call_blocking(_unread)
            actions = []
            for _ in range(CYCLES):
                actions += [c.action for c in rtnl.call_blocking(addresses.sync_add, [vip])]
                rtnl.call_blocking(addresses.sync_link_state, "eth0")
                actions += [c.action for c in rtnl.call_blocking(addresses.sync_remove, [vip])]
                rtnl.call_blocking(addresses.sync_link_state, "eth0")
            missing = rtnl.call_blocking(addresses.sync_link_state, "nosuch0")
            return before, rtnl.call_blocking(_unread), actions, missing

    before, after, actions, missing = call_in_netns(node.ns, churn)
    assert actions == ["add", "remove"] * CYCLES  # the VIP really came and went
    assert after == before
    assert missing.index is None and not missing.up


def test_link_state_follows_a_recreated_interface(lan):
    """The cached ifindex goes stale when an interface is re-created under the same name."""
    from haipvs.daemon import _make_rtnl
    from haipvs.drivers import addresses
    from haipvs.drivers.netlink_thread import NetlinkThread

    node = lan.add_node("d1")
    node.netns.ip("link", "add", "vx0", "type", "veth", "peer", "name", "vx1")
    node.netns.ip("link", "set", "vx0", "up")
    node.netns.ip("link", "set", "vx1", "up")

    def recreate() -> None:
        node.netns.ip("link", "del", "vx0")
        node.netns.ip("link", "add", "vx0", "type", "veth", "peer", "name", "vx1")
        node.netns.ip("link", "set", "vx0", "up")
        node.netns.ip("link", "set", "vx1", "up")

    def states() -> tuple[addresses.LinkState, addresses.LinkState]:
        with NetlinkThread(_make_rtnl, name="rtnl") as rtnl:
            first = rtnl.call_blocking(addresses.sync_link_state, "vx0")
            recreate()
            return first, rtnl.call_blocking(addresses.sync_link_state, "vx0")

    first, second = call_in_netns(node.ns, states)
    assert first.index is not None and second.index is not None
    assert second.index != first.index
    assert second.up
