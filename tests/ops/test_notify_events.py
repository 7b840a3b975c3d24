"""Event stream lines and files, notify script runner: order, one at a time, timeout, clean
environment, keepalived argument order."""

import json
import os
import stat

import trio

from haipvs.config.model import SyncGroup
from haipvs.events import (
    GroupTransition,
    QuorumEvent,
    RealServerChange,
    VirtualService,
    VrrpTransition,
)
from haipvs.notify import (
    EventStream,
    NotifyRunner,
    fifo_line,
    run_script,
    script_environment,
    transition_scripts,
)
from haipvs.vrrp.messages import State


def vrrp(state: State, priority: int = 100, instance: str = "VI_1") -> VrrpTransition:
    return VrrpTransition(instance=instance, old=State.BACKUP, new=state, reason="test",
                          priority=priority, at=1.5)


WEB = VirtualService(6, "192.0.2.100", 80)


def realserver(up: bool) -> RealServerChange:
    return RealServerChange(service="TCP 192.0.2.100:80", real_server="198.51.100.2:80",
                            up=up, weight=1, reason="", at=2.0, virtual=WEB,
                            rs_address="198.51.100.2", rs_port=80, up_changed=True)


def test_fifo_lines_use_keepalived_format():
    assert fifo_line(vrrp(State.MASTER, 150)) == 'INSTANCE "VI_1" MASTER 150'
    assert fifo_line(GroupTransition(group="G1", old=State.MASTER, new=State.FAULT, at=0.0)
                     ) == 'GROUP "G1" FAULT 0'
    # More kinds, byte for byte against keepalived's formats: tests/test_notify_fifo_format.py
    assert fifo_line(realserver(False)) == "RS [198.51.100.2]:tcp:80 [192.0.2.100]:tcp:80 DOWN"
    assert fifo_line(QuorumEvent(service="s", up=True, weight=3, initial=False, at=0.0,
                                 virtual=WEB)) == "VS [192.0.2.100]:tcp:80 UP"


def test_event_stream_writes_fifo_and_json_in_order(tmp_path):
    fifo, log = tmp_path / "run" / "notify.fifo", tmp_path / "events.jsonl"
    stream = EventStream(str(fifo), str(log))
    stream.open()
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert stat.S_ISFIFO(fifo.stat().st_mode)
        events = [vrrp(State.BACKUP), vrrp(State.MASTER), vrrp(State.FAULT), realserver(True)]
        for event in events:
            stream.write(event)
        lines = os.read(reader, 65536).decode().splitlines()
    finally:
        os.close(reader)
        stream.close()
    assert lines == ['INSTANCE "VI_1" BACKUP 100', 'INSTANCE "VI_1" MASTER 100',
                     'INSTANCE "VI_1" FAULT 100',
                     "RS [198.51.100.2]:tcp:80 [192.0.2.100]:tcp:80 UP"]
    assert [json.loads(line) for line in log.read_text().splitlines()] == [
        event.as_record() for event in events]
    assert json.loads(log.read_text().splitlines()[0]) == {
        "kind": "vrrp_transition", "instance": "VI_1", "from": "BACKUP", "to": "BACKUP",
        "reason": "test", "priority": 100, "at": 1.5}


def test_event_stream_never_blocks_on_a_full_fifo(tmp_path):
    stream = EventStream(str(tmp_path / "f"))
    stream.open()
    try:
        event = vrrp(State.MASTER, instance="X" * 200)
        for _ in range(2000):  # far more than a pipe holds; nobody reads
            stream.write(event)
        assert stream.dropped > 0 and stream.written > 0
    finally:
        stream.close()


def test_transition_scripts_order_and_arguments():
    group = SyncGroup(name="G1", group=("VI_1",), notify_master=("/bin/m", "x"),
                      notify=("/bin/n",))
    assert transition_scripts(group, "GROUP", "G1", "MASTER", 0) == [
        ("/bin/m", "x"), ("/bin/n", "GROUP", "G1", "MASTER", "0")]
    assert transition_scripts(group, "GROUP", "G1", "FAULT", 0) == [
        ("/bin/n", "GROUP", "G1", "FAULT", "0")]


def test_script_environment_is_clean(monkeypatch):
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/systemd/notify")
    env = script_environment({"HAIPVS_STATE": "MASTER"})
    assert set(env) == {"PATH", "LANG", "HAIPVS_STATE"}


async def test_run_script_times_out_and_kills():
    with trio.fail_after(5):
        code, detail = await run_script(["/bin/sleep", "30"], 0.2)
    assert code is None and "timeout" in detail
    code, detail = await run_script(["/nonexistent/script"], 1)
    assert code is None and "cannot run" in detail
    code, _ = await run_script(["/bin/sh", "-c", "exit 3"], 1)
    assert code == 3


async def test_runner_serialises_per_owner_and_keeps_order(tmp_path):
    log = tmp_path / "log"
    runner = NotifyRunner(timeout=5)

    def script(tag):
        return ("/bin/sh", "-c", f"echo start {tag} >> {log}; sleep 0.02; echo end {tag} >> {log}")

    async with trio.open_nursery() as nursery:
        await nursery.start(runner.run)
        for i in range(6):
            runner.submit("instance:VI_1", [script(f"a{i}"), script(f"b{i}")], {})
        with trio.fail_after(10):
            await runner.wait_idle()
        nursery.cancel_scope.cancel()
    expected = []
    for i in range(6):
        expected += [f"start a{i}", f"end a{i}", f"start b{i}", f"end b{i}"]
    assert log.read_text().splitlines() == expected
    assert runner.runs == 12 and runner.failures == 0
