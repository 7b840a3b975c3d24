"""The rtnetlink owner thread's object: the VIP driver's requests on a plain socket, every
other request on pyroute2's IPRoute, created on first use.

An idle director asks the kernel only four things, all from drivers/addresses.py: a link by
name or index, the addresses of one interface, add a VIP, delete a VIP. pyroute2's IPRoute
(its asyncio socket, request layer and every rtnetlink message class, with unittest.mock and
multiprocessing that it imports) is 2.7 MiB of an idle director's ~30 (issue 18; bench/
memory.py --servers 0). These four are written here on a blocking NETLINK_ROUTE socket, as
vip_fastpath.py writes the MASTER's VIP add: the same RTM_NEWADDR (newaddr_body, whose kernel
result integration/test_vip_fast_path.py compares with IPRoute's), and replies read into
small typed entries. Errors are pyroute2's NetlinkError, with the kernel's errno as its
`code`, as IPRoute raises them.

Everything else (VMAC links, virtual routes and rules, the scale-out table) is a feature an
idle config lacks: any other attribute is looked up on an IPRoute made on first use, in the
same owner thread (netlink_thread.py), so those drivers keep calling `ipr.route(...)`,
`ipr.link("add", ...)` as before.

Every reply is read up to its own ACK or NLMSG_DONE: nothing is left unread on the socket
(pyroute2 0.9's "get" left an ACK behind per request, docs/soak.md).
"""

from __future__ import annotations

import errno
import ipaddress
import itertools
import socket
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from pyroute2.netlink.exceptions import NetlinkError

from haipvs.drivers.addresses import Vip

# the wire numbers and structs the fast path's RTM_NEWADDR already uses: one home
from haipvs.drivers.vip_fastpath import (
    IFA_ADDRESS,
    IFA_LOCAL,
    IFA_PROTO,
    IFADDRMSG,
    NETLINK_ROUTE,
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    NLMSG_ERROR,
    NLMSG_HDR,
    NLMSGERR,
    RTM_NEWADDR,
    netlink_attr,
    newaddr_body,
)

NLMSG_DONE = 3
NLM_F_DUMP_INTR = 0x10
NLM_F_DUMP = 0x300
RTM_NEWLINK, RTM_GETLINK = 16, 18
RTM_DELADDR, RTM_GETADDR = 21, 22
IFLA_ADDRESS, IFLA_IFNAME, IFLA_OPERSTATE = 1, 3, 16
# RFC 2863 operational states, as pyroute2 names them (ifinfmsg.states)
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
_IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
_ATTR = struct.Struct("=HH")
# A dump the kernel marks interrupted (the list changed under it) is read again this often;
# the last reading is then used: the caller's next pass reads the kernel again anyway.
DUMP_TRIES = 3
REPLY_TIMEOUT = 10.0
RECV_SIZE = 65536  # a dump's datagrams are at most this (the kernel sizes them by our reads)


class Link(NamedTuple):
    index: int
    flags: int  # IFF_*
    operstate: str  # one of OPERSTATES, or ""
    mac: bytes  # b"" when the link has none


class Address(NamedTuple):
    # the two differ only on a point-to-point address (IFA_ADDRESS is then the peer's)
    local: ipaddress.IPv4Address | ipaddress.IPv6Address  # IFA_LOCAL, else IFA_ADDRESS
    address: ipaddress.IPv4Address | ipaddress.IPv6Address  # IFA_ADDRESS, else IFA_LOCAL
    prefixlen: int
    flags: int  # ifa_flags: IFA_F_SECONDARY, IFA_F_TENTATIVE, ...
    proto: int | None  # IFA_PROTO: who added it (haipvs marks its VIPs)


def _attrs(data: bytes | memoryview, offset: int, end: int) -> dict[int, bytes | memoryview]:
    found: dict[int, bytes | memoryview] = {}
    while offset + _ATTR.size <= end:
        length, kind = _ATTR.unpack_from(data, offset)
        if length < _ATTR.size or offset + length > end:
            break
        found[kind & 0x3FFF] = data[offset + _ATTR.size:offset + length]  # no NESTED bits
        offset += (length + 3) & ~3
    return found


