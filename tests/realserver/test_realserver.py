"""`haipvs realserver up|down` inside a throwaway network namespace: down restores the
addresses and sysctls byte for byte; up is idempotent; --dry-run changes nothing."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.scratch_netns import run, scratch_netns

pytestmark = pytest.mark.netns

HAIPVS = [sys.executable, "-m", "haipvs"]
SYSCTLS = [f"net/ipv4/conf/{dev}/{name}" for dev in ("all", "lo", "tunl0")
           for name in ("arp_ignore", "arp_announce", "rp_filter")]


@pytest.fixture
def netns() -> Iterator[str]:
    with scratch_netns("hrs") as name:
        yield name


def snapshot(ns: str) -> dict[str, str]:
    """`ip addr` / `ip link` output and the relevant /proc/sys files inside `ns`."""
    state = {
        "addr": run("ip", "-n", ns, "addr").stdout,
        "link": run("ip", "-n", ns, "-d", "link").stdout,
    }
    script = ("import pathlib,sys\n"
              "for p in sys.argv[1:]:\n"
              "    f = pathlib.Path('/proc/sys') / p\n"
              "    print(p, repr(f.read_bytes()) if f.exists() else 'absent')\n")
    out = run("ip", "netns", "exec", ns, sys.executable, "-c", script, *SYSCTLS).stdout
    state["sysctl"] = out
    return state


def realserver(ns: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return run("ip", "netns", "exec", ns, *HAIPVS, "realserver", *args, check=check)


def sysctl(ns: str, name: str) -> str:
    return run("ip", "netns", "exec", ns, "cat", f"/proc/sys/{name}").stdout.strip()


def test_up_then_down_restores_everything_byte_for_byte(netns: str, tmp_path: Path):
    state = str(tmp_path / "rs.json")
    run("ip", "-n", netns, "link", "set", "lo", "up")  # as on any real machine
    # Start from a non-default value so "restore" cannot be confused with "reset to 0".
    run("ip", "netns", "exec", netns, "sysctl", "-q", "-w", "net.ipv4.conf.lo.arp_announce=1")
    before = snapshot(netns)
    out = realserver(netns, "up", "--vip", "192.0.2.100", "--vip", "2001:db8::100",
                     "--state-file", state).stdout
    assert "add 192.0.2.100/32 to lo" in out
    assert "set net.ipv4.conf.lo.arp_announce 1 -> 2" in out
    addr = run("ip", "-n", netns, "addr", "show", "lo").stdout
    assert "inet 192.0.2.100/32" in addr and "inet6 2001:db8::100/128" in addr
    assert sysctl(netns, "net/ipv4/conf/all/arp_ignore") == "1"
    assert sysctl(netns, "net/ipv4/conf/all/arp_announce") == "2"
    middle = snapshot(netns)

    again = realserver(netns, "up", "--vip", "192.0.2.100", "--state-file", state).stdout
    assert "already: 192.0.2.100/32 is on lo" in again
    assert not [line for line in again.splitlines() if not line.startswith("already:")]
    assert snapshot(netns) == middle

    realserver(netns, "down", "--state-file", state)
    assert snapshot(netns) == before
    assert not Path(state).exists()


def test_dry_run_changes_nothing(netns: str, tmp_path: Path):
    state = tmp_path / "rs.json"
    before = snapshot(netns)
    out = realserver(netns, "up", "--vip", "192.0.2.7", "--dry-run",
                     "--state-file", str(state)).stdout
    assert "would add 192.0.2.7/32 to lo" in out
    assert "would bring lo up" in out  # a new namespace's lo is down
    assert snapshot(netns) == before and not state.exists()


def test_tun_up_then_down_or_clean_failure(netns: str, tmp_path: Path):
    """With ipip in the kernel: tunl0 gets the VIP and rp_filter goes to 0, and down restores
    everything. Without it (this CI host): up fails with a clear message and undoes what it
    had already done."""
    state = str(tmp_path / "rs.json")
    run("ip", "-n", netns, "link", "set", "lo", "up")
    before = snapshot(netns)
    plan = realserver(netns, "up", "--tun", "--vip", "203.0.113.100", "--dry-run",
                      "--state-file", state).stdout
    assert "would add 203.0.113.100/32 to tunl0" in plan
    assert "would set net.ipv4.conf.all.rp_filter" in plan or "rp_filter = 0" in plan
    result = realserver(netns, "up", "--tun", "--vip", "203.0.113.100", "--state-file", state,
                        check=False)
    if result.returncode != 0:
        assert "cannot create tunl0" in result.stderr
        assert snapshot(netns) == before and not Path(state).exists()
        return
    assert "inet 203.0.113.100/32" in run("ip", "-n", netns, "addr", "show", "tunl0").stdout
    assert sysctl(netns, "net/ipv4/conf/tunl0/rp_filter") == "0"
    realserver(netns, "down", "--state-file", state)
    after = snapshot(netns)
    # tunl0 is the ipip fallback device: once the module is loaded it cannot be deleted.
    assert after["addr"].replace("tunl0", "") == before["addr"].replace("tunl0", "") or (
        after == before)


def test_down_without_state_is_a_no_op(netns: str, tmp_path: Path):
    before = snapshot(netns)
    out = realserver(netns, "down", "--state-file", str(tmp_path / "none.json")).stdout
    assert "nothing to undo" in out
    assert snapshot(netns) == before
