"""Issue 18, "import only what a config uses": an idle director (one VRRP instance, one
virtual server with a TCP_CHECK) does not load the modules of features its config lacks
(scale-out, the HTTP batch and the other probe kinds, pyroute2's tc modules); a config that
uses them, or a reload to one (the health engine's update), loads them."""

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

HEALTH_MODULES = ("haipvs.health.httpbatch", "haipvs.health.http", "haipvs.health.misc")
NEVER_IDLE = ("haipvs.daemon_scale_out", *HEALTH_MODULES, "haipvs.health.dns",
              "haipvs.health.smtp", "haipvs.health.udp", "haipvs.health.ping",
              "pyroute2.netlink.rtnl.tcmsg.sched_htb")

# The daemon's start-up path up to its first checks: the argument parser, the daemon module,
# the config, pyroute2's IPRoute, the health engine for a moment (max_spread 0: every first
# check at once); then optionally a reload to a second config. Prints the modules whose body
# ran (a lazy module, haipvs/lazy_stdlib.py, may be in sys.modules before its first use).
SCRIPT = """
import json, sys
import trio
from haipvs.cli import build_parser
args = build_parser(lazy=True).parse_args(["--config", sys.argv[1]])
import haipvs.daemon
from haipvs import lazy_stdlib
from haipvs.config import load_config
from haipvs.health import HealthEngine, specs_from_config
from pyroute2 import IPRoute

async def main():
    config = load_config(sys.argv[1])
    engine = HealthEngine(specs_from_config(config), max_spread=0.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        if config.scale_out is not None:  # daemon.py imports it for scale_out only
            import haipvs.daemon_scale_out
        await trio.sleep(0.2)
        if len(sys.argv) > 3:
            engine.update(specs_from_config(load_config(sys.argv[2])))
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
    assert loaded(tmp_path, SCALE_OUT) == ["haipvs.daemon_scale_out", *HEALTH_MODULES]


def test_a_reload_that_adds_http_and_misc_checks_loads_their_modules(tmp_path):
    assert loaded(tmp_path, IDLE, FEATURES) == list(HEALTH_MODULES)
