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
_NLMSGHDR = struct.Struct("=IHHII")
_IFADDRMSG = struct.Struct("=BBBBI")
_NLMSGERR = struct.Struct("=i")


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def newaddr_body(vip: Vip, index: int) -> bytes:
    """RTM_NEWADDR after the netlink header: ifaddrmsg and attributes."""
    address = vip.address
    family = socket.AF_INET if address.version == 4 else socket.AF_INET6
    flags = 0 if address.version == 4 else IFA_F_PERMANENT | IFA_F_NODAD  # usable at once
    body = _IFADDRMSG.pack(family, vip.interface.network.prefixlen, flags, 0, index)
    body += _attr(IFA_LOCAL, address.packed) + _attr(IFA_ADDRESS, address.packed)
    if vip.label and address.version == 4:
        body += _attr(IFA_LABEL, vip.label.encode() + b"\0")
    return body + _attr(IFA_PROTO, bytes([HAIPVS_ADDR_PROTO]))


class FastVipAdder:
    """Owned by the VRRP thread (a plain socket, no pyroute2 object)."""

    def __init__(self) -> None:
        self._sock: socket.socket | None = None
        self._seq = itertools.count(1)
        self._bodies: dict[tuple[Vip, int], bytes] = {}

    def _socket(self) -> socket.socket:
        if self._sock is None:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC,
                                 NETLINK_ROUTE)
            sock.bind((0, 0))
            self._sock = sock
        return self._sock

    def prepare(self, vips: list[Vip]) -> None:
        """Open the socket and build the messages ahead of the transition (instance start
        and reload), so the first MASTER transition pays for neither."""
        with contextlib.suppress(OSError):  # add() tries again, then leaves it to sync_add
            self._socket()
        for vip in vips:
            self._body(vip)

    def _body(self, vip: Vip) -> bytes | None:
        try:
            index = socket.if_nametoindex(vip.ifname)  # an ioctl: no netlink round-trip
        except OSError:
            return None
        key = (vip, index)
        body = self._bodies.get(key)
        if body is None:
            if len(self._bodies) > 4096:  # interfaces re-created many times: start over
                self._bodies.clear()
            body = self._bodies[key] = newaddr_body(vip, index)
        return body

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
            body = self._body(vip)
            if body is None or not self._add_one(sock, body):
                rest.append(vip)
            else:
                added.append(vip)
        return added, rest

    def _add_one(self, sock: socket.socket, body: bytes) -> bool:
        seq = next(self._seq) & 0xFFFFFFFF
        flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_EXCL | NLM_F_CREATE
        message = _NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_NEWADDR, flags, seq, 0) + body
        try:
            sock.send(message)
            while True:  # skip ACKs of earlier requests whose answer was not read
                reply = sock.recv(65536, socket.MSG_DONTWAIT)
                if len(reply) < _NLMSGHDR.size + _NLMSGERR.size:
                    return False
                _, kind, _, reply_seq, _ = _NLMSGHDR.unpack_from(reply)
                if reply_seq == seq:
                    break
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ENOBUFS):
                self.close()  # a broken socket: open a fresh one next time
            return False
        if kind != NLMSG_ERROR:
            return False
        (error,) = _NLMSGERR.unpack_from(reply, _NLMSGHDR.size)
        return error == 0

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
