"""IPv6 end to end against real IPVS: v6 virtual servers with v6 real servers, one per
checker kind haipvs has (TCP, HTTP, SSL, MISC, SMTP, UDP, DNS), programmed in the kernel
(`ipvsadm -Ln`), the checks taking a real server out and putting it back, and v6 client
traffic NATed through the director following.

Topology (all in the guest): client --veth-- director --bridge-- rs1, rs2; 2001:db8::/32
(the IPv6 documentation prefix): the VIP 2001:db8:a::100 on the director's client side,
the real servers on 2001:db8:b::/64. Each real server runs one process serving every
protocol, so killing it takes all its checks down at once.

Runs only in the qemu guest:

    integration/qemu/run-in-guest -- .venv/bin/python -m pytest -p no:cacheprovider \
        integration/qemu_tests/test_ipv6_everywhere.py
"""

from __future__ import annotations

import subprocess
import sys

from conftest import sh
from guest_http import fetch, veth
from guest_wait import wait_until

VIP = "2001:db8:a::100"
RS = {"rs1": "2001:db8:b::11", "rs2": "2001:db8:b::12"}

# One process per real server: HTTP 8080, HTTPS 8443, SMTP 2525 (TCP), echo 9000 and a DNS
# responder 5353 (UDP), all on "::".
SERVER = r"""
import socket, ssl, struct, sys, threading
name, cert = sys.argv[1], sys.argv[2]

def tcp(port, handle, tls=None):
    srv = socket.socket(socket.AF_INET6)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("::", port))
    srv.listen(64)
    def loop():
        while True:
            conn, _ = srv.accept()
            try:
                if tls is not None:
                    conn = tls.wrap_socket(conn, server_side=True)
                conn.settimeout(5)
                handle(conn)  # TLS: closed without close_notify, as keepalived accepts
            except OSError:
                pass
            finally:
                conn.close()
    threading.Thread(target=loop, daemon=True).start()

def http(conn):
    conn.recv(4096)
    conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + name.encode())

def smtp(conn):
    f = conn.makefile("rb")
    conn.sendall(b"220 " + name.encode() + b" ESMTP\r\n")
    for line in f:
        if line.upper().startswith(b"HELO"):
            conn.sendall(b"250 ok\r\n")
        elif line.upper().startswith(b"QUIT"):
            conn.sendall(b"221 bye\r\n")
            return

def udp(port, reply):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::", port))
    def loop():
        while True:
            data, peer = s.recvfrom(4096)
            s.sendto(reply(data), peer)
    threading.Thread(target=loop, daemon=True).start()

def dns(query):
    # NOERROR, the question copied, one A record (name: a pointer to the question)
    end = 12
    while query[end]:
        end += query[end] + 1
    question = query[12:end + 5]
    header = query[:2] + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0)
    return header + question + struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + bytes([192, 0, 2, 1])

tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
tls.load_cert_chain(cert)
tcp(8080, http)
tcp(8443, http, tls)
tcp(2525, smtp)
udp(9000, lambda data: data)
udp(5353, dns)
print("ready", flush=True)
threading.Event().wait()
"""

# misc_check: a program that connects to the real server's HTTP port (run directly, no
# shell of haipvs's; bash starts in well under a second in the guest, Python does not).
MISC = "[/bin/bash, -c, 'exec 3<>/dev/tcp/$0/8080', 'ADDR']"

CONFIG = """
global: {router_id: guest6, state_dir: STATE, pid_file: STATE/haipvs.pid}
virtual_servers:
"""

SERVICES = [
    # (virtual port, protocol, real server port, checker yaml)
    (80, "TCP", 8080, "tcp_check: {connect_timeout: 2, retry: 0}"),
    (81, "TCP", 8080, "http_get: {connect_timeout: 2, retry: 0, url: [{path: /}]}"),
    (82, "TCP", 8443, "ssl_get: {connect_timeout: 2, retry: 0, url: [{path: /}]}"),
    (83, "TCP", 8080, "misc_check: {path: MISC, timeout: 20}"),
    (84, "TCP", 2525, "smtp_check: {connect_timeout: 2, retry: 0}"),
    (85, "UDP", 9000, "udp_check: {connect_timeout: 2, retry: 0, require_reply: true}"),
    (86, "UDP", 5353, "dns_check: {connect_timeout: 2, retry: 0, type: A, name: example.org}"),
]


