"""Acceptance: a fake NOTIFY_SOCKET receives READY=1 with STATUS, RELOADING=1/READY=1 around a
reload, WATCHDOG=1 pings that stop while the VRRP loop is blocked (by the test launcher
integration/harness/blocking_daemon.py) and come back, and STOPPING=1; /metrics shows the
right series after a failover."""

import itertools
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from integration.harness.blocking_daemon import FREEZE_SIGNAL
from integration.harness.proc import Proc
from integration.harness.wait import wait_until
from integration.test_ops_support import (  # noqa: F401 - the fixture is used by name
    FAST,
    OpsNode,
    metric_value,
    ops_node_fixture,
    scrape,
)

pytestmark = pytest.mark.netns

VI_1 = FAST.but(name="VI_1", vrid=51, vips=("192.0.2.100/24",))
BLOCK_SECONDS = 4.0
WATCHDOG_USEC = 400_000  # the daemon pings every 0.2 s
REPO = Path(__file__).resolve().parents[1]


def start_blocking(daemon: OpsNode) -> OpsNode:
    """Start `daemon` under the blocking launcher: FREEZE_SIGNAL (SIGURG) freezes its VRRP
    loop."""
    argv = [sys.executable, "-m", "integration.harness.blocking_daemon", str(BLOCK_SECONDS),
            "--", "--config", str(daemon.conf_path), "--state-dir", str(daemon.state_dir),
            "--pid-file", str(daemon.pid_path), "--log-format", "json"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(REPO),
           **(daemon.env or {})}
    daemon.runs += 1
    daemon.proc = Proc(daemon.node.netns, argv, daemon.log_path,
                       name=f"haipvs-{daemon.node.name}", env=env)
    return daemon


class NotifyListener:
    """A unix datagram socket standing in for systemd's notify socket."""

    def __init__(self, path) -> None:
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages: list[tuple[float, list[str]]] = []
        self._stop = False
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop:
            try:
                data = self.sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            self.messages.append((time.monotonic(), data.decode().split("\n")))

    def fields(self) -> list[str]:
        return [field for _, fields in list(self.messages) for field in fields]

    def times_of(self, field: str) -> list[float]:
        return [ts for ts, fields in list(self.messages) if field in fields]

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


def test_sd_notify_ready_reload_watchdog_stopping(lan, ops_node, tmp_path):
    node = lan.add_node("d1")
    listener = NotifyListener(tmp_path / "notify.sock")
    try:
        daemon = start_blocking(ops_node(node, VI_1, run=False, env={
            "NOTIFY_SOCKET": listener.path, "WATCHDOG_USEC": str(WATCHDOG_USEC)}))
        wait_until(lambda: "READY=1" in listener.fields(), 10, what="READY=1",
                   describe=daemon.describe)
        first = next(f for _, fields in listener.messages if "READY=1" in fields for f in fields
                     if f.startswith("STATUS="))
        assert first.startswith("STATUS=VI_1 ") and "IPVS unavailable" in first
        daemon.wait_state("MASTER", 8)
        wait_until(lambda: any(f == "STATUS=VI_1 MASTER; IPVS unavailable, 0 services"
                               for f in listener.fields()), 3, what="STATUS with MASTER")

        # Reload: RELOADING=1, then READY=1 again.
        readies = len(listener.times_of("READY=1"))
        daemon.write_config([VI_1.but(priority=120)])
        daemon.reload()
        wait_until(lambda: len(listener.times_of("READY=1")) > readies, 5, what="READY again")
        reloading = listener.times_of("RELOADING=1")
        assert reloading and reloading[-1] <= listener.times_of("READY=1")[-1]

        # Watchdog: steady pings, none while the VRRP loop is frozen, then pings again.
        wait_until(lambda: len(listener.times_of("WATCHDOG=1")) >= 5, 3, what="pings")
        blocked_at = time.monotonic()
        daemon.proc.signal(FREEZE_SIGNAL)  # the launcher freezes the VRRP loop
        daemon.wait_log("test_hook_blocking_vrrp_loop", 3)
        wait_until(lambda: any(t > blocked_at + BLOCK_SECONDS + 0.2
                               for t in listener.times_of("WATCHDOG=1")),
                   BLOCK_SECONDS + 5, what="pings after the VRRP loop unblocks")
        pings = listener.times_of("WATCHDOG=1")
        gaps = [b - a for a, b in itertools.pairwise(pings) if b > blocked_at]
        # Pings go on until the heartbeat is 2 s old (HEARTBEAT_STALE_AFTER), then stop
        # until the loop runs again.
        assert max(gaps) >= BLOCK_SECONDS - 2.5, f"pings never stopped: {gaps}"
        assert daemon.count_log("watchdog_withheld") >= 1
        before = [b - a for a, b in itertools.pairwise(pings) if b < blocked_at]
        assert max(before) < 1.0, f"pings were not steady before: {before}"

        assert daemon.stop() == 0
        assert "STOPPING=1" in listener.fields()
    finally:
        listener.close()


def test_metrics_after_failover(lan, ops_node):
    d1, d2 = lan.add_node("d1"), lan.add_node("d2")
    port = 19650
    top = {"global": {"metrics_listen": f"127.0.0.1:{port}"}}
    high = ops_node(d1, VI_1.but(priority=150), top=top)
    # Start the backup only once the master is up; otherwise a slow start of d1 lets d2
    # win Master_Down first and the transition count depends on who booted faster.
    high.wait_state("MASTER", 8)
    low = ops_node(d2, VI_1.but(priority=100), top=top)
    low.wait_state("BACKUP", 2)
    high.stop()  # resigns with priority 0
    low.wait_state("MASTER", 3)

    def settled() -> str | None:
        text = scrape(d2, port)
        master = metric_value(text, 'haipvs_vrrp_state{instance="VI_1",state="MASTER"}')
        return text if master == 1.0 else None

    text = wait_until(settled, 5, what="metrics to show MASTER", describe=low.describe)
    dump = low.instance_dump()
    assert metric_value(text, 'haipvs_vrrp_state{instance="VI_1",state="BACKUP"}') == 0.0
    assert metric_value(text, 'haipvs_vrrp_priority{instance="VI_1"}') == 100.0
    # INIT->BACKUP at start and BACKUP->MASTER on the resignation; the log must agree.
    assert metric_value(text, 'haipvs_vrrp_transitions_total{instance="VI_1"}') == 2.0
    assert low.count_log("vrrp_transition") == 2
    received = metric_value(text, 'haipvs_vrrp_adverts_received_total{instance="VI_1"}')
    assert received is not None and received >= 1  # the old master's adverts, incl. prio 0
    assert received <= dump["counters"]["adverts_received"]
    sent = metric_value(text, 'haipvs_vrrp_adverts_sent_total{instance="VI_1"}')
    assert sent is not None and 1 <= sent <= dump["counters"]["adverts_sent"]
    assert metric_value(text, 'haipvs_ipvs_status{status="unavailable"}') == 1.0
    assert metric_value(text, "haipvs_vrrp_timer_lateness_seconds_count") >= 1
