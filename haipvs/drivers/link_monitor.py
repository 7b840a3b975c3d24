"""Wakes the VRRP runtime when links or addresses change.

A plain AF_NETLINK socket subscribed to link and address multicast groups, read on the trio
loop. Messages are only a trigger: the runtime then asks the kernel for the interface's
current state, which is simpler and never wrong about ordering or lost messages.
"""

from __future__ import annotations

import socket
import struct

import trio

NETLINK_ROUTE = 0
RTMGRP_LINK = 0x1
RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100
RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR = 16, 17, 20, 21
NLMSG_HDR = struct.Struct("=IHHII")
IFINFO_INDEX = struct.Struct("=BxHiII")  # ifinfomsg: family, type, index, flags, change
IFADDR_INDEX = struct.Struct("=BBBBI")  # ifaddrmsg: family, prefixlen, flags, scope, index


def changed_ifindexes(data: bytes) -> set[int]:
    """Interface indexes named by the link/address messages in one netlink read.
    An overrun or unparsable read yields {0}, meaning 'recheck everything'."""
    indexes: set[int] = set()
    offset = 0
    while offset + NLMSG_HDR.size <= len(data):
        length, kind, _flags, _seq, _pid = NLMSG_HDR.unpack_from(data, offset)
        if length < NLMSG_HDR.size:
            return {0}
        body = offset + NLMSG_HDR.size
        if kind in (RTM_NEWLINK, RTM_DELLINK) and body + IFINFO_INDEX.size <= len(data):
            indexes.add(IFINFO_INDEX.unpack_from(data, body)[2])
        elif kind in (RTM_NEWADDR, RTM_DELADDR) and body + IFADDR_INDEX.size <= len(data):
            indexes.add(IFADDR_INDEX.unpack_from(data, body)[4])
        offset += (length + 3) & ~3
    return indexes


class LinkMonitor:
    def __init__(self) -> None:
        self._sock = trio.socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_ROUTE)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)

    async def bind(self) -> None:
        await self._sock.bind((0, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR))

    async def next_change(self) -> set[int]:
        try:
            data = await self._sock.recv(65536)
        except OSError:  # ENOBUFS: we missed events; recheck everything
            return {0}
        return changed_ifindexes(data)

    def close(self) -> None:
        self._sock.close()
