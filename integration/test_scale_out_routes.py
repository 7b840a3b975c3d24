"""Issue 17, haipvs side ("Health -> announce", "Drain and stop"): the real daemon in a
namespace, a real server behind a TCP_CHECK, and the bgp VIP's route in table 201 watched
with `ip -ts monitor route` (no BIRD here: the route in the table is the announcement).

What this host can show: the route's add/delete against the checker's verdict, a restart
(with --dont-release-ipvs) and a SIGKILL + start making no route change at all, SIGTERM
withdrawing before the exit, and a drain's withdraw within 50 ms. What it cannot: this kernel
has no IPVS, so the reconciler is "unavailable" and "IPVS service present" is read from the
desired table (haipvs/daemon_scale_out.py); active connections are then 0 and a drain ends at
once. The kernel side (real services, connections draining) is the qemu guest's.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from datetime import datetime

import pytest
import yaml

from haipvs.drivers.control_client import request
from haipvs.limits import SCALE_OUT_CONTROL_SOCKET
from integration.harness.haipvs import haipvs_binary
from integration.harness.proc import Proc
from integration.harness.requirements import haipvs_unavailable_reason
from integration.harness.servers import tcp_accept_server
from integration.harness.wait import wait_until

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                       reason=haipvs_unavailable_reason() or ""),
]

LAN_PREFIX = "so"  # namespaces of its own: runs beside the other netns tests
VIP = "203.0.113.10"
TABLE = 201
DELAY_LOOP, CONNECT_TIMEOUT = 0.5, 1.0
# TCP_CHECK on a refused port: down at the first failed attempt (retry 0), so within one
# delay_loop plus the attempt; fall 1 withdraws at that evaluation. 0.3 s for a loaded host.
WITHDRAW_BOUND = DELAY_LOOP + CONNECT_TIMEOUT + 0.3
DRAIN_BOUND = 0.050  # issue 17 Acceptance 1: the drain's withdraw within 50 ms


def scale_out_config(daemon, rs_ip: str) -> None:
    config = yaml.safe_load(daemon.conf_path.read_text())
    config.pop("vrrp_instances", None)  # bgp mode only: no VRRP on this director
    config["virtual_servers"] = [{
        "address": VIP, "port": 8081, "lb_algo": "rr", "lb_kind": "DR",
        "delay_loop": DELAY_LOOP,
        "real_servers": [{"address": rs_ip, "port": 8081, "tcp_check": {
            "connect_timeout": CONNECT_TIMEOUT, "retry": 0}}],
    }]
    config["scale_out"] = {"table": TABLE, "rise": 2, "fall": 1, "hold_down": 1.0,
                           "drain_timeout": 5.0, "vips": [{"address": VIP, "metric": 10}]}
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))


def routes(node) -> list[dict]:
    # `ip` fails while the table does not exist yet (no route was ever added to it)
    out = subprocess.run(["ip", "-n", node.netns.name, "-j", "route", "show", "table",
                          str(TABLE)], capture_output=True, text=True).stdout
    return [r for r in json.loads(out or "[]") if r.get("dst") == VIP]


def announced(node) -> bool:
    return bool(routes(node))


class RouteMonitor:
    """`ip -ts monitor route` in the node's namespace; events about the VIP, with times."""

    LINE = re.compile(r"^\[(?P<ts>[^\]]+)\](?P<rest>.*)$")

    def __init__(self, node, path) -> None:
        self.path = path
        self.proc = Proc(node.netns, ["ip", "-ts", "monitor", "route"], path, name="monitor")
        time.sleep(0.2)  # subscribed before anything is measured

    def events(self) -> list[tuple[float, str]]:
        found = []
        for line in self.proc.log_text().splitlines():
            match = self.LINE.match(line)
            if match and VIP in line and f"table {TABLE}" in line:
                ts = datetime.fromisoformat(match["ts"]).timestamp()
                found.append((ts, "del" if "Deleted" in match["rest"] else "add"))
        return found

    def stop(self) -> None:
        self.proc.kill()


