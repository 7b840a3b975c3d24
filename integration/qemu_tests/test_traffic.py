"""Real traffic through the director in NAT mode: wrr weights split connections 1:2, and
removing a real server moves all traffic to the other."""

import subprocess
import sys

from conftest import sh
from guest_configs import ip, rs
from guest_http import fetch, veth

from haipvs.config.model import Config, GlobalSettings, VirtualServer
from haipvs.ipvs.desired import desired_table
from haipvs.ipvs.reconcile import Reconciler

SERVER = r"""
import socket, sys
name = sys.argv[1]
srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("0.0.0.0", 8080))
srv.listen(64)
print("ready", flush=True)
while True:
    conn, _ = srv.accept()
    with conn:
        conn.recv(4096)
        conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" + name.encode())
"""

def web_config(*real_servers) -> Config:
    vs = VirtualServer(protocol="TCP", address=ip("192.0.2.100"), port=80, lb_algo="wrr",
                       lb_kind="NAT", real_servers=real_servers)
    return Config(source="traffic", global_settings=GlobalSettings(router_id="guest"),
                  virtual_servers=(vs,))


async def test_nat_wrr_split_and_failover(netns):
    director, client = netns.new("dir"), netns.new("cli")
    rs1, rs2 = netns.new("rs1"), netns.new("rs2")
    veth(director, "d0", client, "c0")
    sh("ip", "addr", "add", "192.0.2.1/24", "dev", "d0", ns=director)
    sh("ip", "addr", "add", "192.0.2.100/32", "dev", "d0", ns=director)
    sh("ip", "addr", "add", "192.0.2.2/24", "dev", "c0", ns=client)
    for index, (ns, inner) in enumerate(((rs1, "e0"), (rs2, "e0"))):
        base = 4 * index
        veth(director, f"d{index + 1}", ns, inner)
        sh("ip", "addr", "add", f"198.51.100.{base + 1}/30", "dev", f"d{index + 1}",
           ns=director)
        sh("ip", "addr", "add", f"198.51.100.{base + 2}/30", "dev", inner, ns=ns)
        sh("ip", "route", "add", "default", "via", f"198.51.100.{base + 1}", ns=ns)
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", ns=director)
    for ns, name in ((rs1, "rs1"), (rs2, "rs2")):
        proc = netns.popen(ns, sys.executable, "-c", SERVER, name, stdout=subprocess.PIPE,
                           text=True)
        assert proc.stdout.readline().strip() == "ready"

    rec = Reconciler(netns=director)
    try:
        rec.set_desired(desired_table(web_config(rs("198.51.100.2", 8080, 1),
                                                 rs("198.51.100.6", 8080, 2))))
        await rec.reconcile()
        assert rec.state == "ok", rec.error
        assert fetch(client, "192.0.2.100", 80, 30) == {"rs1": 10, "rs2": 20}

        rec.set_desired(desired_table(web_config(rs("198.51.100.6", 8080, 2))))
        result = await rec.reconcile()
        assert [str(op) for op in result] == [
            "del_dest TCP 192.0.2.100:80 -> 198.51.100.2:8080"]
        assert fetch(client, "192.0.2.100", 80, 30) == {"rs2": 30}
    finally:
        rec.close()
