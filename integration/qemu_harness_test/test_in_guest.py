"""Self-test of the qemu guest: real IPVS works there. Runs only inside the guest.

Run it with:
    integration/qemu/run-in-guest -- .venv/bin/python -m pytest integration/qemu_harness_test
"""

import json
import os
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.qemu,
    pytest.mark.skipif(
        os.environ.get("HAIPVS_GUEST") != "1",
        reason="needs the qemu guest's real IPVS kernel (integration/qemu/run-in-guest)",
    ),
]


def run(*argv: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, f"{argv} exited {proc.returncode}: {proc.stderr.strip()}"
    return proc.stdout


@pytest.fixture
def netns():
    name = f"hq-{secrets.token_hex(4)}"
    run("ip", "netns", "add", name)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=60)


def loaded_modules() -> set[str]:
    return {line.split()[0] for line in Path("/proc/modules").read_text().splitlines()}


def test_guest_has_no_network_interface_but_loopback():
    assert sorted(os.listdir("/sys/class/net")) == ["lo"]


def test_ipvsadm_adds_a_wrr_service_in_a_fresh_netns(netns):
    # A real server must be reachable unicast; a dummy link (module loaded on demand) gives
    # the netns a route to it.
    run("ip", "-n", netns, "link", "add", "rs0", "type", "dummy")
    run("ip", "-n", netns, "addr", "add", "198.51.100.1/24", "dev", "rs0")
    run("ip", "-n", netns, "link", "set", "rs0", "up")
    run("ip", "netns", "exec", netns, "ipvsadm", "-A", "-t", "192.0.2.1:80", "-s", "wrr")
    run("ip", "netns", "exec", netns, "ipvsadm", "-a", "-t", "192.0.2.1:80",
        "-r", "198.51.100.7:8080", "-m", "-w", "3")

    listing = run("ip", "netns", "exec", netns, "ipvsadm", "-Ln")
    assert "TCP  192.0.2.1:80 wrr" in listing
    assert "198.51.100.7:8080" in listing
    # IPVS tables are per network namespace: the guest's initial netns stays empty.
    assert "192.0.2.1:80" not in run("ipvsadm", "-Ln")


@pytest.mark.parametrize("scheduler", ["sh", "mh"])
def test_scheduler_module_is_loaded_on_demand(netns, scheduler):
    module = f"ip_vs_{scheduler}"
    subprocess.run(["modprobe", "-r", module], check=False, capture_output=True, timeout=60)
    if module in loaded_modules():
        pytest.skip(f"{module} is loaded and in use by earlier tests of this session")
    run("ip", "netns", "exec", netns, "ipvsadm", "-A", "-u", "203.0.113.5:53", "-s", scheduler)

    assert module in loaded_modules()
    assert f"UDP  203.0.113.5:53 {scheduler}" in run("ip", "netns", "exec", netns, "ipvsadm", "-Ln")


PYROUTE2_ADD_AND_DUMP = textwrap.dedent("""
    import json, socket
    from pyroute2 import IPVS, IPVSService
    ipvs = IPVS()
    ipvs.service("add", service=IPVSService(
        addr="192.0.2.9", port=443, protocol=socket.IPPROTO_TCP, sched_name="rr"))
    services = [IPVSService.from_message(m) for m in ipvs.service("dump")]
    ipvs.close()
    print(json.dumps([[s["addr"], s["port"], s["protocol"], s["sched_name"]] for s in services]))
""")


def test_pyroute2_ipvs_adds_and_dumps_a_service(netns):
    out = run("ip", "netns", "exec", netns, sys.executable, "-c", PYROUTE2_ADD_AND_DUMP)

    assert json.loads(out) == [["192.0.2.9", 443, 6, "rr"]]
    assert "TCP  192.0.2.9:443 rr" in run("ip", "netns", "exec", netns, "ipvsadm", "-Ln")
