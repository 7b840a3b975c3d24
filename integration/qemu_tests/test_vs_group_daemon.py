"""A virtual_server_group under the whole daemon on real IPVS (issue 16, engineer D):
client traffic to two members reaches the shared real servers, each real server is checked
once per delay_loop whatever the number of members (keepalived keeps one real_server_t per
virtual server: check_data.c, the group only multiplies the IPVS services in ipvswrapper.c
ipvs_group_cmd), and one real server's death takes it out of every member in one reconcile.

Topology as test_daemon_health.py: client --veth-- director --bridge-- rs1, rs2. The probes
come from the director's bridge address 198.51.100.1, client traffic keeps the client's
address (NAT), so each real server tells them apart and counts the probes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from conftest import sh
from guest_http import fetch, veth
from guest_wait import wait_until

SERVER = r"""
import socket, sys
name, port, log = sys.argv[1], int(sys.argv[2]), sys.argv[3]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", port))
srv.listen(64)
print("ready", flush=True)
while True:
    conn, peer = srv.accept()
    with open(log, "a") as f:
        f.write(peer[0] + "\n")
    with conn:
        conn.settimeout(2)
        try:
            if conn.recv(4096):
                conn.sendall(b"HTTP/1.0 200 OK\r\n\r\n" + name.encode())
        except OSError:
            pass
"""

DELAY_LOOP = 2
MEMBERS = 4  # 192.0.2.100-103

CONFIG = f"""
global: {{router_id: guest, state_dir: STATE, pid_file: STATE/haipvs.pid}}
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    priority: 255
    virtual_ipaddress: [192.0.2.100/24, 192.0.2.101/24, 192.0.2.102/24, 192.0.2.103/24]
virtual_servers:
  - group: {{name: WEB, members: ["192.0.2.100-103 80"]}}
    protocol: TCP
    lb_algo: rr
    lb_kind: NAT
    delay_loop: {DELAY_LOOP}
    real_servers:
      - address: 198.51.100.11
        port: 8080
        tcp_check: {{connect_timeout: 1, retry: 0, delay_before_retry: 0.5}}
      - address: 198.51.100.12
        port: 8080
        tcp_check: {{connect_timeout: 1, retry: 0, delay_before_retry: 0.5}}
"""


def members_dests(ns: str) -> dict[str, set[str]]:
    """{virtual address: its real servers} from `ipvsadm -Ln`."""
    table: dict[str, set[str]] = {}
    current = None
    for line in sh("ipvsadm", "-Ln", ns=ns).splitlines():
        fields = line.split()
        if fields and fields[0] == "TCP":
            current = table.setdefault(fields[1].rsplit(":", 1)[0], set())
        elif fields[:1] == ["->"] and current is not None and fields[1][0].isdigit():
            current.add(fields[1])
    return table


def probes(log) -> int:
    return sum(1 for line in log.read_text().split() if line == "198.51.100.1") \
        if log.exists() else 0


def test_group_shares_real_servers_one_check_each_and_one_removal(netns, tmp_path):
    director, client = netns.new("dir"), netns.new("cli")
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=director)
    veth(director, "eth0", client, "eth0")
    sh("ip", "addr", "add", "192.0.2.1/24", "dev", "eth0", ns=director)
    sh("ip", "addr", "add", "192.0.2.50/24", "dev", "eth0", ns=client)
    sh("ip", "link", "add", "br0", "type", "bridge", ns=director)
    sh("ip", "link", "set", "br0", "up", ns=director)
    sh("ip", "addr", "add", "198.51.100.1/24", "dev", "br0", ns=director)
    servers, logs = {}, {}
    for index, (name, address) in enumerate([("rs1", "198.51.100.11"),
                                             ("rs2", "198.51.100.12")]):
        ns = netns.new(name)
        veth(director, f"p{index}", ns, "eth0")
        sh("ip", "link", "set", f"p{index}", "master", "br0", ns=director)
        sh("ip", "addr", "add", f"{address}/24", "dev", "eth0", ns=ns)
        sh("ip", "route", "add", "default", "via", "198.51.100.1", ns=ns)
        logs[name] = tmp_path / f"{name}.log"
        proc = netns.popen(ns, sys.executable, "-c", SERVER, name, "8080", str(logs[name]),
                           stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        servers[name] = proc

    state = tmp_path / "state"
    config = tmp_path / "lvs.yaml"
    config.write_text(CONFIG.replace("STATE", str(state)))
    log = open(tmp_path / "haipvs.log", "w")  # noqa: SIM115 - closed below
    daemon = netns.popen(director, sys.executable, "-m", "haipvs", "--config", str(config),
                         "--log-format", "json", stdout=log, stderr=subprocess.STDOUT)
    try:
        both = {"198.51.100.11:8080", "198.51.100.12:8080"}
        vips = [f"192.0.2.{100 + i}" for i in range(MEMBERS)]
        wait_until(lambda: members_dests(director) == {v: both for v in vips},
                   "both real servers in every member")
        # traffic to two members reaches the shared real servers
        assert set(fetch(client, "192.0.2.100", 80, 6)) == {"rs1", "rs2"}
        assert set(fetch(client, "192.0.2.103", 80, 6)) == {"rs1", "rs2"}

        # one check per real server per delay_loop, not one per member: checking per member
        # would give MEMBERS times as many probes
        start, t0 = probes(logs["rs1"]), time.monotonic()
        time.sleep(5 * DELAY_LOOP)
        count, elapsed = probes(logs["rs1"]) - start, time.monotonic() - t0
        print(f"rs1 probes: {count} in {elapsed:.1f} s")
        assert 1 <= count <= elapsed / DELAY_LOOP + 2, count

        servers.pop("rs1").kill()
        wait_until(lambda: all("198.51.100.11:8080" not in d
                               for d in members_dests(director).values()),
                   "rs1 gone from every member")
        assert members_dests(director) == {v: {"198.51.100.12:8080"} for v in vips}
        assert set(fetch(client, "192.0.2.101", 80, 4)) == {"rs2"}
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
    # the removal is one reconcile: the four ipvs_del_dest of rs1 are consecutive ops
    events = [json.loads(line) for line in (tmp_path / "haipvs.log").read_text().splitlines()
              if line.startswith("{")]
    ops = [e for e in events if str(e.get("event", "")).startswith("ipvs_")]
    dels = [i for i, e in enumerate(ops) if e["event"] == "ipvs_del_dest"
            and "198.51.100.11" in str(e.get("dest"))]
    assert len(dels) == MEMBERS and dels == list(range(dels[0], dels[0] + MEMBERS)), ops
