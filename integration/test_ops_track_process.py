"""Acceptance: track_process (keepalived vrrp_track_process, core/track_process.c,
vrrp/vrrp_track.c) with keepalived 2.2.7 as the peer. haipvs tracks a sleeper with a unique
name that the test starts and kills by PID: killing it drops haipvs' priority (weight -60)
or puts it in FAULT (weight 0), and keepalived takes over; restarting it gives the VIP back
to haipvs. haipvs runs inside a network namespace, so this also covers opening the proc
connector from the initial one (haipvs/drivers/proc_watch.py)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from integration.harness.requirements import keepalived_unavailable_reason
from integration.test_ops_support import FAST, ops_node_fixture  # noqa: F401 - fixture

pytestmark = [
    pytest.mark.netns,
    pytest.mark.keepalived,
    pytest.mark.skipif(keepalived_unavailable_reason() is not None,
                       reason=keepalived_unavailable_reason() or ""),
]

VI_1 = FAST.but(name="VI_1", vrid=61, vips=("192.0.2.100/24",))
TAKEOVER = 4.0  # generous for a loaded 2-core machine: Master_Down at 0.2 s adverts ~0.7 s


class Sleeper:
    """A copy of sleep under a unique name (its comm), started and killed by PID."""

    def __init__(self, tmp_path: Path) -> None:
        self.binary = tmp_path / f"hptp{os.getpid() % 100000}"
        shutil.copy(shutil.which("sleep") or "/bin/sleep", self.binary)
        self.procs: list[subprocess.Popen] = []

    @property
    def name(self) -> str:
        return self.binary.name

    def start(self) -> None:
        self.procs.append(subprocess.Popen([str(self.binary), "120"]))

    def kill(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(5)


@pytest.fixture
def sleeper(tmp_path):
    s = Sleeper(tmp_path)
    s.start()
    yield s
    s.kill()


def pair(lan, ops_node, keepalived_node, sleeper, weight):
    d1, k1 = lan.add_node("d1"), lan.add_node("k1")
    high = ops_node(d1, VI_1.but(priority=150),
                    top={"vrrp_track_processes": [{"name": "app", "process": sleeper.name,
                                                   "weight": weight}]},
                    per_instance={"VI_1": {"track_process": ["app"]}})
    peer = keepalived_node(k1, VI_1.but(priority=120))
    high.wait_state("MASTER", 8)
    peer.wait_state("BACKUP", 4)
    return high, peer


def test_kill_tracked_process_lowers_priority_and_keepalived_takes_over(
        lan, ops_node, keepalived_node, sleeper):
    high, peer = pair(lan, ops_node, keepalived_node, sleeper, weight=-60)
    processes = high.dump()["trackers"]["processes"]
    assert processes["mode"] == "events"  # the proc connector, opened in the initial netns
    assert processes["processes"]["app"]["count"] == 1

    sleeper.kill()
    high.wait_priority(90, TAKEOVER)
    peer.wait_state("MASTER", TAKEOVER)
    high.wait_state("BACKUP", TAKEOVER)
    assert peer.has_vip() and not high.has_vip()

    sleeper.start()
    high.wait_priority(150, TAKEOVER)
    high.wait_state("MASTER", TAKEOVER)
    peer.wait_state("BACKUP", TAKEOVER)
    assert high.has_vip()


def test_weight_zero_tracked_process_exit_is_fault_and_restart_takes_back(
        lan, ops_node, keepalived_node, sleeper):
    high, peer = pair(lan, ops_node, keepalived_node, sleeper, weight=0)

    sleeper.kill()
    high.wait_state("FAULT", TAKEOVER)
    peer.wait_state("MASTER", TAKEOVER)
    reasons = high.instance_dump()["fault_reasons"]
    assert reasons == {"track_process:app": "track_process app: quorum lost"}

    sleeper.start()
    high.wait_state("MASTER", TAKEOVER)
    peer.wait_state("BACKUP", TAKEOVER)
