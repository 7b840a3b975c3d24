"""PING_CHECK probe: the thin trio driver of haipvs.policy.ping_echo (keepalived 2.2.7
check_ping.c icmp_connect_thread / icmp_check_thread).

Each attempt opens a fresh non-blocking ICMP socket, sends one echo request and waits, never
blocking the loop, up to connect_timeout for its reply. The socket is unprivileged
(SOCK_DGRAM + IPPROTO_ICMP / IPPROTO_ICMPV6, as keepalived's) when the kernel allows it, i.e.
when the process's group is within net.ipv4.ping_group_range (the same sysctl covers IPv6);
otherwise raw (SOCK_RAW, needs CAP_NET_RAW). Which one is used is logged once per family and
change ("ping_check socket", field icmp_socket = "unprivileged" | "raw").

An ICMP error about the request fails the attempt at once (haipvs.policy.ping_echo says why
keepalived waits instead): the unprivileged socket gets IP_RECVERR / IPV6_RECVERR, so the
kernel, which has matched the error to this socket's echo id, fails the next receive with
it; a raw socket is left without RECVERR (the kernel would hand it every ICMP socket's
errors) and judges the error packet itself.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket

import structlog
import trio

from haipvs.health.net import os_error_reason, timeout_reason
from haipvs.health.state import CheckResult
from haipvs.policy.ping_echo import (
    EchoSequence,
    PingProbe,
    Sent,
    echo_request,
    error_for,
    is_our_reply,
)

log = structlog.get_logger("haipvs.health")

_FLAGS = socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
_RCVBUF = 128 * 1024  # check_ping.c SOCK_RECV_BUFF
_RECVERR = {socket.AF_INET: (socket.IPPROTO_IP, getattr(socket, "IP_RECVERR", 11)),
            socket.AF_INET6: (socket.IPPROTO_IPV6, getattr(socket, "IPV6_RECVERR", 25))}
_RECV_SIZE = 65535  # a raw socket may see any ICMP packet; a whole one is read and judged
SEQUENCE = EchoSequence()  # keepalived's one seq_no for every PING_CHECK of the process
_modes: dict[int, str] = {}  # family -> the last socket kind used, to log a change once


def _note_mode(family: int, mode: str, why: str | None) -> None:
    if _modes.get(family) != mode:
        _modes[family] = mode
        log.info("ping_check socket", family="IPv6" if family == socket.AF_INET6 else "IPv4",
                 icmp_socket=mode, **({"why": why} if why else {}))


def open_icmp(ipv6: bool) -> tuple[socket.socket, bool]:
    """A non-blocking ICMP socket and whether it is raw: unprivileged when the kernel allows
    it, raw otherwise. Raises OSError when neither can be had."""
    family = socket.AF_INET6 if ipv6 else socket.AF_INET
    proto = socket.IPPROTO_ICMPV6 if ipv6 else socket.IPPROTO_ICMP
    try:
        sock = socket.socket(family, socket.SOCK_DGRAM | _FLAGS, proto)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EPROTONOSUPPORT):
            raise
        sock = socket.socket(family, socket.SOCK_RAW | _FLAGS, proto)
        _note_mode(family, "raw", f"unprivileged ICMP socket refused: {os_error_reason(exc)} "
                   "(the group is outside net.ipv4.ping_group_range)")
        return sock, True
    _note_mode(family, "unprivileged", None)
    return sock, False


def _normal(address: str) -> str:
    return str(ipaddress.ip_address(address.split("%", 1)[0]))


async def probe_ping(probe: PingProbe) -> CheckResult:
    started = trio.current_time()

    def result(ok: bool, reason: str) -> CheckResult:
        return CheckResult(ok, reason, trio.current_time() - started)

    try:
        sock, raw = open_icmp(probe.ipv6)
    except OSError as exc:
        return result(False, f"ICMP socket: {os_error_reason(exc)}")
    with sock:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            if not raw:
                sock.setsockopt(*_RECVERR[sock.family], 1)
            if probe.bindto:
                sock.bind((probe.bindto, 0))
            sequence = SEQUENCE.take()
            ident = os.getpid() & 0xFFFF if raw else 0  # an unprivileged socket sets its own
            sock.sendto(echo_request(probe.ipv6, ident, sequence), (probe.address, 0))
            if not raw:
                ident = sock.getsockname()[1]  # the echo id the kernel gave the socket
        except OSError as exc:
            return result(False, f"send: {os_error_reason(exc)}")
        sent = Sent(_normal(probe.address), probe.ipv6, ident, sequence, raw)
        with trio.move_on_after(probe.connect_timeout):
            while True:
                await trio.lowlevel.wait_readable(sock)
                try:
                    data, sender = sock.recvfrom(_RECV_SIZE)
                except BlockingIOError:
                    continue
                except OSError as exc:  # check_ping.c recv_it: "recv ICMP packet error"
                    # with IP_RECVERR also an ICMP error the kernel matched to this echo
                    return result(False, f"receive: {os_error_reason(exc)}")
                if is_our_reply(sent, data, _normal(sender[0])):
                    return result(True, "echo reply")
                error = error_for(sent, data) if raw else None
                if error is not None:
                    return result(False, f"{error} from {_normal(sender[0])}")
    return result(False, f"no echo reply: {timeout_reason(probe.connect_timeout)}")
