"""UDP_CHECK: send a datagram on a connected UDP socket (keepalived check_udp.c,
layer4.c udp_socket_state).

With require_reply a reply within connect_timeout means up, if it passes the reply_pattern
when one is set (haipvs/policy/udp_reply.py). Without it only an ICMP destination
unreachable (ECONNREFUSED, EHOSTUNREACH, ... on the connected socket) means down: silence,
or any reply, is up.
"""

from __future__ import annotations

import socket
import struct

import trio

from haipvs.health.net import bind_source, family_of, os_error_reason
from haipvs.health.spec import Endpoint, UdpProbe
from haipvs.health.state import CheckResult
from haipvs.policy.udp_reply import icmp_down_reason, reply_ok

_DGRAM_FLAGS = socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC


_IP_RECVERR = (socket.IPPROTO_IP, 11)  # linux/in.h IP_RECVERR
_IPV6_RECVERR = (socket.IPPROTO_IPV6, 25)  # linux/in6.h IPV6_RECVERR
_EXTENDED_ERR = struct.Struct("=IBBBBII")  # struct sock_extended_err


def open_udp(endpoint: Endpoint, recverr: bool = False) -> socket.socket:
    """A connected UDP socket; with `recverr` every ICMP error is queued (layer4.c
    udp_bind_connect sets IP_RECVERR: without it Linux reports only some of them)."""
    family = family_of(endpoint.address)
    sock = socket.socket(family, _DGRAM_FLAGS)
    try:
        if recverr:
            level, option = _IPV6_RECVERR if family == socket.AF_INET6 else _IP_RECVERR
            sock.setsockopt(level, option, 1)
        source = bind_source(sock, endpoint)
        if source is not None:
            sock.bind(source)
        sock.connect((endpoint.address, endpoint.port))
    except BaseException:
        sock.close()
        raise
    return sock


def _queued_icmp(sock: socket.socket) -> tuple[int, int, int] | None:
    """(origin, type, code) of the error queued on `sock`, if any."""
    try:
        _, ancdata, _, _ = sock.recvmsg(64, 512, socket.MSG_ERRQUEUE)
    except OSError:
        return None
    for level, kind, data in ancdata:
        if (level, kind) in (_IP_RECVERR, _IPV6_RECVERR) and len(data) >= _EXTENDED_ERR.size:
            _errno, origin, icmp_type, code, _pad, _info, _data = _EXTENDED_ERR.unpack_from(data)
            return origin, icmp_type, code
    return None


def _on_error(sock: socket.socket, exc: OSError, latency: float) -> CheckResult:
    """keepalived udp_socket_state / udp_socket_error: a queued ICMP destination unreachable
    fails the attempt, another queued error does not; a failed receive without one fails."""
    queued = _queued_icmp(sock)
    if queued is None:
        reason = "port unreachable" if isinstance(exc, ConnectionRefusedError) else (
            os_error_reason(exc))
        return CheckResult(False, reason, latency)
    reason = icmp_down_reason(*queued)
    if reason is None:
        return CheckResult(True, f"ICMP error (origin {queued[0]}, type {queued[1]})", latency)
    return CheckResult(False, reason, latency)


async def probe_udp(probe: UdpProbe) -> CheckResult:
    started = trio.current_time()
    try:
        sock = open_udp(probe.endpoint, recverr=True)
    except OSError as exc:
        return CheckResult(False, os_error_reason(exc))
    with sock:
        try:
            sock.send(probe.payload)
            with trio.move_on_after(probe.connect_timeout):
                await trio.lowlevel.wait_readable(sock)
                # keepalived udp_check_thread receives max_reply_length + 1 bytes, so a
                # longer reply arrives truncated and fails the length test.
                reply = sock.recv(probe.max_reply_length + 1)
                latency = trio.current_time() - started
                pattern = probe.reply_pattern if probe.require_reply else None
                if pattern is not None and not reply_ok(
                        reply, pattern, probe.min_reply_length, probe.max_reply_length):
                    return CheckResult(False, f"reply data mismatch ({len(reply)} bytes)",
                                       latency)
                return CheckResult(True, "reply", latency)
        except OSError as exc:
            return _on_error(sock, exc, trio.current_time() - started)
    latency = trio.current_time() - started
    if probe.require_reply:
        return CheckResult(False, "no reply", latency)
    return CheckResult(True, "no ICMP error", latency)
