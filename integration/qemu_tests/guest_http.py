"""What the guest traffic tests share: veth pairs between namespaces, and a client that makes
HTTP/1.0 requests to a virtual service and counts which real server answered (each test
server answers with its own name as the body)."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

from conftest import sh

# argv: address port count. One line per request: the body, or "error:<exception name>".
HTTP_CLIENT = r"""
import socket, sys
for _ in range(int(sys.argv[3])):
    try:
        with socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5) as c:
            c.sendall(b"GET / HTTP/1.0\r\n\r\n")
            data = b""
            while chunk := c.recv(4096):
                data += chunk
        print(data.split(b"\r\n\r\n", 1)[1].decode())
    except OSError as exc:
        print("error:" + type(exc).__name__)
"""


def fetch(client: str, address: str, port: int, count: int) -> Counter:
    """`count` requests from namespace `client`, one connection each: how many each real
    server answered (failures count as "error:...")."""
    out = subprocess.run(["ip", "netns", "exec", client, sys.executable, "-c", HTTP_CLIENT,
                          address, str(port), str(count)], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return Counter(out.stdout.split())


def veth(outer_ns: str, outer: str, inner_ns: str, inner: str) -> None:
    sh("ip", "link", "add", outer, "type", "veth", "peer", "name", inner, "netns", inner_ns,
       ns=outer_ns)
    sh("ip", "link", "set", outer, "up", ns=outer_ns)
    sh("ip", "link", "set", inner, "up", ns=inner_ns)
