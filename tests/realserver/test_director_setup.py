"""`haipvs director-setup` in a throwaway network namespace (net.* sysctls are per netns)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from haipvs.director_setup import nat_families

pytestmark = pytest.mark.netns
CONF = Path(__file__).parents[2] / "conf"


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, f"{argv}: {proc.stdout}{proc.stderr}"
    return proc


@pytest.fixture
def netns() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root for network namespaces")
    name = f"hds{os.getpid() % 10000}{secrets.token_hex(3)}"
    _run("ip", "netns", "add", name)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False, timeout=30)


def setup(ns: str, *args: str) -> str:
    return _run("ip", "netns", "exec", ns, sys.executable, "-m", "haipvs", "director-setup",
                *args).stdout


def forwarding(ns: str) -> str:
    return _run("ip", "netns", "exec", ns, "cat", "/proc/sys/net/ipv4/ip_forward").stdout.strip()


def test_nat_director_gets_forwarding_once(netns: str):
    assert forwarding(netns) == "0"
    assert setup(netns, "--dry-run").startswith("would change: net.ipv4.ip_forward 0 -> 1")
    assert forwarding(netns) == "0"
    assert setup(netns, str(CONF / "nat-lab.yaml")).startswith(
        "changed: net.ipv4.ip_forward 0 -> 1")
    assert forwarding(netns) == "1"
    assert setup(netns, "--nat").strip() == "already: net.ipv4.ip_forward = 1"


def test_conntrack_is_skipped_without_ipvs(netns: str):
    out = setup(netns, "--conntrack")
    if Path("/proc/sys/net/ipv4/vs").exists():
        assert "net.ipv4.vs.conntrack" in out and "skipped" not in out
    else:
        assert out.strip() == "skipped: net.ipv4.vs.conntrack (this kernel has no IPVS)"


def test_dr_config_needs_no_forwarding(netns: str):
    assert nat_families(str(CONF / "dr-lab.yaml")) == (False, False)
    assert "nothing to do" in setup(netns, str(CONF / "dr-lab.yaml"))
    assert forwarding(netns) == "0"
