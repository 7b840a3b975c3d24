"""UDP_CHECK: send a datagram on a connected UDP socket.

With require_reply any reply within connect_timeout means up. Without it only an ICMP port
unreachable (ECONNREFUSED on the connected socket) means down: silence is up.
"""

from __future__ import annotations

import socket

import trio

from haipvs.health.net import family_of, os_error_reason
from haipvs.health.spec import Endpoint, UdpProbe
from haipvs.health.state import CheckResult

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
                sock.recv(65535)
                return CheckResult(True, "reply", trio.current_time() - started)
        except ConnectionRefusedError:
            return CheckResult(False, "port unreachable", trio.current_time() - started)
        except OSError as exc:
            return CheckResult(False, os_error_reason(exc), trio.current_time() - started)
    latency = trio.current_time() - started
    if probe.require_reply:
        return CheckResult(False, "no reply", latency)
    return CheckResult(True, "no ICMP error", latency)