def wait_announced(daemon, node, timeout: float = 15.0) -> None:
    wait_until(lambda: announced(node), timeout, interval=0.05,
               what="the VIP's route in table 201", describe=daemon.describe)


def test_scale_out_route_follows_health_survives_restart_and_kill_and_drains(
        lan, haipvs_node, tmp_path):
    director, rs = lan.add_node("dir"), lan.add_node("rs1")
    server = Proc(rs.netns, tcp_accept_server(8081), tmp_path / "tcp.log", name="tcp")
    wait_until(lambda: "ready" in server.log_text(), 10, what="the real server")
    daemon = haipvs_node(director, start=False)
    scale_out_config(daemon, rs.ip)
    monitor = RouteMonitor(director, tmp_path / "monitor.log")
    try:
        # 1. A VIP with a live real server is announced: VIP/32 dev lo table 201 proto 75.
        daemon.start(launcher=[haipvs_binary(), "--dont-release-ipvs"])
        wait_announced(daemon, director)
        (route,) = routes(director)
        assert (route["dev"], route["protocol"], route["metric"]) == ("lo", "75", 10)
        lo = director.netns.ip("-j", "addr", "show", "dev", "lo").stdout
        assert VIP in lo, "the bgp VIP is held on lo"
        assert [kind for _, kind in monitor.events()] == ["add"]

        # 2. A restart (--dont-release-ipvs: the stop of a restart) and a SIGKILL + start:
        # the route stays as it is, not one route message about it.
        assert daemon.stop(10) == 0
        assert announced(director)
        daemon.start()
        daemon.wait_ready()
        time.sleep(2.0)  # past rise, the first checks and several evaluations
        daemon.proc.kill()
        assert announced(director)
        daemon.start()
        daemon.wait_ready()
        time.sleep(2.0)
        assert [kind for _, kind in monitor.events()] == ["add"], monitor.events()
        assert "scale_out_route_adopted" in daemon.proc.log_text()

        # 3. Killing the real server withdraws the VIP within the checker's timing.
        killed_at = time.time()
        server.kill()
        wait_until(lambda: not announced(director), WITHDRAW_BOUND + 2, interval=0.02,
                   what="the withdraw", describe=daemon.describe)
        deleted_at = monitor.events()[-1][0]
        assert monitor.events()[-1][1] == "del"
        assert deleted_at - killed_at <= WITHDRAW_BOUND, deleted_at - killed_at
        print(f"withdraw {deleted_at - killed_at:.3f} s after the real server was killed")

        # ... and it comes back once the server is back (rise 2, hold_down 1 s).
        server = Proc(rs.netns, tcp_accept_server(8081), tmp_path / "tcp2.log", name="tcp2")
        wait_announced(daemon, director)

        # 4. `haipvs drain`: the withdraw is in the kernel within 50 ms of the request.
        socket_path = daemon.state_dir / SCALE_OUT_CONTROL_SOCKET
        asked_at = time.time()
        reply = request(socket_path, f"drain {VIP}")
        answered_at = time.time()
        assert reply["ok"], reply
        assert not announced(director)
        deleted_at = monitor.events()[-1][0]
        assert monitor.events()[-1][1] == "del"
        assert deleted_at - asked_at <= DRAIN_BOUND, deleted_at - asked_at
        assert answered_at - asked_at <= DRAIN_BOUND, answered_at - asked_at
        print(f"drain: route deleted {1000 * (deleted_at - asked_at):.1f} ms after the "
              f"request, answered after {1000 * (answered_at - asked_at):.1f} ms")
        # Drained: it stays withdrawn however healthy, until undrain (the CLI this time).
        time.sleep(1.0)
        assert not announced(director)
        undrain = subprocess.run([haipvs_binary(), "undrain", VIP, "--state-dir",
                                  str(daemon.state_dir)], capture_output=True, text=True)
        assert undrain.returncode == 0, undrain.stderr
        wait_announced(daemon, director, 3.0)
        drained = subprocess.run([haipvs_binary(), "drain", "--all", "--state-dir",
                                  str(daemon.state_dir)], capture_output=True, text=True)
        assert (drained.returncode == 0 and f"{VIP}: draining" in drained.stdout) or \
            f"{VIP}: drained" in drained.stdout, drained
        assert not announced(director)
        subprocess.run([haipvs_binary(), "undrain", "--all", "--state-dir",
                        str(daemon.state_dir)], check=True, capture_output=True)
        wait_announced(daemon, director, 3.0)

        # The USR1 dump shows the VIP's announce state.
        state = daemon.dump()["scale_out"]
        assert state["vips"][VIP]["phase"] == "announced"
        assert state["vips"][VIP]["announce_mode"] == "bgp"

        # 5. SIGTERM (a real stop): withdraw first, then the normal stop.
        assert daemon.stop(15) == 0
        assert not announced(director)
        log = [json.loads(line) for line in daemon.proc.log_text().splitlines()
               if line.startswith("{")]
        events = [entry.get("event") for entry in log]
        events = events[len(events) - events[::-1].index("haipvs_started"):]  # the last run
        assert events.index("scale_out_withdraw") < events.index("haipvs_stopped")
        assert monitor.events()[-1][1] == "del"
    finally:
        monitor.stop()
        server.kill()


