"""The hand-built RTM_NEWADDR of the MASTER transition (haipvs.drivers.vip_fastpath) and
the pre-built GARP frames (haipvs.drivers.announce), decoded by independent oracles:
pyroute2's ifaddrmsg parser and scapy."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from haipvs.drivers.addresses import HAIPVS_ADDR_PROTO, Vip
from haipvs.drivers.vip_fastpath import newaddr_body


def _decode(body: bytes):
    from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg

    header = (16 + len(body)).to_bytes(4, "little") + b"\x14\x00\x05\x06" + b"\0" * 8
    msg = ifaddrmsg(header + body)
    msg.decode()
    return msg


def test_ipv4_vip_carries_local_address_proto_and_label_like_sync_add():
    vip = Vip(ipaddress.ip_interface("192.0.2.100/24"), "eth0", label="eth0:vip")
    msg = _decode(newaddr_body(vip, 7))
    assert (msg["family"], msg["prefixlen"], msg["index"], msg["flags"]) == (
        socket.AF_INET, 24, 7, 0)
    assert msg.get_attr("IFA_LOCAL") == msg.get_attr("IFA_ADDRESS") == "192.0.2.100"
    assert msg.get_attr("IFA_LABEL") == "eth0:vip"
    assert msg.get_attr("IFA_PROTO") == HAIPVS_ADDR_PROTO


def test_ipv6_vip_is_permanent_and_nodad_so_it_is_usable_at_once():
    vip = Vip(ipaddress.ip_interface("2001:db8::100/64"), "eth0", label="ignored")
    msg = _decode(newaddr_body(vip, 3))
    assert (msg["family"], msg["prefixlen"], msg["index"]) == (socket.AF_INET6, 64, 3)
    assert msg["flags"] == 0x80 | 0x02  # IFA_F_PERMANENT | IFA_F_NODAD
    assert msg.get_attr("IFA_LOCAL") == "2001:db8::100"
    assert msg.get_attr("IFA_LABEL") is None  # labels are IPv4-only, as in sync_add
    assert msg.get_attr("IFA_PROTO") == HAIPVS_ADDR_PROTO


def test_prebuilt_gratuitous_arp_is_keepalived_request_form():
    scapy = pytest.importorskip("scapy.all")
    from haipvs.drivers.announce import gratuitous_arp_frame

    mac = bytes.fromhex("020000000001")
    vip = ipaddress.IPv4Address("192.0.2.100")
    frame = scapy.Ether(gratuitous_arp_frame(mac, vip))
    assert frame.dst == "ff:ff:ff:ff:ff:ff" and frame.src == "02:00:00:00:00:01"
    arp = frame[scapy.ARP]
    assert arp.op == 1 and arp.psrc == arp.pdst == "192.0.2.100"
    assert arp.hwsrc == "02:00:00:00:00:01" and arp.hwdst == "ff:ff:ff:ff:ff:ff"
