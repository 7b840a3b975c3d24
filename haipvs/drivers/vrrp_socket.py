"""Raw VRRP sockets (IP protocol 112) for one interface and address family.

One receive socket joins the VRRP group; sends go out through a second socket with the
source pinned per packet (IP_PKTINFO / IPV6_PKTINFO) to the interface's primary address,
never a VIP. Binding a raw socket to an address would also filter what it receives, which
is why keepalived keeps send and receive apart too.
"""

from __future__ import annotations

import ctypes
import ipaddress
import socket
import struct
import time

import trio

from haipvs.drivers.timed_send import TimedSender, control_bytes, sockaddr_bytes

IPPROTO_VRRP = 112
VRRP_GROUP_V4 = "224.0.0.18"
VRRP_GROUP_V6 = "ff02::12"
IP_PKTINFO = 8  # missing from Python 3.11's socket module
VRRP_TTL = 255

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


SO_ATTACH_FILTER = 26
SO_TIMESTAMPNS = 35  # SO_TIMESTAMPNS_OLD: struct timespec of two longs, wall clock
_TIMESPEC = struct.Struct("@ll")
_STAMP_SPACE = socket.CMSG_SPACE(_TIMESPEC.size)
_BPF_RET_ZERO = struct.pack("HBBI", 0x06, 0, 0, 0)  # BPF_RET | BPF_K, 0: accept 0 bytes


def _stamp(ancdata: list[tuple[int, int, bytes]]) -> float | None:
    for level, kind, value in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
            seconds, nanoseconds = _TIMESPEC.unpack_from(value)
            return seconds + nanoseconds * 1e-9
    return None


def arrival_time(stamp: float | None) -> float | None:
    """A kernel arrival stamp (wall clock) as trio time; None when unknown or when the wall
    clock was stepped in between (an age outside 0..1 s)."""
    if stamp is None:
        return None
    age = time.time() - stamp
    return trio.current_time() - age if 0.0 <= age < 1.0 else None


def _drop_everything(sock: trio.socket.SocketType) -> None:
    """A classic BPF filter that drops every packet before it is queued."""
    program = ctypes.create_string_buffer(_BPF_RET_ZERO)
    fprog = struct.pack("HL", 1, ctypes.addressof(program))  # struct sock_fprog
    sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, fprog)  # the kernel copies it