def test_uplink_down_withdraws_and_a_reload_changes_the_metric_make_before_break(
        lan, haipvs_node, tmp_path):
    director, rs = lan.add_node("dir"), lan.add_node("rs1")
    # The uplink is a veth pair of its own, so taking it down leaves the checks alone.
    director.netns.ip("link", "add", "up0", "type", "veth", "peer", "name", "up0p")
    director.netns.ip("link", "set", "up0p", "up")
    director.netns.ip("link", "set", "up0", "up")
    server = Proc(rs.netns, tcp_accept_server(8081), tmp_path / "tcp.log", name="tcp")
    wait_until(lambda: "ready" in server.log_text(), 10, what="the real server")
    daemon = haipvs_node(director, start=False)
    scale_out_config(daemon, rs.ip)
    config = yaml.safe_load(daemon.conf_path.read_text())
    config["scale_out"]["uplink"] = "up0"
    config["scale_out"]["graceful_shutdown"] = True
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    monitor = RouteMonitor(director, tmp_path / "monitor.log")
    try:
        daemon.start()
        wait_announced(daemon, director)

        down_at = time.time()
        director.netns.ip("link", "set", "up0", "down")
        wait_until(lambda: not announced(director), 3, interval=0.02, what="the withdraw")
        took = monitor.events()[-1][0] - down_at
        assert took <= 0.1, f"uplink down -> withdraw took {took:.3f} s"
        print(f"uplink down -> withdraw {1000 * took:.1f} ms")
        director.netns.ip("link", "set", "up0", "up")
        wait_announced(daemon, director, 5.0)  # after hold_down (1 s) and rise

        # Someone deletes the route or the VIP on lo: put back, as haipvs's static routes.
        director.netns.ip("route", "del", f"{VIP}/32", "table", str(TABLE))
        wait_announced(daemon, director, 2.0)
        director.netns.ip("addr", "del", f"{VIP}/32", "dev", "lo")
        wait_until(lambda: VIP in director.netns.ip("addr", "show", "dev", "lo").stdout, 2,
                   interval=0.05, what="the VIP back on lo")

        # graceful_shutdown: a drain first marks the route (realm 65535, for the routing
        # daemon's GRACEFUL_SHUTDOWN community), withdraws once the connections are gone.
        reply = request(daemon.state_dir / SCALE_OUT_CONTROL_SOCKET, f"drain {VIP}")
        assert reply["vips"][VIP]["graceful_shutdown_marked"], reply
        assert [r.get("flow") for r in routes(director)] == [{"to": "65535"}]
        wait_until(lambda: not announced(director), 3, interval=0.02, what="the withdraw")
        request(daemon.state_dir / SCALE_OUT_CONTROL_SOCKET, f"undrain {VIP}")
        wait_announced(daemon, director, 3.0)
        assert [r.get("flow") for r in routes(director)] == [None]

        # SIGHUP with a new metric: the new route goes in before the old one goes out.
        config["scale_out"]["vips"][0]["metric"] = 20
        daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
        before = len(monitor.events())
        daemon.proc.signal(signal.SIGHUP)
        wait_until(lambda: [r["metric"] for r in routes(director)] == [20], 5, interval=0.05,
                   what="the route with metric 20 alone")
        lines = [line for line in monitor.proc.log_text().splitlines()
                 if VIP in line and f"table {TABLE}" in line][before:]
        assert "metric 20" in lines[0] and "Deleted" not in lines[0], lines
        assert "Deleted" in lines[1] and "metric 10" in lines[1], lines

        # SIGHUP without the VIP in scale_out: withdrawn, and off lo.
        del config["scale_out"]["vips"][0]
        config["scale_out"]["vips"].append({"address": "203.0.113.11"})
        config["virtual_servers"].append({**config["virtual_servers"][0],
                                          "address": "203.0.113.11"})
        daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
        daemon.proc.signal(signal.SIGHUP)
        wait_until(lambda: not announced(director), 5, interval=0.05, what="the withdraw")
        wait_until(lambda: VIP not in director.netns.ip("addr", "show", "dev", "lo").stdout, 5,
                   interval=0.05, what="the VIP off lo")
        assert "203.0.113.11" in director.netns.ip("addr", "show", "dev", "lo").stdout
    finally:
        monitor.stop()
        server.kill()