def _address(family: int, raw: bytes | memoryview) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return (ipaddress.IPv4Address if family == socket.AF_INET else ipaddress.IPv6Address)(
        bytes(raw))


def _link(data: bytes | memoryview, offset: int, end: int) -> Link:
    _family, _type, index, flags, _change = _IFINFOMSG.unpack_from(data, offset)
    attrs = _attrs(data, offset + _IFINFOMSG.size, end)
    state = attrs.get(IFLA_OPERSTATE)
    # no (or an unknown) state reads as "", not up: as IPRoute's None did in sync_link_state
    operstate = OPERSTATES[state[0]] if state and state[0] < len(OPERSTATES) else ""
    return Link(index, flags, operstate, bytes(attrs.get(IFLA_ADDRESS, b"")))


def _entry(data: bytes | memoryview, offset: int, end: int) -> tuple[int, Address] | None:
    family, prefixlen, flags, _scope, index = IFADDRMSG.unpack_from(data, offset)
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None
    attrs = _attrs(data, offset + IFADDRMSG.size, end)
    local, address = attrs.get(IFA_LOCAL), attrs.get(IFA_ADDRESS)
    if local is None and address is None:
        return None
    proto = attrs.get(IFA_PROTO)
    return index, Address(_address(family, local if local is not None else address),
                          _address(family, address if address is not None else local),
                          prefixlen, flags, proto[0] if proto else None)


