"""PING_CHECK's pure half: the echo request keepalived 2.2.7 sends and which reply counts
(keepalived/check/check_ping.c ping_it / ping6_it / recv_it / recv6_it).

keepalived sends one ICMP (or ICMPv6) echo request per attempt on a fresh unprivileged ICMP
socket (SOCK_DGRAM + IPPROTO_ICMP / IPPROTO_ICMPV6): id 0, which the kernel replaces by the
socket's own echo id, sequence = a process-wide 16-bit counter written in host byte order
(`icmp_hdr->un.echo.sequence = seq_no++`, no htons), and 128 bytes of payload filled by
layer4.c set_buf() ("keepalived check - " repeated). The first echo reply received within
connect_timeout is up; nothing within connect_timeout is down.

haipvs does the same on an unprivileged socket and falls back to a raw socket where the
kernel refuses one (the process's group is outside net.ipv4.ping_group_range; keepalived
instead widens that sysctl, which haipvs never touches: it is not haipvs's). A raw socket
sees every ICMP packet of the host, so a reply counts only if it is an echo reply from the
checked address with this request's id and sequence; on an unprivileged socket the kernel
has matched the id already and the same test holds. keepalived also fails an attempt at
once on a packet of another type, which its socket never receives (the kernel queues only
echo replies there); haipvs ignores other packets and waits for the reply or the timeout.

Different from keepalived, on purpose: an ICMP error about this very request (destination
unreachable, e.g. a firewall's reject or a failed neighbour resolution; time exceeded) fails
the attempt at once, as a TCP reset fails a TCP_CHECK attempt, instead of waiting out
connect_timeout. keepalived's unconnected ping socket never sees those errors (net/ipv4/ping.c
ping_err drops them without IP_RECVERR). On a raw socket the error packet itself is matched
here (`error_for`): it must quote this request (destination, id, sequence), since a raw socket
sees every host's ICMP errors. A silent drop still costs the whole connect_timeout.
"""

from __future__ import annotations

import ipaddress
import struct

from haipvs import limits
from haipvs.dataclass_lean import dataclass

ICMP_ECHO_REQUEST, ICMP_ECHO_REPLY = 8, 0
ICMP6_ECHO_REQUEST, ICMP6_ECHO_REPLY = 128, 129
# ICMP errors that end an attempt: RFC 792 destination unreachable / time exceeded,
# RFC 4443 destination unreachable / time exceeded.
ICMP_ERRORS = {3: "destination unreachable", 11: "time exceeded"}
ICMP6_ERRORS = {1: "destination unreachable", 3: "time exceeded"}
_ERROR_BODY = 4  # the unused / MTU word between the error's header and the quoted packet
_HEADER = struct.Struct("!BBH")  # type, code, checksum
_ECHO = struct.Struct("=HH")  # id as the kernel writes it (network order), sequence (host)
_FILL = b"keepalived check - "
PAYLOAD_SIZE = 128  # check_ping.c ICMP_BUFSIZE


