"""The VIP add on the MASTER transition, sent from the VRRP thread itself.

Becoming MASTER sends the advert, adds the VIPs, then the gratuitous ARPs; every
microsecond between the advert and the GARP is traffic still going to the old MAC. The
general path (addresses.sync_add) runs in the rtnetlink owner thread, and handing a job
to another thread and back costs about a millisecond. Here the VRRP thread writes one
pre-built RTM_NEWADDR per VIP on its own NETLINK_ROUTE socket and reads the kernel's ACK,
which the kernel queues before sendto() returns: the address is in place when the GARP
goes out, as with keepalived's netlink_talk().

Only the plain success is decided here. Any error (the address already there, a stale
interface, anything else) hands that VIP to sync_add, which tells foreign from own and
reports failures: one home for those rules. The message carries what sync_add's pyroute2
request carries (IFA_LOCAL, IFA_ADDRESS, IFA_PROTO, the IPv4 label, IPv6 PERMANENT|NODAD);
integration/test_vip_fast_path.py compares the two results in the kernel.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import socket
import struct

from haipvs.drivers.addresses import HAIPVS_ADDR_PROTO, Vip

NETLINK_ROUTE = 0
RTM_NEWADDR = 20
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_PROTO = 1, 2, 3, 11
IFA_F_NODAD, IFA_F_PERMANENT = 0x02, 0x80
NLMSG_HDR = struct.Struct("=IHHII")
IFADDRMSG = struct.Struct("=BBBBI")
NLMSGERR = struct.Struct("=i")


def netlink_attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def newaddr_body(vip: Vip, index: int) -> bytes:
    """RTM_NEWADDR after the netlink header: ifaddrmsg and attributes."""
    address = vip.address
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    flags = 0 if address.version == 4 else IFA_F_PERMANENT | IFA_F_NODAD  # usable at once
    body = IFADDRMSG.pack(family, vip.interface.network.prefixlen, flags, 0, index)
    body += netlink_attr(IFA_LOCAL, address.packed) + netlink_attr(IFA_ADDRESS, address.packed)
    if vip.label and address.version == 4:
        body += netlink_attr(IFA_LABEL, vip.label.encode() + b"\0")
    return body + netlink_attr(IFA_PROTO, bytes([HAIPVS_ADDR_PROTO]))


class FastVipAdder:
    """Owned by the VRRP thread (a plain socket, no pyroute2 object).

    Interface indexes are resolved ahead (prepare(), and again from the link monitor's
    messages in links_changed()), not on each add: socket.if_nametoindex() opens, queries
    and closes a socket, 45 µs on the cold takeover path. keepalived keeps its interfaces'
    indexes the same way, updated from the same netlink messages. An index gone stale in
    between fails the add (ENODEV), which falls back to sync_add and resolves it again.
    """

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._seq = itertools.count(1)
        # VIP -> (ifindex, RTM_NEWADDR body); None: its interface was missing when resolved
        self._bodies: dict[Vip, tuple[int, bytes] | None] = {}

    def _socket(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                 NETLINK_ROUTE)
            sock.bind((0, 0))
            self._sock = sock
        return self._sock

    def prepare(self, vips: list[Vip]) -> None:
        """Open the socket, resolve the interfaces and build the messages ahead of the
        transition (instance start and reload), so the first MASTER transition pays for
        none of it."""
        with contextlib.suppress(OSError):  # add() tries again, then leaves it to sync_add
            self._socket()
        if len(self._bodies) > 4096:  # VIPs of many reloads: start over
            self._bodies.clear()
        for vip in vips:
            self._resolve(vip)

    def links_changed(self, indexes: set[int]) -> None:
        """The link monitor's indexes (0: anything may have changed): resolve again the VIPs
        on those interfaces and those whose interface was missing (a deleted, renamed or
        re-created interface has a message naming its index)."""
        for vip, entry in list(self._bodies.items()):
            if entry is None or entry[0] in indexes or 0 in indexes:
                self._resolve(vip)

    def _resolve(self, vip: Vip) -> tuple[int, bytes] | None:
        try:
            index = socket.if_nametoindex(vip.ifname)  # an ioctl: no netlink round-trip
        except OSError:
            self._bodies[vip] = None
            return None
        entry = self._bodies.get(vip)
        if entry is None or entry[0] != index:
            entry = self._bodies[vip] = (index, newaddr_body(vip, index))
        return entry

    def add(self, vips: list[Vip]) -> tuple[list[Vip], list[Vip]]:
        """(added, left for sync_add). Never blocks: a missing ACK leaves the VIP to the
        general path, which then finds it present and ours."""
        added: list[Vip] = []
        rest: list[Vip] = []
        try:
            sock = self._socket()
        except OSError:
            return [], list(vips)
        for vip in vips:
            entry = self._bodies.get(vip) or self._resolve(vip)
            if entry is not None and self._add_one(sock, entry[1]):
                added.append(vip)
            else:
                rest.append(vip)
                if entry is not None:  # e.g. ENODEV: the next add looks the interface up
                    self._bodies.pop(vip, None)
        return added, rest

    def _add_one(self, sock: socket.socket, body: bytes) -> bool:
        seq = next(self._seq) & 0xFFFFFFFF
        flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
        message = NLMSG_HDR.pack(NLMSG_HDR.size + len(body), RTM_NEWADDR, flags, seq, 0) + body
        try:
            sock.send(message)
            while True:  # skip ACKs of earlier requests whose answer was not read
                reply = sock.recv(65536, socket.MSG_DONTWAIT)
                if len(reply) < NLMSG_HDR.size + NLMSGERR.size:
                    return False
                _, kind, _, reply_seq, _ = NLMSG_HDR.unpack_from(reply)
                if reply_seq == seq:
                    break
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ENOBUFS):
                self.close()  # a broken socket: open a fresh one next time
            return False
        if kind != NLMSG_ERROR:
            return False
        (error,) = NLMSGERR.unpack_from(reply, NLMSG_HDR.size)
        return error == 0

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
