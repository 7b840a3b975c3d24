"""The client half of the scale-out control socket (haipvs/drivers/control_socket.py), for
`haipvs drain` / `undrain`: plain blocking sockets, no trio, so the command starts fast (the
drain is timed from the request, and an operator waits for the command)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

CLIENT_TIMEOUT = 5.0


def request(path: Path, line: str, timeout: float = CLIENT_TIMEOUT) -> dict:
    """For the `haipvs` command (blocking): send one line, return the daemon's reply.
    OSError when no daemon listens there."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        sock.sendall(line.encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    return json.loads(data.decode())
