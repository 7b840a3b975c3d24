"""The scale-out control socket: `haipvs drain` / `haipvs undrain` reach the running daemon.

A Unix stream socket in `global.state_dir` (limits.SCALE_OUT_CONTROL_SOCKET), mode 0600 so
only root (the daemon's user) may drain. One request line, one JSON reply line:

    drain 192.0.2.10 | drain all | undrain 192.0.2.10 | undrain all

A signal would do for "drain all", but a drain names a VIP and must be acknowledged (the
command says when the withdraw is done), so a socket it is. The server runs on the main loop
and decides nothing: it parses the line and hands a typed request to `handle`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from haipvs.dataclass_lean import dataclass
from haipvs.drivers.control_client import request  # noqa: F401 - the client half, re-exported

COMMANDS = ("drain", "undrain")
MAX_LINE = 256
CLIENT_TIMEOUT = 5.0


@dataclass(frozen=True)
class Request:
    command: str  # one of COMMANDS
    vip: ipaddress.IPv4Address | ipaddress.IPv6Address | None  # None: every VIP


def parse(line: str) -> Request:
    """A request line, or ValueError with a message for the client."""
    parts = line.split()
    if len(parts) != 2 or parts[0] not in COMMANDS:
        raise ValueError(f"expected '{'|'.join(COMMANDS)} VIP|all', got {line.strip()!r}")
    vip = None if parts[1] == "all" else ipaddress.ip_address(parts[1])
    return Request(parts[0], vip)


Handler = Callable[[Request], Awaitable[dict]]


async def listen(path: Path) -> trio.socket.SocketType:
    """The listening socket, mode 0600 (OSError when it cannot be made: a path too long for
    a Unix socket, a read-only directory)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left by a killed daemon
    listener = trio.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_umask = os.umask(0o177)
    try:
        await listener.bind(str(path))
    except OSError:
        listener.close()
        raise
    finally:
        os.umask(old_umask)
    listener.listen(8)
    return listener


async def serve(path: Path, handle: Handler, *,
                task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    """Until cancelled; the socket file is removed on the way out."""
    await serve_on(await listen(path), path, handle, task_status=task_status)


async def serve_on(listener: trio.socket.SocketType, path: Path, handle: Handler, *,
                   task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
    task_status.started()
    try:
        async with trio.open_nursery() as nursery:
            while True:
                conn, _ = await listener.accept()
                nursery.start_soon(_one, conn, handle)
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


async def _one(conn: trio.socket.SocketType, handle: Handler) -> None:
    with conn:
        data = b""
        with trio.move_on_after(CLIENT_TIMEOUT):
            while b"\n" not in data and len(data) < MAX_LINE:
                chunk = await conn.recv(MAX_LINE)
                if not chunk:
                    break
                data += chunk
        try:
            reply = await handle(parse(data.decode(errors="replace")))
        except ValueError as exc:
            reply = {"ok": False, "error": str(exc)}
        with contextlib.suppress(OSError):
            await conn.send((json.dumps(reply) + "\n").encode())

