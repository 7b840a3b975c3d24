"""Acceptance: notify scripts run in order, exactly once per transition, never overlapping,
with a clean environment, through a flapping instance; the FIFO and the JSON event log carry
the same sequence."""

import contextlib
import os
import stat

import pytest

from integration.harness.wait import wait_until
from integration.test_ops_support import (  # noqa: F401 - the fixture is used by name
    FAST,
    ops_node_fixture,
    read_json_lines,
)

pytestmark = pytest.mark.netns

VI_1 = FAST.but(name="VI_1", vrid=51, vips=("192.0.2.100/24",))
CYCLES = 3  # MASTER -> FAULT -> BACKUP -> MASTER each; with start and stop: 12 transitions


def state_script(log, state):
    # A slow script: if two ran at once their start/end lines would interleave.
    return ["/bin/sh", "-c", f"echo start {state} >> {log}; sleep 0.05; echo end {state} >> {log}"]


def test_flapping_instance_runs_each_notify_once_in_order(lan, ops_node, tmp_path):
    node = lan.add_node("d1")
    log = tmp_path / "notify.log"
    env_dump = tmp_path / "notify.env"
    fifo = tmp_path / "events.fifo"
    events = tmp_path / "events.jsonl"
    fault = tmp_path / "fault"
    fault.write_text("0")
    scripts = {f"notify_{s.lower()}": state_script(log, s) for s in ("MASTER", "BACKUP", "FAULT")}
    scripts["notify_stop"] = ["/bin/sh", "-c", f"env > {env_dump}; echo start STOP >> {log}; "
                              f"echo end STOP >> {log}"]
    scripts["notify"] = ["/bin/sh", "-c", f'echo "generic $1 $2 $3 $4" >> {log}', "notify"]
    daemon = ops_node(
        node, VI_1.but(priority=100),
        top={"global": {"notify_fifo": str(fifo), "event_log": str(events)},
             "vrrp_track_files": [{"name": "fault", "file": str(fault), "weight": 0}]},
        per_instance={"VI_1": {**scripts, "track_file": ["fault"]}},
        env={"NOTIFY_SOCKET": str(tmp_path / "no-such-socket"), "SECRET_TOKEN": "x"},
    )
    wait_until(lambda: fifo.exists() and stat.S_ISFIFO(fifo.stat().st_mode), 10,
               what="the daemon to create its notify FIFO", describe=daemon.describe)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        daemon.wait_state("MASTER", 8)
        for _ in range(CYCLES):
            fault.write_text("1")
            daemon.wait_state("FAULT", 4)
            fault.write_text("0")
            daemon.wait_state("MASTER", 4)
        assert daemon.stop() == 0
        with contextlib.suppress(BlockingIOError):
            fifo_lines = os.read(reader, 65536).decode().splitlines()
    finally:
        os.close(reader)

    transitions = [e for e in read_json_lines(events) if e["kind"] == "vrrp_transition"]
    states = [e["to"] for e in transitions]
    assert states == ["BACKUP", "MASTER"] + ["FAULT", "BACKUP", "MASTER"] * CYCLES + ["STOP"]
    assert fifo_lines == [f'INSTANCE "VI_1" {e["to"]} {e["priority"]}' for e in transitions]

    expected = []
    for e in transitions:
        expected += [f"start {e['to']}", f"end {e['to']}",
                     f"generic INSTANCE VI_1 {e['to']} {e['priority']}"]
    assert log.read_text().splitlines() == expected

    env = dict(line.split("=", 1) for line in env_dump.read_text().splitlines() if "=" in line)
    assert "NOTIFY_SOCKET" not in env and "SECRET_TOKEN" not in env
    assert env["HAIPVS_NAME"] == "VI_1" and env["HAIPVS_STATE"] == "STOP"


def test_a_slow_notify_stop_finishes_and_the_daemon_exits_cleanly(lan, ops_node, tmp_path):
    """Regression: the VRRP thread ends during the stop drain; the runtime watcher took that
    for a crash and sent SIGTERM to its own process, whose handler was already gone, so the
    daemon died by signal (exit -15) and the stop script's work was cut short."""
    node = lan.add_node("d1")
    done = tmp_path / "stop.done"
    # Longer than the watcher's 0.5 s poll, so it always wakes during the drain.
    slow_stop = ["/bin/sh", "-c", f"sleep 1.2; echo done > {done}"]
    daemon = ops_node(node, VI_1.but(priority=100),
                      per_instance={"VI_1": {"notify_stop": slow_stop}})
    daemon.wait_state("MASTER", 8)
    assert daemon.stop() == 0
    assert done.read_text() == "done\n"
    assert daemon.count_log("vrrp_runtime_died") == 0