def keepalived_fill(size: int) -> bytes:
    """layer4.c set_buf(): "keepalived check - " repeated, cut at `size` bytes."""
    return (_FILL * (size // len(_FILL) + 1))[:size]


ECHO_PAYLOAD = keepalived_fill(PAYLOAD_SIZE)


@dataclass(frozen=True, slots=True)
class PingProbe:
    """keepalived PING_CHECK: one echo request to `address` (from `bindto` when set); up
    when its echo reply arrives within connect_timeout."""

    address: str
    bindto: str | None = None
    connect_timeout: float = limits.DEFAULT_CONNECT_TIMEOUT

    kind = "ping_check"

    @property
    def timeout(self) -> float:
        return self.connect_timeout

    @property
    def ipv6(self) -> bool:
        return ":" in self.address


class EchoSequence:
    """keepalived's `static uint16_t seq_no`: one counter for every PING_CHECK of the
    process, IPv4 and IPv6, wrapping at 65536."""

    def __init__(self, start: int = 0) -> None:
        self._next = start & 0xFFFF

    def take(self) -> int:
        value, self._next = self._next, (self._next + 1) & 0xFFFF
        return value


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _id_bytes(ident: int) -> int:
    """`ident` as the =H field of _ECHO must hold it for the wire to carry it in network
    order (the kernel writes the id with htons; so does ping)."""
    return struct.unpack("=H", struct.pack("!H", ident))[0]


def echo_request(ipv6: bool, ident: int, sequence: int,
                 payload: bytes = ECHO_PAYLOAD) -> bytes:
    """The echo request. An unprivileged socket overwrites the id (and the checksum) with
    its own; the kernel fills the ICMPv6 checksum on any ICMPv6 socket. The IPv4 checksum is
    computed here for a raw socket."""
    kind = ICMP6_ECHO_REQUEST if ipv6 else ICMP_ECHO_REQUEST
    body = _ECHO.pack(_id_bytes(ident), sequence) + payload
    if ipv6:
        return _HEADER.pack(kind, 0, 0) + body
    return _HEADER.pack(kind, 0, checksum(_HEADER.pack(kind, 0, 0) + body)) + body


@dataclass(frozen=True, slots=True)
class Sent:
    """What one attempt sent, to match its reply."""

    target: str  # the checked address, as the socket reports a sender (no scope, no port)
    ipv6: bool
    ident: int
    sequence: int
    raw: bool  # a raw IPv4 socket delivers the IP header before the ICMP message


def icmp_message(data: bytes, ipv6: bool, raw: bool) -> bytes | None:
    """The ICMP message in a received datagram (a raw IPv4 socket's data starts with the
    IP header; the others' with the ICMP header)."""
    if raw and not ipv6:
        if len(data) < 20 or data[0] >> 4 != 4:
            return None
        data = data[(data[0] & 0x0F) * 4:]
    return data if len(data) >= _HEADER.size + _ECHO.size else None


def is_our_reply(sent: Sent, data: bytes, sender: str) -> bool:
    """Whether `data`, received from `sender`, is the echo reply to `sent`
    (check_ping.c recv_it / recv6_it: an echo reply; here also: from the checked address,
    with the request's id and sequence, as a raw socket needs)."""
    message = icmp_message(data, sent.ipv6, sent.raw)
    if message is None or sender != sent.target:
        return False
    kind, _code, _sum = _HEADER.unpack_from(message)
    if kind != (ICMP6_ECHO_REPLY if sent.ipv6 else ICMP_ECHO_REPLY):
        return False
    ident, sequence = _ECHO.unpack_from(message, _HEADER.size)
    return ident == _id_bytes(sent.ident) and sequence == sent.sequence


def error_for(sent: Sent, data: bytes) -> str | None:
    """The reason when `data` (read on a raw socket) is an ICMP error quoting `sent`'s echo
    request: the quoted packet went to the checked address and carries this request's id
    and sequence. None for anything else."""
    message = icmp_message(data, sent.ipv6, sent.raw)
    if message is None:
        return None
    kind, code, _sum = _HEADER.unpack_from(message)
    names = ICMP6_ERRORS if sent.ipv6 else ICMP_ERRORS
    if kind not in names:
        return None
    quoted = message[_HEADER.size + _ERROR_BODY:]
    if sent.ipv6:
        if len(quoted) < 40 or quoted[0] >> 4 != 6 or quoted[6] != 58:
            return None
        destination = str(ipaddress.IPv6Address(quoted[24:40]))
        echo = quoted[40:]
    else:
        if len(quoted) < 20 or quoted[0] >> 4 != 4 or quoted[9] != 1:
            return None
        destination = str(ipaddress.IPv4Address(quoted[16:20]))
        echo = quoted[(quoted[0] & 0x0F) * 4:]
    if destination != sent.target or len(echo) < _HEADER.size + _ECHO.size:
        return None
    if echo[0] != (ICMP6_ECHO_REQUEST if sent.ipv6 else ICMP_ECHO_REQUEST):
        return None
    ident, sequence = _ECHO.unpack_from(echo, _HEADER.size)
    if ident != _id_bytes(sent.ident) or sequence != sent.sequence:
        return None
    return f"{names[kind]} (ICMP{'v6' if sent.ipv6 else ''} type {kind} code {code})"
