"""Tiny servers the tests run inside a real server's namespace (as `python -c` programs)."""

from __future__ import annotations

import sys

# Accepts and closes every connection: a TCP_CHECK target. Prints "ready" once listening, so
# the test can wait for it instead of sleeping.
_TCP_ACCEPT = r"""
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.listen(128)
print("ready", flush=True)
while True:
    s.accept()[0].close()
"""


def tcp_accept_server(port: int = 8081) -> list[str]:
    """argv of a server that accepts and closes every TCP connection on `port`."""
    return [sys.executable, "-c", _TCP_ACCEPT, str(port)]
