"""The MASTER transition's VIP add from the VRRP thread (haipvs.drivers.vip_fastpath) puts
the same address in the kernel as the general path (addresses.sync_add), and leaves every
case but a plain add to it: an address someone else configured stays theirs (keepalived
never removes what it did not add either)."""

from __future__ import annotations

import ipaddress
import json

import pytest

from integration.harness.netns import call_in_netns

pytestmark = pytest.mark.netns

VIPS = ("192.0.2.100/24", "2001:db8::100/64")


def _addr_entries(node, ifname: str) -> list[dict]:
    shown = json.loads(node.netns.ip("-d", "-j", "addr", "show", "dev", ifname).stdout)
    keep = ("family", "local", "prefixlen", "label", "valid_life_time", "scope")
    return sorted(({k: a.get(k) for k in keep} for a in shown[0]["addr_info"]
                   if a["local"] in {v.split("/")[0] for v in VIPS}),
                  key=lambda a: a["local"])


def test_fast_add_equals_sync_add_in_the_kernel_and_defers_foreign_addresses(lan):
    from haipvs.daemon import _make_iproute
    from haipvs.drivers import addresses
    from haipvs.drivers.netlink_thread import NetlinkThread
    from haipvs.drivers.vip_fastpath import FastVipAdder

    node = lan.add_node("d1")
    vips = [addresses.Vip(ipaddress.ip_interface(v), "eth0", label="eth0:v" if "." in v
                          else None) for v in VIPS]

    def add_fast() -> tuple[list, list]:
        adder = FastVipAdder()
        try:
            adder.prepare(vips)
            return adder.add(vips)
        finally:
            adder.close()

    def via_sync(fn) -> list[str]:
        with NetlinkThread(_make_iproute, name="rtnl") as rtnl:
            return [c.action for c in rtnl.call_blocking(fn, vips)]

    def owned() -> set:
        with NetlinkThread(_make_iproute, name="rtnl") as rtnl:
            return rtnl.call_blocking(addresses.owned_addresses, "eth0")

    added, rest = call_in_netns(node.ns, add_fast)
    assert (added, rest) == (vips, [])
    fast = _addr_entries(node, "eth0")
    assert len(fast) == 2
    assert call_in_netns(node.ns, owned) == {v.interface for v in vips}  # IFA_PROTO marked
    assert call_in_netns(node.ns, lambda: via_sync(addresses.sync_remove)) == ["remove"] * 2
    assert call_in_netns(node.ns, lambda: via_sync(addresses.sync_add)) == ["add"] * 2
    assert _addr_entries(node, "eth0") == fast
    assert call_in_netns(node.ns, add_fast) == ([], vips)  # present: sync_add decides

    # An operator's address with the same value: not the fast path's to claim ...
    call_in_netns(node.ns, lambda: via_sync(addresses.sync_remove))
    node.netns.ip("addr", "add", VIPS[0], "dev", "eth0")
    added, rest = call_in_netns(node.ns, add_fast)
    assert added == [vips[1]] and rest == [vips[0]]
    # ... and the general path then names it foreign; the fast-added one is ours already
    assert call_in_netns(node.ns, lambda: via_sync(addresses.sync_add)) == ["kept-foreign"]
