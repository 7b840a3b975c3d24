"""`haipvs director-setup` in a throwaway network namespace (net.* sysctls are per netns)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from haipvs.director_setup import nat_families
from tests.scratch_netns import run, scratch_netns

pytestmark = pytest.mark.netns
CONF = Path(__file__).parents[2] / "conf"


@pytest.fixture
def netns() -> Iterator[str]:
    with scratch_netns("hds") as name:
        yield name


def setup(ns: str, *args: str) -> str:
    return run("ip", "netns", "exec", ns, sys.executable, "-m", "haipvs", "director-setup",
               *args).stdout


def forwarding(ns: str) -> str:
    return run("ip", "netns", "exec", ns, "cat", "/proc/sys/net/ipv4/ip_forward").stdout.strip()


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
