"""TCP_CHECK: a connect that succeeds within connect_timeout means up.

The hot path of the engine at scale, so it uses plain non-blocking sockets and
`trio.lowlevel.wait_writable` rather than trio's socket wrapper. The socket is closed with
SO_LINGER {1, 0}: an RST instead of a FIN, so neither side keeps a TIME_WAIT entry per check.
"""

from __future__ import annotations

import errno
import socket
import struct

import trio

from haipvs.health.net import (
    bind_source,
    errno_reason,
    family_of,
    os_error_reason,
    timeout_reason,
)
from haipvs.health.spec import TcpProbe
from haipvs.health.state import CheckResult

_LINGER_RST = struct.pack("ii", 1, 0)
_STREAM_FLAGS = socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC
_SOL_SOCKET = socket.SOL_SOCKET
_SO_ERROR = socket.SO_ERROR
_SO_LINGER = socket.SO_LINGER
_IN_PROGRESS = (errno.EINPROGRESS, errno.EAGAIN)


async def probe_tcp(probe: TcpProbe) -> CheckResult:
    endpoint = probe.endpoint
    started = trio.current_time()
    try:
        sock = socket.socket(family_of(endpoint.address), _STREAM_FLAGS)
    except OSError as exc:
        return CheckResult(False, f"socket: {os_error_reason(exc)}")
    try:
        source = bind_source(sock, endpoint)
        if source is not None:
            sock.bind(source)
        err = sock.connect_ex((endpoint.address, endpoint.port))
        if err in _IN_PROGRESS:
            with trio.move_on_after(probe.connect_timeout):
                await trio.lowlevel.wait_writable(sock)
                err = sock.getsockopt(_SOL_SOCKET, _SO_ERROR)
            if err in _IN_PROGRESS:
                return CheckResult(False, timeout_reason(probe.connect_timeout),
                                   trio.current_time() - started)
        latency = trio.current_time() - started
        if err:
            return CheckResult(False, errno_reason(err), latency)
        return CheckResult(True, "connected", latency)
    except OSError as exc:
        return CheckResult(False, os_error_reason(exc), trio.current_time() - started)
    finally:
        sock.setsockopt(_SOL_SOCKET, _SO_LINGER, _LINGER_RST)
        sock.close()
