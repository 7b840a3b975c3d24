"""Acceptance (IPVS issue, item 6): on a kernel without IPVS the daemon starts, says so
clearly, keeps VRRP working, checks its real servers, and both the state dump and
`haipvs status` show the desired table, marked as not the kernel's."""

import json
import sys

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

MESSAGE = "IPVS is not available in this kernel (ip_vs module not loaded?)"
VIRTUAL_SERVER = {
    "address": "192.0.2.100", "port": 80, "lb_algo": "wrr", "lb_kind": "NAT", "delay_loop": 1,
    "real_servers": [
        # Nothing listens on these: health checks must say so, with a reason.
        {"address": "127.0.0.1", "port": 18081, "weight": 1,
         "tcp_check": {"connect_timeout": 1, "retry": 0}},
        {"address": "127.0.0.1", "port": 18082, "weight": 2},
    ],
}


def test_daemon_without_ipvs_keeps_vrrp_and_shows_the_desired_table(lan, haipvs_node):
    node = lan.add_node("d1")
    daemon = haipvs_node(node, VrrpInstance(priority=150, password="1111"), start=False)
    config = yaml.safe_load(daemon.conf_path.read_text())
    config["virtual_servers"] = [VIRTUAL_SERVER]
    daemon.conf_path.write_text(yaml.safe_dump(config, sort_keys=False))
    daemon.start()
    daemon.wait_state("MASTER", 10)  # VRRP works although IPVS does not
    assert daemon.has_vip("192.0.2.100/24")

    def checked():
        dump = daemon.dump()
        health = {h["dest"]: h for h in dump["ipvs"].get("health", [])}
        return dump if health.get("127.0.0.1:18081", {}).get("up") is False else None

    dump = wait_until(checked, 10, interval=0.3, what="the real server checked down")
    ipvs = dump["ipvs"]
    assert (ipvs["status"], ipvs["error"]) == ("unavailable", MESSAGE)
    (service,) = ipvs["desired"]
    assert (service["name"], service["scheduler"]) == ("TCP 192.0.2.100:80", "wrr")
    # The checked-down server is left out of the desired table; the unchecked one stays.
    assert [(d["address"], d["port"], d["weight"]) for d in service["destinations"]] == [
        ("127.0.0.1", 18082, 2)]
    assert "refused" in {h["dest"]: h for h in ipvs["health"]}["127.0.0.1:18081"]["reason"]
    assert MESSAGE in daemon.log_path.read_text()

    status = [sys.executable, "-m", "haipvs", "status", "--state-dir", str(daemon.state_dir),
              "--pid-file", str(daemon.pid_path)]
    text = node.netns.run(*status).stdout
    assert "DESIRED" in text and "not the kernel's" in text
    assert "TCP  192.0.2.100:80 wrr" in text
    assert "127.0.0.1:18082" in text
    assert "down (tcp_check: connect refused)" in text
    document = json.loads(node.netns.run(*status, "--json").stdout)
    assert document["ipvs"] == "unavailable"
    assert document["desired"][0]["name"] == "TCP 192.0.2.100:80"
