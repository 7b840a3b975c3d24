"""UDP_CHECK: send a datagram on a connected UDP socket (keepalived check_udp.c,
layer4.c udp_socket_state).

With require_reply a reply within connect_timeout means up, if it passes the reply_pattern
when one is set (haipvs/policy/udp_reply.py). Without it only an ICMP destination
unreachable (ECONNREFUSED, EHOSTUNREACH, ... on the connected socket) means down: silence,
or any reply, is up.
"""

from __future__ import annotations

import socket

import trio

from haipvs.health.net import family_of, os_error_reason
from haipvs.health.spec import Endpoint, UdpProbe
from haipvs.health.state import CheckResult
from haipvs.policy.udp_reply import reply_ok

_DGRAM_FLAGS = socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC


def open_udp(endpoint: Endpoint) -> socket.socket:
    sock = socket.socket(family_of(endpoint.address), _DGRAM_FLAGS)
    try:
        if endpoint.bindto:
            sock.bind((endpoint.bindto, 0))
        sock.connect((endpoint.address, endpoint.port))
    except BaseException:
        sock.close()
        raise
    return sock


async def probe_udp(probe: UdpProbe) -> CheckResult:
    started = trio.current_time()
    try:
        sock = open_udp(probe.endpoint)
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
        except ConnectionRefusedError:
            return CheckResult(False, "port unreachable", trio.current_time() - started)
        except OSError as exc:
            return CheckResult(False, os_error_reason(exc), trio.current_time() - started)
    latency = trio.current_time() - started
    if probe.require_reply:
        return CheckResult(False, "no reply", latency)
    return CheckResult(True, "no ICMP error", latency)
