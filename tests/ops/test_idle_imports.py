"""Issue 18, "import only what a config uses": an idle director (one VRRP instance, one
virtual server with a TCP_CHECK) does not load the modules of features its config lacks
(scale-out, the HTTP batch and the other probe kinds, pyroute2's IPRoute and tc modules,
track_process, routes, vmacs, garp_extra_if, no_accept's nftables rules, script security,
BFD, e-mail alerts, the ping, file, UDP and TLS checker parts); a config that uses them, or
a reload to one, loads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

IDLE = """\
vrrp_instances:
  - {name: VI_1, interface: lo, virtual_router_id: 52, priority: 150,
     virtual_ipaddress: [192.0.2.100/24]}
virtual_servers:
  - address: 192.0.2.100
    port: 80
    lb_kind: NAT
    delay_loop: 10
    real_servers:
      - address: 198.51.100.1
        port: 1000
        tcp_check: {connect_ip: 127.0.0.1, connect_port: 9, connect_timeout: 1}
"""

FEATURES = IDLE + """\
      - address: 198.51.100.2
        port: 1000
        http_get: {url: [{path: /}], connect_ip: 127.0.0.1, connect_port: 9,
                   connect_timeout: 1}
      - address: 198.51.100.3
        port: 1000
        misc_check: {path: /bin/true}
"""
SCALE_OUT = FEATURES + """\
  - address: 203.0.113.10
    port: 80
    lb_kind: DR
    real_servers:
      - {address: 198.51.100.11, port: 80}
scale_out:
  vips: [{address: 203.0.113.10}]
"""

# Every feature but scale-out and the HTTP/MISC checks: the VRRP side's (track_process,
# BFD, e-mail alerts, a vmac, no_accept, garp_extra_if, static and virtual routes) and the
# other checkers.
EVERY_FEATURE = """\
global:
  smtp: {server: 127.0.0.1, port: 9, notification_email: [ops@example.com]}
bfd:
  sessions: [{name: peer, neighbor: 192.0.2.102}]
vrrp_track_processes: [{name: p, process: haipvs-no-such-process}]
static_routes: [{to: 198.51.100.128/25, dev: lo}]
vrrp_instances:
  - {name: VI_1, interface: lo, virtual_router_id: 52, priority: 150,
     virtual_ipaddress: [192.0.2.100/24, {address: 192.0.2.101/24, dev: lo}],
     use_vmac: true, accept: false, garp: {extra_if: 5, extra_if_all: true},
     track_bfd: [peer], track_process: [p],
     virtual_routes: [{to: 198.51.100.1/32, dev: lo}]}
virtual_servers:
  - address: 192.0.2.100
    port: 80
    lb_kind: NAT
    delay_loop: 10
    real_servers:
      - {address: 198.51.100.1, port: 1000, ping_check: {connect_ip: 127.0.0.1}}
      - {address: 198.51.100.2, port: 1000, file_check: {file: /nonexistent}}
      - address: 198.51.100.3
        port: 1000
        udp_check: {connect_ip: 127.0.0.1, connect_port: 9, require_reply: true,
                    reply_pattern: 0a xx}
      - address: 198.51.100.4
        port: 1000
        ssl_get: {url: [{path: /}], connect_ip: 127.0.0.1, connect_port: 9}
"""

HEALTH_MODULES = ("haipvs.health.httpbatch", "haipvs.health.http", "haipvs.health.misc")
SCRIPT_RULES = "haipvs.policy.script_security"  # a config with scripts (misc_check)
HTTP_TLS = "haipvs.health.tls_client"  # with an ssl_get, or the HTTP probe (health/http.py)
FEATURE_MODULES = tuple(f"haipvs.{name}" for name in (
    "drivers.proc_watch", "policy.process_track", "daemon_bfd", "drivers.bird_bfd",
    "policy.bfd_sessions", "drivers.smtp_alert", "policy.smtp_alerts", "policy.smtp_check",
    "policy.vmac", "drivers.vmac", "drivers.vmac_recreate", "policy.routes", "drivers.routes",
    "drivers.nft_accept", "policy.accept_mode", "policy.ping_echo", "policy.file_check",
    "policy.udp_reply", "health.tls_client", "vrrp.garp_extra_if", "drivers.garp_extra_if"))
NEVER_IDLE = ("haipvs.daemon_scale_out", *HEALTH_MODULES, "haipvs.health.dns",
              "haipvs.health.smtp", "haipvs.health.udp", "haipvs.health.ping",
              "pyroute2.netlink.rtnl.tcmsg.sched_htb", SCRIPT_RULES, *FEATURE_MODULES,
              "haipvs.policy.smtp_stop",  # (the omega "Shutting down" mails, at stop)
              # pyroute2's IPRoute: VMAC links, routes and the scale-out table make it on
              # first use (drivers/rtnl_socket.py); so do unittest.mock and multiprocessing,
              # which it imports
              "pyroute2.iproute.linux", "unittest.mock", "multiprocessing")

# The daemon's start-up path up to its first checks: the argument parser, the daemon module,
# the config and its script review, the rtnetlink owner's socket, the daemon and the VRRP runtime's
# config-time steps (their outputs, trackers, BFD wiring, vmacs, routes, accept mode) and
# the health engine for a moment (max_spread 0: every first check at once); then optionally
# a reload to a second config, through the same steps. Prints the modules whose body ran
# (a lazy module, haipvs/lazy_stdlib.py, may be in sys.modules before its first use).
SCRIPT = """
import json, sys, tempfile
import structlog, trio
from haipvs.cli import build_parser
args = build_parser(lazy=True).parse_args(["--config", sys.argv[1]])
from haipvs.daemon import Daemon
from haipvs import lazy_stdlib
from haipvs.config import load_config
from haipvs.drivers.vrrp_runtime import VrrpRuntime
from haipvs.health import specs_from_config
from haipvs.policy.route_entries import static_entries
from haipvs.script_creds import secure_config
from haipvs.trackers import Trackers
from haipvs.vrrp_binding import bindings_from_config
from haipvs.drivers.rtnl_socket import RtnlSocket  # the daemon's rtnetlink owner object

