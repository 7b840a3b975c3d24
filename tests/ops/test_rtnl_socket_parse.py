"""drivers/rtnl_socket.py decodes RTM_NEWLINK/RTM_NEWADDR bodies as pyroute2 encodes them
(pyroute2's message classes are the forge here; integration/test_rtnl_socket.py compares
the two against the kernel)."""

from __future__ import annotations

import ipaddress
import socket

from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg
from pyroute2.netlink.rtnl.ifinfmsg import ifinfmsg

from haipvs.drivers import rtnl_socket
from haipvs.drivers.rtnl_socket import Address, Link

HEADER = 16  # nlmsghdr: the decoders start after it


def encode(msg) -> bytes:
    msg.encode()
    return bytes(msg.data)


def newlink(**attrs) -> bytes:
    msg = ifinfmsg()
    msg["family"], msg["index"], msg["flags"] = socket.AF_UNSPEC, 7, 0x11043
    msg["attrs"] = list(attrs.items())
    return encode(msg)


def newaddr(family: int, prefixlen: int, flags: int, index: int, **attrs) -> bytes:
    msg = ifaddrmsg()
    msg["family"], msg["prefixlen"], msg["flags"], msg["index"] = family, prefixlen, flags, index
    msg["attrs"] = list(attrs.items())
    return encode(msg)


def test_a_link_reads_index_flags_operstate_and_mac():
    data = newlink(IFLA_IFNAME="eth0", IFLA_ADDRESS="02:00:5e:00:01:33", IFLA_OPERSTATE="UP")
    assert rtnl_socket._link(data, HEADER, len(data)) == Link(7, 0x11043, "UP",
                                                              bytes.fromhex("02005e000133"))


def test_a_link_without_operstate_or_address_is_not_up_and_has_no_mac():
    # sync_link_state counts only UP and UNKNOWN as up; IPRoute's missing state was None
    data = newlink(IFLA_IFNAME="tun0")
    assert rtnl_socket._link(data, HEADER, len(data)) == Link(7, 0x11043, "", b"")


def test_addresses_read_local_peer_prefix_flags_and_mark():
    ptp = newaddr(socket.AF_INET, 32, 0x80, 3, IFA_LOCAL="203.0.113.1",
                  IFA_ADDRESS="203.0.113.2")
    assert rtnl_socket._entry(ptp, HEADER, len(ptp)) == (3, Address(
        ipaddress.ip_address("203.0.113.1"), ipaddress.ip_address("203.0.113.2"), 32, 0x80,
        None))
    v6 = newaddr(socket.AF_INET6, 64, 0x40, 4, IFA_ADDRESS="fe80::1", IFA_PROTO=0x4B)
    assert rtnl_socket._entry(v6, HEADER, len(v6)) == (4, Address(
        ipaddress.ip_address("fe80::1"), ipaddress.ip_address("fe80::1"), 64, 0x40, 0x4B))


def test_an_address_of_another_family_or_without_address_is_skipped():
    bridge = newaddr(socket.AF_BRIDGE, 0, 0, 3)
    empty = newaddr(socket.AF_INET, 24, 0, 3, IFA_LABEL="eth0")
    assert rtnl_socket._entry(bridge, HEADER, len(bridge)) is None
    assert rtnl_socket._entry(empty, HEADER, len(empty)) is None


def test_attributes_stop_at_a_truncated_one_and_drop_the_nested_bits():
    good = rtnl_socket.netlink_attr(1, b"\x01\x02\x03\x04")
    nested = rtnl_socket.netlink_attr(0x8000 | 5, b"")
    truncated = b"\x10\x00\x02\x00" + b"\x00" * 4  # claims 16 bytes, has 8
    data = good + nested + truncated
    found = rtnl_socket._attrs(data, 0, len(data))
    assert {kind: bytes(value) for kind, value in found.items()} == {1: b"\x01\x02\x03\x04",
                                                                      5: b""}
