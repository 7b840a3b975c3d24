"""No signal an operator sends kills haipvs without its graceful path, and the graceful stop
removes the IPVS services haipvs owns unless --dont-release-ipvs (keepalived's -I).

keepalived 2.2.7: signals in keepalived/core/main.c `signal_init`/`signals_ignore` and
keepalived/vrrp/vrrp_daemon.c `vrrp_signal_init`; SIGJSON/SIGSTATS_CLEAR in lib/signals.h;
the IPVS release in keepalived/check/check_daemon.c `checker_terminate_phase1` (skipped under
DONT_RELEASE_IPVS_BIT, set by `-I`/`--dont-release-ipvs`) -> ipwrapper.c `clear_services`.
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import trio

from haipvs import daemon_control, daemon_signals
from haipvs.cli import build_parser
from haipvs.ipvs.model import (
    Destination,
    IpvsTable,
    Service,
    ServiceKey,
    SyncDaemonConfig,
    SyncState,
)
from haipvs.ipvs.ownership import LEDGER_NAME, OwnershipLedger
from haipvs.ipvs.reconcile import Reconciler
from haipvs.statedump import STATS_NAME
from tests.ipvs.fake_ipvs_kernel import FakeIpvsKernel

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "haipvs.service"
WEB = ServiceKey.inet("tcp", "192.0.2.100", 80)
API = ServiceKey.inet("tcp", "192.0.2.100", 443)
FOREIGN = ServiceKey.inet("udp", "192.0.2.200", 53)
RS = Destination("198.51.100.10", 8080, weight=1)
SYNC = SyncDaemonConfig(SyncState.BACKUP, "eth0", 51)


def svc(key: ServiceKey) -> Service:
    return Service(key, "wrr", destinations=(RS,))


def test_keepalived_s_signal_numbers():
    # `keepalived --signum=JSON` and `--signum=STATS_CLEAR` print 36 and 63 (2.2.7, glibc).
    assert int(daemon_signals.SIGJSON) == 36
    assert int(daemon_signals.SIGSTATS_CLEAR) == 63


def test_cli_takes_keepalived_s_dont_release_ipvs_option():
    assert build_parser().parse_args(["-I"]).dont_release_ipvs is True
    assert build_parser().parse_args(["--dont-release-ipvs"]).dont_release_ipvs is True
    assert build_parser().parse_args([]).dont_release_ipvs is False


def test_unit_takes_options_from_etc_default_like_keepalived_s():
    # Debian's keepalived.service: EnvironmentFile=-/etc/default/keepalived and
    # `ExecStart=/usr/sbin/keepalived --dont-fork $DAEMON_ARGS`.
    lines = UNIT.read_text().splitlines()
    assert "EnvironmentFile=-/etc/default/haipvs" in lines
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    assert exec_start.endswith(" $DAEMON_ARGS")


def test_before_the_signal_task_no_signal_kills_and_a_stop_is_remembered():
    # A process of its own: the early dispositions are process-wide.
    program = textwrap.dedent("""
        import os, signal, time
        from haipvs import daemon_signals
        daemon_signals.install_early()
        for signum in daemon_signals.CONTROL_SIGNALS + (signal.SIGPIPE,):
            os.kill(os.getpid(), signum)
        assert daemon_signals.stop_pending() is None
        for signum in daemon_signals.STOP_SIGNALS:
            os.kill(os.getpid(), signum)
        for _ in range(500):  # bounded: 5 s
            if daemon_signals.stop_pending() is not None:
                break
            time.sleep(0.01)
        print(daemon_signals.stop_pending().name)
    """)
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True,
                            timeout=30, check=False,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "SIGTERM"


async def wait_for(predicate, what: str) -> None:
    """Poll until `predicate()` holds; bounded, so a lost signal fails instead of hanging."""
    with trio.move_on_after(10):
        while not predicate():
            await trio.sleep(0.01)
        return
    raise AssertionError(f"timed out waiting for {what}")


async def run_signal_task(daemon, body) -> list[int]:
    """handle_signals() in a task; `body()` sends the signals; returns the task's exit code(s)."""
    ready = trio.Event()
    result: list[int] = []

    async def run() -> None:
        result.append(await daemon_control.handle_signals(daemon, ready))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        await ready.wait()
        await body(result)
    return result


def fake_dumps(monkeypatch) -> list[str]:
    dumps: list[str] = []

    async def fake_dump(daemon):
        dumps.append("dump")

    monkeypatch.setattr(daemon_control, "dump_state", fake_dump)
    return dumps