def test_flapping_real_server_gives_at_most_one_route_update_per_hold_down(
        lan, haipvs_node, tmp_path):
    hold_down, flap_for, half_period = 2.0, 6.0, 0.7
    director, rs = lan.add_node("dir"), lan.add_node("rs1")
    server = Proc(rs.netns, tcp_accept_server(8081), tmp_path / "tcp0.log", name="tcp0")
    wait_until(lambda: "ready" in server.log_text(), 10, what="the real server")
    daemon = haipvs_node(director, start=False)
    scale_out_config(daemon, rs.ip)
    config = yaml.safe_load(daemon.conf_path.read_text())
    config["scale_out"]["hold_down"] = hold_down
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    monitor = RouteMonitor(director, tmp_path / "monitor.log")
    try:
        daemon.start()
        wait_announced(daemon, director)
        start = time.time()
        n = 0
        while time.time() - start < flap_for:  # down 0.7 s, up 0.7 s, ...
            server.kill()
            time.sleep(half_period)
            n += 1
            server = Proc(rs.netns, tcp_accept_server(8081), tmp_path / f"tcp{n}.log",
                          name=f"tcp{n}")
            time.sleep(half_period)
        end = time.time()
        during = [(t, kind) for t, kind in monitor.events() if start <= t <= end]
        print(f"{len(during)} route update(s) in {end - start:.1f} s of flapping "
              f"(hold_down {hold_down} s): {[kind for _, kind in during]}")
        assert len(during) <= (end - start) / hold_down
        assert during[0][1] == "del"
        # Stable again: announced once fit for hold_down without a break.
        wait_announced(daemon, director, hold_down + 3)
        last_del = max(t for t, kind in monitor.events() if kind == "del")
        assert monitor.events()[-1][1] == "add"
        assert monitor.events()[-1][0] - last_del >= hold_down
    finally:
        monitor.stop()
        server.kill()


if __name__ == "__main__":
    sys.exit(pytest.main([__file__, "-v"]))