structlog.configure(logger_factory=structlog.ReturnLoggerFactory())  # stdout: the answer
log = structlog.get_logger()

def configure(daemon, runtime, config):  # what start and reload do before the instances run
    bindings = bindings_from_config(config)
    daemon.configure_outputs(config)
    daemon.trackers.read_files(runtime.preset_tracker, config, frozenset())
    daemon.trackers.update(config)
    daemon.start_bfd(config)
    runtime._use_vmacs(bindings)
    runtime._use_extra_if(bindings)
    runtime._use_routes(static_entries(config), bindings, reload=True)
    runtime._use_accept(bindings)
    daemon.health_engine.update(specs_from_config(config))

async def main():
    config = secure_config(load_config(sys.argv[1]), log)
    daemon = Daemon(config, sys.argv[1], {"state_dir": tempfile.mkdtemp()})
    daemon.health_engine._max_spread = 0.0  # every first check at once
    runtime = daemon.runtime = VrrpRuntime(bindings_from_config(config), None, print)
    daemon.trackers = Trackers(config, runtime.set_tracker)
    async with trio.open_nursery() as nursery:
        daemon.nursery = runtime._nursery = nursery
        await nursery.start(daemon.trackers.run)
        await nursery.start(daemon.health_engine.run)
        configure(daemon, runtime, config)
        if config.scale_out is not None:  # daemon.py imports it for scale_out only
            import haipvs.daemon_scale_out
        await trio.sleep(0.2)
        if len(sys.argv) > 3:
            configure(daemon, runtime, secure_config(load_config(sys.argv[2]), log))
            await trio.sleep(0.2)
        nursery.cancel_scope.cancel()

trio.run(main)
print(json.dumps([n for n in json.loads(sys.argv[-1]) if lazy_stdlib.executed(n)]))
"""


def loaded(tmp_path: Path, *configs: str) -> list[str]:
    paths = []
    for index, text in enumerate(configs):
        path = tmp_path / f"c{index}.yaml"
        path.write_text(text)
        paths.append(str(path))
    out = subprocess.run([sys.executable, "-c", SCRIPT, *paths, json.dumps(NEVER_IDLE)],
                         capture_output=True, text=True, cwd=ROOT, check=False, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_an_idle_director_loads_no_feature_module_its_config_lacks(tmp_path):
    assert loaded(tmp_path, IDLE) == []


def test_a_config_with_http_misc_and_scale_out_loads_their_modules(tmp_path):
    # (scale-out watches route deletions with the route driver's monitor)
    assert loaded(tmp_path, SCALE_OUT) == [
        "haipvs.daemon_scale_out", *HEALTH_MODULES, SCRIPT_RULES, "haipvs.policy.routes",
        "haipvs.drivers.routes", HTTP_TLS]


def test_a_reload_that_adds_http_and_misc_checks_loads_their_modules(tmp_path):
    assert loaded(tmp_path, IDLE, FEATURES) == [*HEALTH_MODULES, SCRIPT_RULES, HTTP_TLS]


def test_a_reload_to_every_other_feature_loads_their_modules(tmp_path):
    got = loaded(tmp_path, IDLE, EVERY_FEATURE)
    assert sorted(set(got) & set(FEATURE_MODULES)) == sorted(FEATURE_MODULES)
    assert "haipvs.policy.smtp_stop" not in got  # only at stop, with omega