async def test_the_signal_task_answers_each_signal_and_stops_on_quit(tmp_path, monkeypatch):
    dumps = fake_dumps(monkeypatch)
    daemon = SimpleNamespace(runtime=None, runtime_failed=False, stats_baseline=None,
                             state_dir=str(tmp_path))
    stats = tmp_path / STATS_NAME

    async def body(result: list[int]) -> None:
        os.kill(os.getpid(), signal.SIGUSR1)
        await wait_for(lambda: len(dumps) == 1, "the USR1 dump")
        os.kill(os.getpid(), daemon_signals.SIGJSON)
        await wait_for(lambda: len(dumps) == 2, "the SIGJSON dump")
        os.kill(os.getpid(), signal.SIGUSR2)
        await wait_for(stats.exists, "the USR2 stats file")
        stats.unlink()
        os.kill(os.getpid(), daemon_signals.SIGSTATS_CLEAR)
        await wait_for(stats.exists, "the SIGSTATS_CLEAR stats file")
        assert not result  # still listening
        os.kill(os.getpid(), signal.SIGQUIT)

    assert await run_signal_task(daemon, body) == [0]
    assert dumps == ["dump", "dump"]
    assert stats.read_text() == ""  # no VRRP runtime: no instances


async def test_release_removes_owned_services_keeps_foreign_and_empties_the_ledger(tmp_path):
    fake = FakeIpvsKernel(IpvsTable((svc(FOREIGN),)))
    ledger = tmp_path / LEDGER_NAME
    rec = Reconciler(transport_factory=fake.reopen, ownership=OwnershipLedger(ledger))
    try:
        rec.set_desired(IpvsTable((svc(WEB), svc(API))), sync_daemons=[SYNC])
        await rec.reconcile()
        assert set(fake.services) == {WEB, API, FOREIGN}
        assert list(fake.daemons.values()) == [SYNC]
        await rec.release(keep_services=False)
        assert set(fake.services) == {FOREIGN}
        assert not fake.daemons  # keepalived stops its sync daemons on stop too
        # A health change racing the stop does not bring a service back.
        rec.set_desired(IpvsTable((svc(WEB),)))
        await rec.reconcile()
        assert set(fake.services) == {FOREIGN}
    finally:
        rec.close()
    assert json.loads(ledger.read_text())["services"] == []


async def test_dont_release_ipvs_keeps_the_services_for_the_next_start_to_adopt(tmp_path):
    fake = FakeIpvsKernel(IpvsTable((svc(FOREIGN),)))
    ledger = tmp_path / LEDGER_NAME
    rec = Reconciler(transport_factory=fake.reopen, ownership=OwnershipLedger(ledger))
    try:
        rec.set_desired(IpvsTable((svc(WEB),)), sync_daemons=[SYNC])
        await rec.reconcile()
        await rec.release(keep_services=True)
        assert set(fake.services) == {WEB, FOREIGN}
        assert not fake.daemons  # check_daemon.c stops the sync daemons even under -I
    finally:
        rec.close()
    assert len(json.loads(ledger.read_text())["services"]) == 1  # WEB, adopted next start
    restarted = Reconciler(transport_factory=fake.reopen, ownership=OwnershipLedger(ledger))
    try:
        restarted.set_desired(IpvsTable((svc(API),)))  # WEB left the config meanwhile
        await restarted.reconcile()
        assert set(fake.services) == {API, FOREIGN}
    finally:
        restarted.close()


async def test_release_without_ipvs_in_the_kernel_does_not_block_the_stop(tmp_path):
    fake = FakeIpvsKernel(has_ipvs=False)
    rec = Reconciler(transport_factory=fake.reopen,
                     ownership=OwnershipLedger(tmp_path / LEDGER_NAME))
    try:
        rec.set_desired(IpvsTable((svc(WEB),)))
        await rec.release(keep_services=False)  # logs ipvs_release_failed, no exception
    finally:
        rec.close()


class RecordingReconciler:
    def __init__(self) -> None:
        self.calls: list[bool] = []
        self.state = "ok"

    async def release(self, *, keep_services: bool) -> None:
        self.calls.append(keep_services)


async def test_the_stop_path_releases_unless_told_not_to_or_after_a_crash():
    for release_ipvs, failed, expected in ((True, False, [False]), (False, False, [True]),
                                          (True, True, [])):
        rec = RecordingReconciler()
        daemon = SimpleNamespace(reconciler=rec, release_ipvs=release_ipvs,
                                 runtime_failed=failed,
                                 config=SimpleNamespace(virtual_servers=()))  # no omega
        await daemon_control.release_ipvs(daemon)
        assert rec.calls == expected, (release_ipvs, failed)


async def test_an_unwritable_state_dir_is_logged_not_fatal(tmp_path, monkeypatch):
    dumps = fake_dumps(monkeypatch)
    blocker = tmp_path / "file"
    blocker.write_text("")  # state_dir below a regular file: mkdir fails
    daemon = SimpleNamespace(runtime=None, runtime_failed=False, stats_baseline=None,
                             state_dir=str(blocker / "state"))

    async def body(result: list[int]) -> None:
        os.kill(os.getpid(), signal.SIGUSR2)
        # Signals are taken in order: the dump that follows proves USR2 was handled.
        os.kill(os.getpid(), signal.SIGUSR1)
        await wait_for(lambda: dumps == ["dump"], "the dump after USR2")
        assert not result  # still listening
        os.kill(os.getpid(), signal.SIGTERM)

    assert await run_signal_task(daemon, body) == [0]
