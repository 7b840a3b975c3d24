"""Acceptance: track_process (keepalived vrrp_track_process, core/track_process.c,
vrrp/vrrp_track.c) with keepalived 2.2.7 as the peer. haipvs tracks a sleeper with a unique
name that the test starts and kills by PID: killing it drops haipvs' priority (weight -60)
or puts it in FAULT (weight 0), and keepalived takes over; restarting it gives the VIP back
to haipvs. haipvs runs inside a network namespace, so this also covers opening the proc
connector from the initial one (haipvs/drivers/proc_watch.py). A third test gives keepalived
and haipvs the same vrrp_track_process blocks (name, path with initial/exact arguments,
quorum, quorum_max 0, delay) and checks that every step faults the same instances."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from haipvs.importer import import_keepalived
from integration.harness.requirements import keepalived_unavailable_reason
from integration.harness.wait import wait_until
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


# ---- the same vrrp_track_process blocks in keepalived 2.2.7 and in haipvs -----------------

KEEPALIVED = "/usr/sbin/keepalived"
# "(VI_4) entering FAULT state (...)" at start, "(VI_1) Entering FAULT STATE" later
STATE_LINE = re.compile(r"\((VI_\d)\):? [Ee]ntering (\w+) (?:STATE|state)")


class Programs:
    """Copies of sleep under unique names (their comm), each started with arguments and
    killed by PID."""

    def __init__(self, tmp_path: Path) -> None:
        tag = os.getpid() % 100000
        self.paths = {}
        for key in "abcdef":
            self.paths[key] = tmp_path / f"tp{key}{tag}"
            shutil.copy(shutil.which("sleep") or "/bin/sleep", self.paths[key])
        self.running: dict[tuple[str, tuple[str, ...]], list[subprocess.Popen]] = {}

    def start(self, key: str, *args: str) -> None:
        proc = subprocess.Popen([str(self.paths[key]), *args])
        self.running.setdefault((key, args), []).append(proc)

    def kill(self, key: str, *args: str) -> None:
        for proc in self.running.pop((key, args), []):
            proc.kill()
            proc.wait(5)

    def kill_all(self) -> None:
        for key, args in list(self.running):
            self.kill(key, *args)


def keepalived_conf(netns: str, programs: Programs, vrid_base: int) -> str:
    """Six instances, each tracking one vrrp_track_process with weight 0 (FAULT without
    quorum): by name, by path with an `initial` argument, by path with exact arguments,
    with quorum 2, with quorum_max 0 (held while none runs), and with a 1.5 s delay."""
    p = programs.paths
    blocks = {
        "a": [f"process {p['a'].name}"],
        "b": [f"process {p['b']} 30", "param_match initial"],
        "c": [f"process {p['c']} 300"],
        "d": [f"process {p['d'].name}", "quorum 2"],
        "e": [f"process {p['e'].name}", "quorum_max 0"],
        "f": [f"process {p['f'].name}", "delay 1.5"],
    }
    lines = [f"net_namespace {netns}", "global_defs {", "    router_id ka-tp", "}"]
    for key, body in blocks.items():
        lines += [f"vrrp_track_process proc_{key} {{", *(f"    {b}" for b in body),
                  "    weight 0", "}"]
    for i, key in enumerate(blocks, 1):
        lines += [f"vrrp_instance VI_{i} {{", "    interface eth0",
                  f"    virtual_router_id {vrid_base + i}", "    priority 100",
                  "    advert_int 1", "    virtual_ipaddress {",
                  f"        198.51.100.{vrid_base + i}/24", "    }",
                  "    track_process {", f"        proc_{key}", "    }", "}"]
    return "\n".join(lines) + "\n"


def keepalived_faults(log: Path) -> set[str]:
    states: dict[str, str] = {}
    for name, state in STATE_LINE.findall(log.read_text(errors="replace")):
        states[name] = state
    return {name for name, state in states.items() if state == "FAULT"}


def test_same_blocks_same_faults_as_keepalived(lan, ops_node, tmp_path):
    """keepalived runs from the initial namespace with `net_namespace` (so its proc
    connector works, track_process.c nl_connect before it enters the namespace); haipvs
    gets the blocks through `haipvs import-keepalived`. Each step must fault the same
    instances in both."""
    programs = Programs(tmp_path)
    d1, k1 = lan.add_node("d1"), lan.add_node("k1")
    conf = tmp_path / "keepalived.conf"
    conf.write_text(keepalived_conf(k1.netns.name, programs, 70))
    # haipvs' copy: the same blocks, imported (the net_namespace line is the harness's)
    mine = tmp_path / "import.conf"
    mine.write_text("\n".join(conf.read_text().splitlines()[1:]) + "\n")
    imported = json.loads(json.dumps(import_keepalived(mine).document))  # plain dicts
    programs.start("a", "600")
    programs.start("b", "300")
    programs.start("c", "300")
    programs.start("d", "600")
    programs.start("f", "600")
    log = tmp_path / "keepalived.log"
    keepalived = None
    try:
        with log.open("wb") as out:
            keepalived = subprocess.Popen(
                [KEEPALIVED, "-n", "-l", "-D", "-f", str(conf), "-p",
                 str(tmp_path / "k.pid"), "-r", str(tmp_path / "v.pid")],
                stdout=out, stderr=subprocess.STDOUT)
        instances = [FAST.but(name=f"VI_{i}", vrid=80 + i, vips=(f"198.51.100.{80 + i}/24",))
                     for i in range(1, 7)]
        haipvs = ops_node(d1, *instances,
                          top={"vrrp_track_processes": imported["vrrp_track_processes"]},
                          per_instance={i["name"]: {"track_process": i["track_process"]}
                                        for i in imported["vrrp_instances"]})

        def both(expected: set[str]) -> None:
            def haipvs_faults() -> set[str]:
                return {i.name for i in instances
                        if haipvs.instance_dump(i.name)["state"] == "FAULT"}
            wait_until(lambda: keepalived_faults(log) == expected
                       and haipvs_faults() == expected, 10,
                       what=f"FAULT in exactly {sorted(expected)}",
                       describe=lambda: f"keepalived {sorted(keepalived_faults(log))}, "
                       f"haipvs {sorted(haipvs_faults())}")

        # d: one process, quorum 2
        both({"VI_4"})
        programs.kill("a", "600")  # by name: gone
        programs.start("d", "600")  # quorum 2 reached
        programs.start("e", "600")  # quorum_max 0: one is too many
        programs.kill("c", "300")
        programs.start("c", "300", "x")  # exact: an extra argument does not match
        programs.kill("b", "300")
        programs.start("b", "3000")  # initial: "30" starts "3000"
        both({"VI_1", "VI_3", "VI_5"})
        programs.start("a", "600", "1")  # by name: any arguments
        programs.kill("e", "600")
        programs.start("c", "300")
        both(set())
        programs.kill("f", "600")  # restarted within terminate_delay: never told
        programs.start("f", "601")
        time.sleep(2.5)
        both(set())
        assert "Quorum lost for tracked process proc_f" not in log.read_text()
        assert not [e for e in haipvs.log_events() if e.get("process") == "proc_f"
                    and e.get("event") == "track_process_quorum_lost"]
        programs.kill("f", "601")
        both({"VI_6"})
    finally:
        if keepalived is not None:
            keepalived.terminate()
            try:
                keepalived.wait(10)
            except subprocess.TimeoutExpired:
                keepalived.kill()
                keepalived.wait(5)
        programs.kill_all()


def test_reload_adds_and_removes_a_tracked_process(lan, ops_node, sleeper):
    """A SIGHUP that adds a weight-0 track_process whose process is not running puts the
    MASTER in FAULT; one that removes it (or starts the process) brings it back."""
    d1 = lan.add_node("d1")
    daemon = ops_node(d1, VI_1.but(priority=150))
    daemon.wait_state("MASTER", 8)
    sleeper.kill()
    daemon.top = {"vrrp_track_processes": [{"name": "app", "process": sleeper.name,
                                            "weight": 0}]}
    daemon.per_instance = {"VI_1": {"track_process": ["app"]}}
    daemon.write_config(list(daemon.instances.values()))
    daemon.reload()
    daemon.wait_state("FAULT", TAKEOVER)
    sleeper.start()  # the running watcher sees it
    daemon.wait_state("MASTER", TAKEOVER)
    sleeper.kill()
    daemon.wait_state("FAULT", TAKEOVER)
    daemon.per_instance = {}
    daemon.write_config(list(daemon.instances.values()))
    daemon.reload()
    daemon.wait_state("MASTER", TAKEOVER)
    assert daemon.dump()["trackers"]["processes"]["processes"]["app"]["users"] == {}
