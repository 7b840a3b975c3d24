"""drivers/rtnl_socket.py reads links and addresses as pyroute2's IPRoute reads them (the
oracle), in a namespace with IPv4/IPv6, secondary, labelled and marked addresses and a dump
spread over many datagrams; its errors are the kernel's errno in a NetlinkError, as
IPRoute's are; and nothing is left unread."""

from __future__ import annotations

import errno
import ipaddress

import pytest

from integration.harness.netns import call_in_netns

pytestmark = pytest.mark.netns

MANY = 600  # addresses: an RTM_GETADDR dump of several datagrams


def _oracle(ifname: str) -> tuple[tuple, list[tuple]]:
    """(index, flags, operstate, mac) and the addresses of `ifname`, read by IPRoute."""
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        (link,) = ipr.link("get", ifname=ifname)
        mac = link.get_attr("IFLA_ADDRESS") or ""
        entries = []
        for msg in ipr.get_addr(index=link["index"]):
            local = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
            address = msg.get_attr("IFA_ADDRESS") or msg.get_attr("IFA_LOCAL")
            entries.append((ipaddress.ip_address(local), ipaddress.ip_address(address),
                            msg["prefixlen"], msg["flags"], msg.get_attr("IFA_PROTO")))
        return ((link["index"], link["flags"], link.get_attr("IFLA_OPERSTATE"),
                 bytes.fromhex(mac.replace(":", ""))), sorted(entries, key=str))


def _ours(ifname: str) -> tuple[tuple, list[tuple]]:
    from haipvs.drivers.rtnl_socket import RtnlSocket

    rt = RtnlSocket()
    try:
        link = rt.find_link(ifname=ifname)
        assert link is not None and rt.find_link(index=link.index) == link
        entries = sorted((tuple(a) for a in rt.list_addresses(link.index)), key=str)
        assert rt.pending() == 0
        return tuple(link), entries
    finally:
        rt.close()


def _add_marked() -> None:
    from pyroute2 import IPRoute

    from haipvs.drivers.addresses import HAIPVS_ADDR_PROTO

    with IPRoute() as ipr:
        (index,) = ipr.link_lookup(ifname="eth0")
        ipr.addr("add", index=index, address="198.51.100.1", prefixlen=32,
                 IFA_PROTO=HAIPVS_ADDR_PROTO)


def test_links_and_addresses_read_as_iproute_reads_them(lan):
    node = lan.add_node("d1")
    ip = node.netns.ip
    ip("addr", "add", "192.0.2.10/24", "dev", "eth0")
    ip("addr", "add", "192.0.2.11/24", "dev", "eth0", "label", "eth0:x")  # secondary
    ip("addr", "add", "2001:db8::10/64", "dev", "eth0", "nodad")
    call_in_netns(node.ns, _add_marked)  # haipvs' mark (this iproute2 has no "proto")
    ip("addr", "add", "203.0.113.1", "peer", "203.0.113.2/32", "dev", "eth0")  # point-to-point
    ip("link", "add", "dn0", "type", "veth", "peer", "name", "dn1")  # down: no carrier
    for ifname in ("eth0", "lo", "dn0"):
        ours = call_in_netns(node.ns, lambda name=ifname: _ours(name))
        assert ours == call_in_netns(node.ns, lambda name=ifname: _oracle(name)), ifname
    assert len(call_in_netns(node.ns, lambda: _ours("eth0"))[1]) >= 6  # and the link-local


def test_a_dump_of_many_datagrams_is_read_whole(lan):
    node = lan.add_node("d1")
    batch = "\n".join(f"addr add 203.0.113.{1 + i % 250}/32 dev eth0 label eth0:{i // 250}"
                      if i < 250 else f"addr add 2001:db8:1::{i:x}/128 dev eth0 nodad"
                      for i in range(MANY))
    node.netns.run("ip", "-batch", "-", input_text=batch)
    ours = call_in_netns(node.ns, lambda: _ours("eth0"))
    assert ours == call_in_netns(node.ns, lambda: _oracle("eth0"))
    assert len(ours[1]) > MANY


def test_errors_are_the_kernels_errno_as_iproute_raises_them(lan):
    from haipvs.drivers.addresses import Vip

    node = lan.add_node("d1")
    vip = Vip(ipaddress.ip_interface("192.0.2.100/24"), "eth0")

    def run() -> list:
        from pyroute2.netlink.exceptions import NetlinkError

        from haipvs.drivers.rtnl_socket import RtnlSocket

        rt = RtnlSocket()
        seen: list = []
        try:
            index = rt.find_link(ifname="eth0").index
            rt.add_address(vip, index)
            for op in (lambda: rt.add_address(vip, index),
                       lambda: rt.add_address(vip, 999999),
                       lambda: rt.remove_address(index, vip.interface)):
                try:
                    op()
                    seen.append(0)
                except NetlinkError as exc:
                    seen.append(exc.code)
            try:
                rt.remove_address(index, vip.interface)
            except NetlinkError as exc:
                seen.append(exc.code)
            seen.append(rt.find_link(ifname="nosuch0"))
            seen.append(rt.find_link(index=999999))
            seen.append(rt.pending())
        finally:
            rt.close()
        return seen

    assert call_in_netns(node.ns, run) == [errno.EEXIST, errno.ENODEV, 0,
                                           errno.EADDRNOTAVAIL, None, None, 0]


def test_other_requests_go_to_iproute_made_on_first_use(lan):
    node = lan.add_node("d1")

    def run() -> tuple:
        from haipvs.drivers.rtnl_socket import RtnlSocket

        rt = RtnlSocket()
        try:
            before = rt._iproute
            names = sorted(link.get_attr("IFLA_IFNAME") for link in rt.get_links())
            return before, names, type(rt._iproute).__name__
        finally:
            rt.close()

    assert call_in_netns(node.ns, run) == (None, ["eth0", "lo"], "IPRoute")
