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


# argv: name port. Answers every connection with an HTTP/1.0 response whose body is its name
# (a peer that hangs up first is skipped).
SERVER = r"""
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", port))
srv.listen(64)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    with conn:
        conn.settimeout(2)
        try:
            conn.recv(4096)
            conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + name.encode())
        except OSError:
            pass
"""


def nat_topology(netns) -> tuple[str, str]:
    """A NAT director (VIP 192.0.2.100 on its client side), a client (192.0.2.2) and two real
    servers rs1 198.51.100.2 and rs2 198.51.100.6, each answering on port 8080 with its name
    and routed back through the director. Returns (director, client) namespaces."""
    director, client = netns.new("dir"), netns.new("cli")
    rs1, rs2 = netns.new("rs1"), netns.new("rs2")
    veth(director, "d0", client, "c0")
    sh("ip", "addr", "add", "192.0.2.1/24", "dev", "d0", ns=director)
    sh("ip", "addr", "add", "192.0.2.100/32", "dev", "d0", ns=director)
    sh("ip", "addr", "add", "192.0.2.2/24", "dev", "c0", ns=client)
    for index, ns in enumerate((rs1, rs2)):
        base = 4 * index
        veth(director, f"d{index + 1}", ns, "e0")
        sh("ip", "addr", "add", f"198.51.100.{base + 1}/30", "dev", f"d{index + 1}",
           ns=director)
        sh("ip", "addr", "add", f"198.51.100.{base + 2}/30", "dev", "e0", ns=ns)
        sh("ip", "route", "add", "default", "via", f"198.51.100.{base + 1}", ns=ns)
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=director)
    for ns, name in ((rs1, "rs1"), (rs2, "rs2")):
        proc = netns.popen(ns, sys.executable, "-c", SERVER, name, "8080",
                           stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
    return director, client
