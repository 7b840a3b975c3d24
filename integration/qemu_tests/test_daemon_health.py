"""The whole daemon against real IPVS: health checks take real servers out of the kernel
table and put them back, and client traffic through the VIP follows.

Topology (all in the guest): client --veth-- director --bridge-- rs1, rs2, sorry.
The director runs `haipvs --config` as the only VRRP node (priority 255: MASTER at once),
so it holds the VIP 192.0.2.100 and NATs to the real servers on 198.51.100.0/24.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import sh
from guest_http import SERVER, fetch, veth
from guest_wait import wait_until

VIP = "192.0.2.100"

CONFIG = """
global: {router_id: guest, state_dir: STATE, pid_file: STATE/haipvs.pid}
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    priority: 255
    virtual_ipaddress: [192.0.2.100/24]
virtual_servers:
  - address: 192.0.2.100
    port: 80
    lb_algo: rr
    lb_kind: NAT
    delay_loop: 1
    real_servers: &servers
      - address: 198.51.100.11
        port: 8080
        tcp_check: {connect_timeout: 1, retry: 0, delay_before_retry: 0.5}
      - address: 198.51.100.12
        port: 8080
        tcp_check: {connect_timeout: 1, retry: 0, delay_before_retry: 0.5}
  - address: 192.0.2.100
    port: 81
    lb_algo: rr
    lb_kind: NAT
    delay_loop: 1
    inhibit_on_failure: true
    real_servers: *servers
  - address: 192.0.2.100
    port: 82
    lb_algo: rr
    lb_kind: NAT
    delay_loop: 1
    sorry_server: {address: 198.51.100.99, port: 8080}
    real_servers: *servers
"""





def ipvs_dests(ns: str) -> dict[int, dict[str, int]]:
    """{virtual port: {real server: weight}} from `ipvsadm -Ln` (the independent view)."""
    table: dict[int, dict[str, int]] = {}
    port = None
    for line in sh("ipvsadm", "-Ln", ns=ns).splitlines():
        fields = line.split()
        if fields and fields[0] == "TCP":
            port = int(fields[1].rsplit(":", 1)[1])
            table[port] = {}
        elif fields and fields[0] == "->" and port is not None and fields[1][0].isdigit():
            table[port][fields[1]] = int(fields[3])
    return table


def test_health_checks_drive_the_kernel_table_and_traffic(netns, tmp_path):
    director = netns.new("dir")
    client = netns.new("cli")
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=director)
    veth(director, "eth0", client, "eth0")
    sh("ip", "addr", "add", "192.0.2.1/24", "dev", "eth0", ns=director)
    sh("ip", "addr", "add", "192.0.2.50/24", "dev", "eth0", ns=client)
    sh("ip", "link", "add", "br0", "type", "bridge", ns=director)
    sh("ip", "link", "set", "br0", "up", ns=director)
    sh("ip", "addr", "add", "198.51.100.1/24", "dev", "br0", ns=director)

    servers: dict[str, subprocess.Popen] = {}
    spaces: dict[str, str] = {}

    def start_server(name: str, address: str) -> None:
        proc = netns.popen(spaces[name], sys.executable, "-c", SERVER, name, "8080",
                           stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        servers[name] = proc

    for index, (name, address) in enumerate(
        [("rs1", "198.51.100.11"), ("rs2", "198.51.100.12"), ("sorry", "198.51.100.99")]
    ):
        spaces[name] = ns = netns.new(name)
        veth(director, f"p{index}", ns, "eth0")
        sh("ip", "link", "set", f"p{index}", "master", "br0", ns=director)
        sh("ip", "addr", "add", f"{address}/24", "dev", "eth0", ns=ns)
        sh("ip", "route", "add", "default", "via", "198.51.100.1", ns=ns)
        start_server(name, address)

    state = tmp_path / "state"
    config = tmp_path / "lvs.yaml"
    config.write_text(CONFIG.replace("STATE", str(state)))
    log = open(tmp_path / "haipvs.log", "w")  # noqa: SIM115 - closed below
    daemon = netns.popen(director, sys.executable, "-m", "haipvs", "--config", str(config),
                         "--log-format", "json", stdout=log, stderr=subprocess.STDOUT)
    try:
        both = {"198.51.100.11:8080": 1, "198.51.100.12:8080": 1}
        wait_until(lambda: ipvs_dests(director) == {80: both, 81: both, 82: both},
                   "both real servers in all three services")
        assert set(fetch(client, VIP, 80, 6)) == {"rs1", "rs2"}

        servers.pop("rs1").kill()
        wait_until(lambda: "198.51.100.11:8080" not in ipvs_dests(director).get(80, {}),
                   "rs1 removed from port 80")
        table = ipvs_dests(director)
        assert table[81]["198.51.100.11:8080"] == 0, table  # inhibit_on_failure: weight 0
        assert "198.51.100.99:8080" not in table[82], table  # rs2 still serves
        assert set(fetch(client, VIP, 80, 6)) == {"rs2"}

        servers.pop("rs2").kill()
        wait_until(lambda: "198.51.100.99:8080" in ipvs_dests(director).get(82, {}),
                   "the sorry server once no real server is up")
        assert set(fetch(client, VIP, 82, 3)) == {"sorry"}

        start_server("rs1", "198.51.100.11")
        wait_until(lambda: "198.51.100.11:8080" in ipvs_dests(director).get(80, {}),
                   "rs1 back in port 80")
        wait_until(lambda: "198.51.100.99:8080" not in ipvs_dests(director).get(82, {}),
                   "the sorry server gone once rs1 is up")
        assert set(fetch(client, VIP, 80, 4)) == {"rs1"}

        os.kill(daemon.pid, signal.SIGUSR1)
        dump_path = Path(state) / "haipvs.json"
        dump = wait_until(lambda: dump_path.exists() and json.loads(dump_path.read_text()),
                          "the state dump")
        assert dump["ipvs"]["status"] == "ok"
        health = {(h["service"], h["dest"]): h for h in dump["ipvs"]["health"]}
        assert health[("TCP 192.0.2.100:80", "198.51.100.12:8080")]["up"] is False
        assert "refused" in health[("TCP 192.0.2.100:80", "198.51.100.12:8080")]["reason"]
    finally:
        daemon.terminate()
        try:
            daemon.wait(timeout=60)
        except subprocess.TimeoutExpired:
            daemon.kill()
        log.close()
        print((tmp_path / "haipvs.log").read_text()[-4000:])