def config_text(state: str) -> str:
    out = [CONFIG.replace("STATE", state)]
    for port, protocol, rs_port, check in SERVICES:
        out.append(f"  - {{address: '{VIP}', port: {port}, protocol: {protocol}, lb_algo: rr, "
                   f"lb_kind: NAT, delay_loop: 2, real_servers: [")
        for address in RS.values():
            checker = check.replace("MISC", MISC.replace("ADDR", address))
            out.append(f"      {{address: '{address}', port: {rs_port}, {checker}}},")
        out.append("    ]}")
    return "\n".join(out) + "\n"


def table(ns: str) -> dict[str, set[str]]:
    """{"TCP [vip]:port": {"[rs]:port", ...}} from `ipvsadm -Ln` (the independent view)."""
    found: dict[str, set[str]] = {}
    current = None
    for line in sh("ipvsadm", "-Ln", ns=ns).splitlines():
        fields = line.split()
        if fields and fields[0] in ("TCP", "UDP"):
            current = f"{fields[0]} {fields[1]}"
            found[current] = set()
        elif fields[:1] == ["->"] and current is not None and fields[1].startswith("["):
            found[current].add(fields[1])
    return found


def expected(*names: str) -> dict[str, set[str]]:
    return {f"{protocol} [{VIP}]:{port}": {f"[{RS[n]}]:{rs_port}" for n in names}
            for port, protocol, rs_port, _ in SERVICES}


def addr6(ns: str, address: str, dev: str) -> None:
    sh("ip", "-6", "addr", "add", address, "dev", dev, "nodad", ns=ns)


def test_v6_services_checks_and_traffic(netns, tmp_path):
    director, client = netns.new("dir6"), netns.new("cli6")
    sh("sysctl", "-qw", "net.ipv6.conf.all.forwarding=1", ns=director)
    veth(director, "eth0", client, "eth0")
    addr6(director, "2001:db8:a::1/64", "eth0")
    addr6(director, f"{VIP}/64", "eth0")
    addr6(client, "2001:db8:a::50/64", "eth0")
    sh("ip", "-6", "route", "add", "default", "via", "2001:db8:a::1", ns=client)
    sh("ip", "link", "add", "br0", "type", "bridge", ns=director)
    sh("ip", "link", "set", "br0", "up", ns=director)
    addr6(director, "2001:db8:b::1/64", "br0")

    cert = tmp_path / "rs.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=rs.example", "-keyout", str(cert), "-out", str(cert)],
                   check=True, capture_output=True, timeout=120)
    spaces: dict[str, str] = {}
    servers: dict[str, subprocess.Popen] = {}

    def start_server(name: str) -> None:
        proc = netns.popen(spaces[name], sys.executable, "-c", SERVER, name, str(cert),
                           stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        servers[name] = proc

    for index, (name, address) in enumerate(RS.items()):
        spaces[name] = ns = netns.new(name)
        veth(director, f"p{index}", ns, "eth0")
        sh("ip", "link", "set", f"p{index}", "master", "br0", ns=director)
        addr6(ns, f"{address}/64", "eth0")
        sh("ip", "-6", "route", "add", "default", "via", "2001:db8:b::1", ns=ns)
        start_server(name)

    state = tmp_path / "state"
    config = tmp_path / "lvs6.yaml"
    config.write_text(config_text(str(state)))
    log_path = tmp_path / "haipvs.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    daemon = netns.popen(director, sys.executable, "-m", "haipvs", "--config", str(config),
                         "--log-format", "json", stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: table(director) == expected("rs1", "rs2"),
                   "both v6 real servers in every v6 service", timeout=240)
        assert set(fetch(client, VIP, 80, 6)) == {"rs1", "rs2"}

        servers.pop("rs1").kill()
        wait_until(lambda: table(director) == expected("rs2"),
                   "rs1 out of every service (each checker kind saw it down)", timeout=240)
        assert set(fetch(client, VIP, 80, 4)) == {"rs2"}

        start_server("rs1")
        wait_until(lambda: table(director) == expected("rs1", "rs2"),
                   "rs1 back in every service", timeout=240)
        assert set(fetch(client, VIP, 80, 6)) == {"rs1", "rs2"}
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
        text = log_path.read_text()
        print("\n".join(line for line in text.splitlines()
                        if "real server" in line or "ipvs_" in line or "error" in line))
        print(text[-3000:])
