"""The MASTER transition's VIP add from the VRRP thread (haipvs.drivers.vip_fastpath) puts
the same address in the kernel as the general path (addresses.sync_add, which sends the same
message on its own socket, drivers/rtnl_socket.py) and as pyroute2's IPRoute (the oracle:
what the general path sent before), and leaves every case but a plain add to it: an
address someone else configured stays theirs (keepalived never removes what it did not add
either)."""

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


def _add_with_pyroute2(vips) -> None:
    """The request the general path made with IPRoute before rtnl_socket.py."""
    from pyroute2 import IPRoute

    from haipvs.drivers.addresses import HAIPVS_ADDR_PROTO

    with IPRoute() as ipr:
        (index,) = ipr.link_lookup(ifname="eth0")
        for vip in vips:
            kwargs = {"index": index, "address": str(vip.address),
                      "prefixlen": vip.interface.network.prefixlen, "IFA_PROTO": HAIPVS_ADDR_PROTO}
            if vip.label and vip.address.version == 4:
                kwargs["label"] = vip.label
            if vip.address.version == 6:
                kwargs["flags"] = 0x80 | 0x02  # IFA_F_PERMANENT | IFA_F_NODAD
            ipr.addr("add", **kwargs)


def test_fast_add_equals_sync_add_in_the_kernel_and_defers_foreign_addresses(lan):
    from haipvs.daemon import _make_rtnl
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
        with NetlinkThread(_make_rtnl, name="rtnl") as rtnl:
            return [c.action for c in rtnl.call_blocking(fn, vips)]

    def owned() -> set:
        with NetlinkThread(_make_rtnl, name="rtnl") as rtnl:
            return rtnl.call_blocking(addresses.owned_addresses, "eth0")

    added, rest = call_in_netns(node.ns, add_fast)
    assert (added, rest) == (vips, [])
    fast = _addr_entries(node, "eth0")
    assert len(fast) == 2
    assert call_in_netns(node.ns, owned) == {v.interface for v in vips}  # IFA_PROTO marked
    assert call_in_netns(node.ns, lambda: via_sync(addresses.sync_remove)) == ["remove"] * 2
    assert call_in_netns(node.ns, lambda: via_sync(addresses.sync_add)) == ["add"] * 2
    assert _addr_entries(node, "eth0") == fast
    assert call_in_netns(node.ns, lambda: via_sync(addresses.sync_remove)) == ["remove"] * 2
    call_in_netns(node.ns, lambda: _add_with_pyroute2(vips))
    assert _addr_entries(node, "eth0") == fast
    assert call_in_netns(node.ns, owned) == {v.interface for v in vips}
    assert call_in_netns(node.ns, add_fast) == ([], vips)  # present: sync_add decides

    # An operator's address with the same value: not the fast path's to claim ...
    call_in_netns(node.ns, lambda: via_sync(addresses.sync_remove))
    node.netns.ip("addr", "add", VIPS[0], "dev", "eth0")
    added, rest = call_in_netns(node.ns, add_fast)
    assert added == [vips[1]] and rest == [vips[0]]
    # ... and the general path then names it foreign; the fast-added one is ours already
    assert call_in_netns(node.ns, lambda: via_sync(addresses.sync_add)) == ["kept-foreign"]
