"""Gratuitous ARP (IPv4) and unsolicited Neighbour Advertisements (IPv6) for VIPs.

The frames are built by hand (a few struct.pack calls): scapy would cost 0.6 s and 63 MiB
at start-up for no gain on this path.
"""

from __future__ import annotations

import ipaddress
import socket
import struct

ETH_P_ARP = 0x0806
ETH_P_IP = 0x0800
ARPHRD_ETHER = 1
ARPOP_REQUEST = 1
BROADCAST_MAC = b"\xff" * 6

ICMPV6_NEIGHBOR_ADVERT = 136
ND_OPT_TARGET_LINKADDR = 2
NA_FLAG_OVERRIDE = 0x20000000
ALL_NODES = "ff02::1"
ICMP6_FILTER = 1  # <netinet/icmp6.h>; a 256-bit mask, set bit = block that type


def gratuitous_arp_frame(mac: bytes, vip: ipaddress.IPv4Address) -> bytes:
    """The request form keepalived sends: sender and target IP are the VIP, target MAC is
    broadcast. Requests are refreshed by more stacks than replies are."""
    ethernet = BROADCAST_MAC + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", ARPHRD_ETHER, ETH_P_IP, 6, 4, ARPOP_REQUEST)
    arp += mac + vip.packed + BROADCAST_MAC + vip.packed
    return ethernet + arp


def unsolicited_na_message(mac: bytes, vip: ipaddress.IPv6Address) -> bytes:
    """ICMPv6 NA with the Override flag and our link-layer address. The kernel fills in
    the ICMPv6 checksum for raw ICMPv6 sockets."""
    header = struct.pack("!BBHI", ICMPV6_NEIGHBOR_ADVERT, 0, 0, NA_FLAG_OVERRIDE)
    option = struct.pack("!BB", ND_OPT_TARGET_LINKADDR, 1) + mac
    return header + vip.packed + option


class Announcer:
    """Sends GARP/NA bursts for one interface.

    Both sockets are opened up front: opening one on the first MASTER transition costs
    milliseconds (registering a packet hook waits for an RCU grace period), which would
    delay the first GARP. The packet socket is bound to the interface with protocol 0, so
    it receives nothing (no packet hook) and a send names no address: sendto() with an
    (ifname, protocol) address costs an SIOCGIFINDEX ioctl per frame, on the takeover path.
    The kernel takes the frame's protocol from its Ethernet header (af_packet.c
    packet_parse_headers()).
    """

    def __init__(self, ifname: str, ifindex: int, mac: bytes) -> None:
        self.ifname = ifname
        self.ifindex = ifindex
        self.mac = mac
        self.sent = 0
        # frames per VIP, built once: the MAC is fixed for this Announcer's life (a new MAC
        # or interface gets a new Announcer)
        self._frames: dict[ipaddress.IPv4Address | ipaddress.IPv6Address, bytes] = {}
        self._packet_sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        self._packet_sock.setblocking(False)
        try:
            self._packet_sock.bind((ifname, 0))
            sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
            # Send-only: an ICMPv6 filter that passes nothing keeps the receive queue empty.
            sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, b"\xff" * 32)
            sock.setblocking(False)
        except OSError:
            self._packet_sock.close()
            raise
        self._icmp6_sock = sock

    def announce(self, vips: list[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> int:
        """One GARP/NA per VIP. Returns how many were handed to the kernel; a full send
        buffer or a vanished interface is not fatal (the next burst retries)."""
        sent = 0
        for vip in vips:
            try:
                frame = self._frames.get(vip) or self._frame(vip)
                if vip.version == 4:
                    self._packet_sock.send(frame)
                else:
                    self._icmp6_sock.sendto(frame, (ALL_NODES, 0, 0, self.ifindex))
                sent += 1
            except OSError:
                continue
        self.sent += sent
        return sent

    def prebuild(self, vips: list[ipaddress.IPv4Address | ipaddress.IPv6Address]) -> None:
        for vip in vips:
            self._frame(vip)

    def _frame(self, vip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bytes:
        frame = self._frames[vip] = (gratuitous_arp_frame(self.mac, vip) if vip.version == 4
                                     else unsolicited_na_message(self.mac, vip))
        return frame

    def close(self) -> None:
        self._packet_sock.close()
        self._icmp6_sock.close()