class VrrpSocket:
    def __init__(self, ifname: str, ifindex: int, family: int) -> None:
        self.ifname = ifname
        self.ifindex = ifindex
        self.family = family
        self._send_ifindex = ifindex
        self._joined: set[IPAddress] = set()  # extra groups (mcast_dst_ip)
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        self._recv = trio.socket.socket(af, socket.SOCK_RAW, IPPROTO_VRRP)
        self._send = trio.socket.socket(af, socket.SOCK_RAW, IPPROTO_VRRP)
        # the same socket for sends that must not yield (send() below)
        self._send_raw = socket.socket(fileno=self._send.fileno())
        try:
            for sock in (self._recv, self._send):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
            # The arrival time, for timers that run from it (the runtime's _receive_loop)
            self._recv.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            # The send socket is never read, but a raw socket gets a copy of every VRRP
            # packet: without a filter its queue sits full (~200 KiB of kernel memory).
            _drop_everything(self._send)
            if family == 4:
                self._setup_v4()
            else:
                self._setup_v6()
        except BaseException:
            self.close()
            raise

    def _setup_v4(self) -> None:
        mreqn = struct.pack("4s4si", socket.inet_aton(VRRP_GROUP_V4), b"\0" * 4, self.ifindex)
        self._recv.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        s = self._send
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, VRRP_TTL)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, VRRP_TTL)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)

    def _setup_v6(self) -> None:
        mreq = socket.inet_pton(socket.AF_INET6, VRRP_GROUP_V6) + struct.pack("@I", self.ifindex)
        r = self._recv
        r.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        r.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
        r.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        s = self._send
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, VRRP_TTL)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, VRRP_TTL)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)

    def send_via(self, ifname: str, ifindex: int) -> None:
        """Send over another interface than the one received on: keepalived's
        vmac_xmit_base sends a vmac instance's adverts over the parent (its MAC), while
        receiving stays on the vmac (vrrp.c vrrp_build_ip6 ipi6_ifindex, vrrp_scheduler.c)."""
        s = self._send
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
        if self.family == 4:
            mreqn = struct.pack("4s4si", socket.inet_aton(VRRP_GROUP_V4), b"\0" * 4, ifindex)
            s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
        else:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
        self._send_ifindex = ifindex

    def join(self, group: IPAddress) -> None:
        """Also receive adverts sent to `group` (keepalived mcast_dst_ip: vrrp.c
        open_vrrp_read_socket() joins the instance's group). Idempotent."""
        if group in self._joined:
            return
        if self.family == 4:
            mreqn = struct.pack("4s4si", group.packed, b"\0" * 4, self.ifindex)
            self._recv.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        else:
            mreq = group.packed + struct.pack("@I", self.ifindex)
            self._recv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        self._joined.add(group)

    @property
    def multicast_group(self) -> IPAddress:
        return ipaddress.ip_address(VRRP_GROUP_V4 if self.family == 4 else VRRP_GROUP_V6)

    def _message_parts(self, src: IPAddress, dst: IPAddress, ttl: int | None
                       ) -> tuple[list[tuple[int, int, bytes]], tuple]:
        """sendmsg's ancillary data and address: the source pinned per packet (PKTINFO),
        `ttl` (keepalived unicast_ttl) per packet (IP_TTL / IPV6_HOPLIMIT cmsg); None keeps
        the socket's 255 (keepalived vrrp.c vrrp_build_ip4(), vrrp_build_ancillary_data())."""
        if self.family == 4:
            pktinfo = struct.pack("i4s4s", self._send_ifindex, src.packed, b"\0" * 4)
            ancillary = [(socket.IPPROTO_IP, IP_PKTINFO, pktinfo)]
            if ttl is not None:
                ancillary.append((socket.IPPROTO_IP, socket.IP_TTL, struct.pack("@i", ttl)))
            return ancillary, (str(dst), 0)
        pktinfo = src.packed + struct.pack("@I", self._send_ifindex)
        ancillary = [(socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, pktinfo)]
        if ttl is not None:
            ancillary.append((socket.IPPROTO_IPV6, socket.IPV6_HOPLIMIT, struct.pack("@i", ttl)))
        return ancillary, (str(dst), 0, 0, self._send_ifindex)

    async def send(self, message: bytes, src: IPAddress, dst: IPAddress,
                   ttl: int | None = None) -> None:
        ancillary, address = self._message_parts(src, dst, ttl)
        # Straight to the kernel: trio's sendmsg ends with a scheduler round (a checkpoint)
        # even when the send succeeded at once, and on a MASTER transition that round sat
        # between the advert and the VIP add and GARP (~0.2 ms). A full send buffer still
        # waits the trio way. (The socket is non-blocking, as every trio socket is.)
        try:
            self._send_raw.sendmsg([message], ancillary, 0, address)
        except BlockingIOError:
            await self._send.sendmsg([message], ancillary, 0, address)

    def send_at(self, sender: TimedSender, when_ns: int, message: bytes, src: IPAddress,
                dst: IPAddress, ttl: int | None = None) -> int:
        """The same packet, sent by the kernel at CLOCK_MONOTONIC `when_ns`
        (haipvs.drivers.timed_send); returns its token. Raises OSError if not queued."""
        ancillary, address = self._message_parts(src, dst, ttl)
        af = socket.AF_INET if self.family == 4 else socket.AF_INET6
        return sender.send_at(self._send_raw.fileno(), when_ns, message,
                              sockaddr_bytes(af, address), control_bytes(ancillary))

    async def receive(self) -> tuple[bytes, IPAddress, IPAddress | None, int | None,
                                      float | None]:
        """Returns (data, source, destination, hop_limit, stamp).

        For IPv4 `data` is the whole IP datagram (raw IPv4 sockets deliver the header, and
        the core checks TTL and lengths from it); destination and hop limit are None.
        For IPv6 `data` is the VRRP message; destination and hop limit come from cmsgs.
        `stamp` is the kernel's arrival time (SO_TIMESTAMPNS, wall clock), None if absent.
        """
        if self.family == 4:
            data, ancdata, _flags, addr = await self._recv.recvmsg(65535, _STAMP_SPACE)
            return data, ipaddress.ip_address(addr[0]), None, None, _stamp(ancdata)
        cmsg_space = socket.CMSG_SPACE(20) + socket.CMSG_SPACE(4) + _STAMP_SPACE
        data, ancdata, _flags, addr = await self._recv.recvmsg(65535, cmsg_space)
        destination: IPAddress | None = None
        hop_limit: int | None = None
        for level, kind, value in ancdata:
            if level != socket.IPPROTO_IPV6:
                continue
            if kind == socket.IPV6_HOPLIMIT and len(value) >= 4:
                hop_limit = struct.unpack("@i", value[:4])[0]
            elif kind == socket.IPV6_PKTINFO and len(value) >= 16:
                destination = ipaddress.IPv6Address(value[:16])
        source = ipaddress.ip_address(addr[0].split("%")[0])
        return data, source, destination, hop_limit, _stamp(ancdata)

    def close(self) -> None:
        self._send_raw.detach()  # the fd is the trio socket's to close, once
        for sock in (self._recv, self._send):
            sock.close()
