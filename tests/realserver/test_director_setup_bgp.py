"""`haipvs director-setup --bgp` (issue 17: the bgp VIPs sit on lo of every director, with
arp_ignore=1 and arp_announce=2, as a DR real server; haipvs/realserver.py), in a throwaway
namespace."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from haipvs.director_setup import wanted_settings
from tests.scratch_netns import run, scratch_netns

SYSCTLS = ("net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.lo.arp_ignore",
           "net.ipv4.conf.all.arp_announce", "net.ipv4.conf.lo.arp_announce")


def test_bgp_wants_arp_ignore_1_and_arp_announce_2_on_all_and_lo():
    wanted = {name: value for name, value, _ in wanted_settings(False, False, False, bgp=True)}
    assert wanted == dict(zip(SYSCTLS, ("1", "1", "2", "2"), strict=True))


@pytest.fixture
def netns() -> Iterator[str]:
    with scratch_netns("hdb") as name:
        yield name


@pytest.mark.netns
def test_director_setup_bgp_sets_them_once_and_then_reports_already(netns):
    argv = ("ip", "netns", "exec", netns, sys.executable, "-m", "haipvs", "director-setup",
            "--bgp")
    first = run(*argv).stdout
    assert first.count("changed: net.ipv4.conf.") == 4
    assert "ip_forward" not in first  # a bgp director forwards by DR/TUN: no forwarding
    assert run(*argv).stdout.count("already: ") == 4
    values = [run("ip", "netns", "exec", netns, "sysctl", "-n", name).stdout.strip()
              for name in SYSCTLS]
    assert values == ["1", "1", "2", "2"]
