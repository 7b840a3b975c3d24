"""Socket helpers shared by the probes: reasons for errors, connecting trio streams."""

from __future__ import annotations

import errno
import os
import socket

import trio

from haipvs.health.spec import Endpoint

_ERRNO_REASONS = {
    errno.ECONNREFUSED: "connect refused",
    errno.ECONNRESET: "connection reset",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "connect timed out",
    errno.EADDRNOTAVAIL: "bindto address not available",
    errno.EPIPE: "connection closed",
}


class ProbeFailure(Exception):
    """A probe attempt failed; the message is the short reason."""


def errno_reason(code: int) -> str:
    return _ERRNO_REASONS.get(code) or os.strerror(code).lower()


def os_error_reason(exc: OSError) -> str:
    if exc.errno is not None:
        return errno_reason(exc.errno)
    return str(exc) or type(exc).__name__


def family_of(address: str) -> int:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def timeout_reason(seconds: float) -> str:
    return f"timeout after {seconds:g}s"


def bind_source(sock, endpoint: Endpoint) -> tuple[str, int] | None:
    """keepalived core/layer4.c socket_bind_connect: SO_BINDTODEVICE to bind_if, then bind
    to (bindto, bind_port) when bindto is set (bind_port alone binds nothing there: the
    config refuses it). Returns the address to bind, or None."""
    if endpoint.bind_if:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, endpoint.bind_if.encode())
    if endpoint.bindto:
        return (endpoint.bindto, endpoint.bind_port)
    return None


async def connect_stream(endpoint: Endpoint) -> trio.SocketStream:
    """A TCP stream to `endpoint`, bound to `endpoint.bindto` when set. Raises ProbeFailure."""
    sock = trio.socket.socket(family_of(endpoint.address), socket.SOCK_STREAM)
    try:
        source = bind_source(sock, endpoint)
        if source is not None:
            await sock.bind(source)
        await sock.connect((endpoint.address, endpoint.port))
    except OSError as exc:
        sock.close()
        raise ProbeFailure(os_error_reason(exc)) from None
    except BaseException:
        sock.close()
        raise
    return trio.SocketStream(sock)
