"""track_process's driver (haipvs/drivers/proc_watch.py) against the real kernel: a sleeper
with a unique name that the test owns (by PID) is started and killed; the watcher sees it
through the proc connector (keepalived core/track_process.c) and, with the connector taken
away, by polling /proc. Needs root (the proc connector)."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import trio

from haipvs.config.loader import load_config_text
from haipvs.drivers import proc_watch
from haipvs.drivers.proc_watch import ProcWatch, decode, read_info
from haipvs.policy.process_track import Exit

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the proc connector needs root")


def config_for(comm: str, **entry) -> object:
    text = f"""
global: {{}}
vrrp_track_processes:
  - {{name: p, process: {comm}, weight: 0{''.join(f', {k}: {v}' for k, v in entry.items())}}}
vrrp_instances:
  - name: VI_1
    interface: eth0
    virtual_router_id: 51
    priority: 100
    virtual_ipaddress: [192.0.2.1/24]
    track_process: [p]
"""
    return load_config_text(text, "test.yaml")


@pytest.fixture
def sleeper_bin(tmp_path: Path) -> Path:
    # a copy of sleep with a unique comm (the file name, 15 characters at most)
    path = tmp_path / f"hpvs{os.getpid() % 100000}slp"
    shutil.copy(shutil.which("sleep") or "/bin/sleep", path)
    return path


def start(binary: Path) -> subprocess.Popen:
    return subprocess.Popen([str(binary), "60"])


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.wait(5)


def test_read_info_reads_comm_and_cmdline_of_a_running_process(sleeper_bin):
    proc = start(sleeper_bin)
    try:
        time.sleep(0.1)
        info = read_info(proc.pid, cmdline=True)
        assert info is not None and info.comm == sleeper_bin.name
        assert info.cmdline == f"{sleeper_bin}\0" "60\0".encode()
        assert info.ppid == os.getpid()
    finally:
        stop(proc)


def test_decode_ignores_short_and_foreign_messages():
    assert decode(b"", cmdline=False) is None
    assert decode(bytes(80), cmdline=False) is None  # idx 0: not CN_IDX_PROC


async def _wait(cond, timeout: float) -> float:
    started = trio.current_time()
    with trio.fail_after(timeout):
        while not cond():
            await trio.sleep(0.005)
    return trio.current_time() - started


@pytest.mark.parametrize("mode", ["events", "poll"])
def test_kill_loses_quorum_and_restart_regains_it(sleeper_bin, monkeypatch, mode):
    if mode == "poll":
        def refused():
            raise OSError(111, "connector taken away by the test")
        monkeypatch.setattr(proc_watch, "open_connector", refused)
    told: list[tuple[str, str | None]] = []

    def publish(instance, source, *, delta=0, fault=None):
        told.append((instance, fault))

    config = config_for(sleeper_bin.name)
    proc = start(sleeper_bin)
    procs = [proc]

    async def main():
        watch = ProcWatch(config, publish)
        time.sleep(0.05)
        watch.preset(publish)  # at start: the process runs, no fault
        assert told == [("VI_1", None)]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch.run)
            await _wait(lambda: watch.mode == mode, 5)
            await trio.sleep(0.2)
            proc.kill()
            seen = await _wait(lambda: told[-1][1] is not None, 5)
            assert told[-1] == ("VI_1", "track_process p: quorum lost")
            again = start(sleeper_bin)
            procs.append(again)
            await _wait(lambda: told[-1][1] is None, 5)
            assert watch.snapshot()["processes"]["p"]["count"] == 1
            nursery.cancel_scope.cancel()
        if mode == "events":
            assert seen < 0.5  # the exit event, not a poll
    try:
        trio.run(main)
    finally:
        for p in procs:
            stop(p)


def test_terminate_delay_restart_in_time_is_never_told(sleeper_bin):
    told: list[str | None] = []
    config = config_for(sleeper_bin.name, terminate_delay=1.0)
    proc = start(sleeper_bin)
    procs = [proc]

    async def main():
        watch = ProcWatch(config, lambda i, s, *, delta=0, fault=None: told.append(fault))
        time.sleep(0.05)
        watch.preset(watch._publish)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch.run)
            await _wait(lambda: watch.mode != "off", 5)
            await trio.sleep(0.2)
            proc.kill()
            await trio.sleep(0.2)
            procs.append(start(sleeper_bin))
            await trio.sleep(1.5)
            assert all(f is None for f in told)
            nursery.cancel_scope.cancel()
    try:
        trio.run(main)
    finally:
        for p in procs:
            stop(p)


def test_exit_event_is_decoded_for_a_process_not_a_thread():
    import struct

    msg = bytearray(proc_watch._DATA + 24)
    struct.pack_into("=IIIIHH", msg, 16, 1, 1, 0, 0, 40, 0)
    struct.pack_into("=IIQ", msg, 36, proc_watch.PROC_EVENT_EXIT, 0, 0)
    struct.pack_into("=ii", msg, proc_watch._DATA, 42, 42)
    assert decode(bytes(msg), cmdline=False) == Exit(42)
    struct.pack_into("=ii", msg, proc_watch._DATA, 43, 42)  # a thread of 42
    assert decode(bytes(msg), cmdline=False) is None


def test_reload_clears_a_removed_use_and_rescans_a_changed_entry(sleeper_bin):
    told: list[tuple[str, str | None]] = []

    def publish(instance, source, *, delta=0, fault=None):
        told.append((instance, fault))

    watch = ProcWatch(config_for("hpvs-none-such"), publish)
    watch.preset(publish)
    assert told == [("VI_1", "track_process p: quorum lost")]  # nothing of that name runs
    proc = start(sleeper_bin)
    try:
        time.sleep(0.1)
        told.clear()
        watch.update(config_for(sleeper_bin.name))  # the entry changed: walked again
        assert told == [("VI_1", None)] and watch.table.count("p") == 1
        told.clear()
        no_ref = load_config_text(
            "global: {}\nvrrp_track_processes: [{name: p, process: x}]\n"
            "vrrp_instances: [{name: VI_1, interface: eth0, virtual_router_id: 51, "
            "priority: 100, virtual_ipaddress: [192.0.2.1/24]}]\n", "t.yaml")
        watch.update(no_ref)  # VI_1 no longer tracks it: its contribution is cleared
        assert told == [("VI_1", None)] and watch.users == {"p": {}}
    finally:
        stop(proc)
