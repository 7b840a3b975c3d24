"""`haipvs director-setup --bgp` (issue 17: the bgp VIPs sit on lo of every director, with
arp_ignore=1 and arp_announce=2, as a DR real server; haipvs/realserver.py), in a throwaway
namespace."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from haipvs.director_setup import apply_settings, wanted_settings
from tests.scratch_netns import run, scratch_netns

SYSCTLS = ("net.ipv4.conf.all.arp_ignore", "net.ipv4.conf.lo.arp_ignore",
           "net.ipv4.conf.all.arp_announce", "net.ipv4.conf.lo.arp_announce")


def test_bgp_wants_arp_ignore_1_and_arp_announce_2_on_all_and_lo():
    wanted = {name: value for name, value, _ in wanted_settings(False, False, False, bgp=True)}
    assert wanted == {**dict(zip(SYSCTLS, ("1", "1", "2", "2"), strict=True)),
                      "net.ipv4.vs.sloppy_tcp": "1", "net.ipv4.vs.sloppy_sctp": "1"}


def test_bgp_sloppy_tcp_and_sctp_set_where_the_kernel_has_ipvs_skipped_elsewhere(tmp_path):
    """ECMP can hand a flow to another director mid-connection: IPVS only schedules a
    non-SYN packet with sloppy_tcp (ip_vs_proto_tcp.c tcp_conn_schedule)."""
    (tmp_path / "net/ipv4/vs").mkdir(parents=True)
    (tmp_path / "net/ipv4/vs/sloppy_tcp").write_text("0\n")
    wanted = [w for w in wanted_settings(False, False, False, bgp=True) if ".vs." in w[0]]
    outcomes = {o.name: o.status for o in apply_settings(wanted, False, root=tmp_path)}
    assert outcomes == {"net.ipv4.vs.sloppy_tcp": "changed",
                        "net.ipv4.vs.sloppy_sctp": "skipped"}
    assert (tmp_path / "net/ipv4/vs/sloppy_tcp").read_text().strip() == "1"


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
