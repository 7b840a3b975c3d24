"""FILE_CHECK in the daemon (keepalived 2.2.7 check_file.c with track_file's rule): a real
file rewritten by the test moves a real server's weight (number x weight added to its
configured weight) and, with weight 0, takes it down and back up; the daemon's dump shows
each change within delay_loop (0.5 s, haipvs reads the file where keepalived uses inotify)
plus slack for this loaded machine."""

from __future__ import annotations

import time

import pytest
import yaml

from integration.harness.instance import VrrpInstance
from integration.harness.requirements import haipvs_unavailable_reason
from integration.harness.wait import wait_until

pytestmark = [
    pytest.mark.netns,
    pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                       reason=haipvs_unavailable_reason() or ""),
]
LAN_PREFIX = "fc"
DELAY_LOOP = 0.5
BOUND = DELAY_LOOP + 1.0  # one read period, plus the dump's own refresh and load


def test_file_check_weight_and_down_up_follow_the_file(lan, haipvs_node, tmp_path):
    director = lan.add_node("dir")
    weight_file, fault_file = tmp_path / "weight", tmp_path / "fault"
    weight_file.write_text("0\n")
    services = [{
        "address": "192.0.2.100", "port": 80, "protocol": "TCP", "lb_algo": "wrr",
        "lb_kind": "NAT", "delay_loop": 5,
        "real_servers": [
            {"address": "192.0.2.50", "port": 80, "weight": 10,
             "file_check": {"file": str(weight_file), "weight": 4}},
            {"address": "192.0.2.51", "port": 80,
             "file_check": {"file": str(fault_file), "weight": 0}},
        ]}]
    daemon = haipvs_node(director, VrrpInstance(priority=150), start=False)
    config = yaml.safe_load(daemon.conf_path.read_text())
    config["virtual_servers"] = services
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    daemon.start()
    daemon.wait_state("MASTER", 10)

    def server(address: str) -> dict | None:
        for h in daemon.dump()["ipvs"]["real_servers"]:
            if h["real_server"].startswith(address + ":") and h["checks"][0]["runs"]:
                return h
        return None

    def settle(address: str, up: bool, weight: int | None, why: str) -> None:
        cause = time.time()
        wait_until(lambda: (h := server(address)) is not None and h["up"] is up and (
            h["weight"] == weight), BOUND + 5, interval=0.05, what=f"{address} {why}")
        took = time.time() - cause
        print(f"{address} {why}: {took:.3f}s")
        assert took <= BOUND, f"{address} {why} took {took:.3f}s (bound {BOUND}s)"

    settle("192.0.2.50", True, 10, "start: 0 x 4 + 10")
    settle("192.0.2.51", True, None, "start: a missing file reads 0")
    weight_file.write_text("3\n")
    settle("192.0.2.50", True, 22, "3 x 4 + 10")
    weight_file.write_text("-1\n")
    settle("192.0.2.50", True, 6, "-1 x 4 + 10")
    weight_file.write_text("-5\n")
    settle("192.0.2.50", True, 0, "-5 x 4 + 10 clamped to 0")
    fault_file.write_text("1\n")
    settle("192.0.2.51", False, None, "weight 0: a non-zero number is down")
    fault_file.write_text("0\n")
    settle("192.0.2.51", True, None, "back to 0: up")