class RtnlSocket:
    """Owned by one thread (netlink_thread.NetlinkThread): a plain blocking socket."""

    def __init__(self, make_iproute: Callable[[], Any] | None = None) -> None:
        """`make_iproute`: what makes the IPRoute on first use (tests: pyroute2's NetNS for a
        namespace the test thread is not in); pyroute2's IPRoute() by default."""
        self._make_iproute = make_iproute
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                   NETLINK_ROUTE)
        self._sock.bind((0, 0))
        # The kernel answers a request while send() runs, so a reply never takes long; a
        # timeout only keeps a lost one (an overrun queue) from stopping the thread for good.
        self._sock.settimeout(REPLY_TIMEOUT)
        self._seq = itertools.count(1)
        self._buf = bytearray(RECV_SIZE)
        self._iproute: Any = None
        self.ifindexes: dict[str, int] = {}  # addresses._ifindex's cache

    # -- the four requests -------------------------------------------------------------

    def find_link(self, *, index: int = 0, ifname: str | None = None) -> Link | None:
        """RTM_GETLINK by index or name; None when there is no such link (ENODEV)."""
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, 0, 0)
        if ifname is not None:
            body += netlink_attr(IFLA_IFNAME, ifname.encode() + b"\0")
        try:
            replies = self._request(RTM_GETLINK, NLM_F_REQUEST, body)
        except NetlinkError as exc:
            if exc.code == errno.ENODEV:
                return None
            raise
        for kind, data, offset, end in replies:
            if kind == RTM_NEWLINK:
                return _link(data, offset, end)
        return None

    def list_addresses(self, index: int) -> list[Address]:
        """The addresses of one interface (a dump of all, kept by index, as IPRoute's
        get_addr(index=) does)."""
        body = IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)
        found: list[Address] = []
        for _ in range(DUMP_TRIES):
            found, interrupted = [], False
            for kind, data, offset, end, flags in self._dump(RTM_GETADDR, body):
                interrupted |= bool(flags & NLM_F_DUMP_INTR)
                entry = _entry(data, offset, end) if kind == RTM_NEWADDR else None
                if entry is not None and entry[0] == index:
                    found.append(entry[1])
            if not interrupted:
                break
        return found

    def add_address(self, vip: Vip, index: int) -> None:
        """RTM_NEWADDR with the fast path's message (create, never replace)."""
        self._request(RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE,
                      newaddr_body(vip, index))

    def remove_address(self, index: int, interface: ipaddress.IPv4Interface
                       | ipaddress.IPv6Interface) -> None:
        """RTM_DELADDR: IPv4 names IFA_LOCAL and IFA_ADDRESS, IPv6 IFA_ADDRESS (what IPRoute's
        addr("del") sends)."""
        family = socket.AF_INET if interface.version == 4 else socket.AF_INET6
        body = IFADDRMSG.pack(family, interface.network.prefixlen, 0, 0, index)
        if interface.version == 4:
            body += netlink_attr(IFA_LOCAL, interface.ip.packed)
        body += netlink_attr(IFA_ADDRESS, interface.ip.packed)
        self._request(RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, body)

    # -- everything else: pyroute2 ----------------------------------------------------

    def __getattr__(self, name: str) -> Any:
        """Any other request (`route`, `rule`, `link("add", ...)`, ...) goes to IPRoute."""
        if name.startswith("_"):  # copy/pickle probes, and our own attributes before init
            raise AttributeError(name)
        return getattr(self.iproute(), name)

    def iproute(self) -> Any:
        if self._iproute is None:
            if self._make_iproute is None:
                from pyroute2 import IPRoute  # a feature the config uses: loaded now

                self._make_iproute = IPRoute
            self._iproute = self._make_iproute()
        return self._iproute

    def pending(self) -> int:
        """Bytes the kernel has queued for us and nobody read (tests: it stays 0)."""
        self._sock.setblocking(False)  # a timeout socket would wait for data first
        try:
            return len(self._sock.recv(RECV_SIZE, socket.MSG_PEEK))
        except BlockingIOError:
            return 0
        finally:
            self._sock.settimeout(REPLY_TIMEOUT)

    def close(self) -> None:
        self._sock.close()
        if self._iproute is not None:
            self._iproute.close()
            self._iproute = None

    # -- the wire -----------------------------------------------------------------------

    def _send(self, kind: int, flags: int, body: bytes) -> int:
        seq = next(self._seq) & 0xFFFFFFFF
        self._sock.send(NLMSG_HDR.pack(NLMSG_HDR.size + len(body), kind, flags, seq, 0) + body)
        return seq

    def _datagrams(self, seq: int):
        """(kind, data, offset, end, flags) of each message answering `seq`, datagram by
        datagram; messages of other sequence numbers (none are expected) are skipped."""
        while True:
            size = self._sock.recv_into(self._buf, len(self._buf),
                                        socket.MSG_PEEK | socket.MSG_TRUNC)
            if size > len(self._buf):
                self._buf = bytearray(size)
            size = self._sock.recv_into(self._buf)
            data = memoryview(self._buf)[:size]
            offset = 0
            messages = []
            while offset + NLMSG_HDR.size <= size:
                length, kind, flags, reply_seq, _pid = NLMSG_HDR.unpack_from(data, offset)
                if length < NLMSG_HDR.size or offset + length > size:
                    raise NetlinkError(errno.EBADMSG, "malformed netlink reply")
                if reply_seq == seq:
                    messages.append((kind, data, offset + NLMSG_HDR.size, offset + length,
                                     flags))
                offset += (length + 3) & ~3
            yield messages

    def _request(self, kind: int, flags: int, body: bytes) -> list[tuple]:
        """One request: its replies up to the ACK (NLMSG_ERROR 0) or, without NLM_F_ACK,
        the first reply. A kernel error raises NetlinkError."""
        seq = self._send(kind, flags, body)
        replies: list[tuple] = []
        for messages in self._datagrams(seq):
            for reply_kind, data, offset, end, _flags in messages:
                if reply_kind == NLMSG_ERROR:
                    (error,) = NLMSGERR.unpack_from(data, offset)
                    if error:
                        raise NetlinkError(-error)
                    return replies
                replies.append((reply_kind, bytes(data[offset:end]), 0, end - offset))
            if replies and not flags & NLM_F_ACK:
                return replies

    def _dump(self, kind: int, body: bytes):
        seq = self._send(kind, NLM_F_REQUEST | NLM_F_DUMP, body)
        for messages in self._datagrams(seq):
            for reply_kind, data, offset, end, flags in messages:
                if reply_kind == NLMSG_DONE:
                    return
                if reply_kind == NLMSG_ERROR:
                    (error,) = NLMSGERR.unpack_from(data, offset)
                    raise NetlinkError(-error if error else errno.EBADMSG)
                yield reply_kind, data, offset, end, flags
