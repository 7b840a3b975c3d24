"""Acceptance (issue 14, item 1): every signal an operator sends a running MASTER either
leaves it running (HUP, USR1, USR2, SIGJSON, SIGSTATS_CLEAR: still MASTER, VIP held, the
file written) or stops it through the graceful path (TERM, INT, QUIT: a priority-0 advert on
the wire, the VIP removed, exit 0). `haipvs.stats` matches the example in docs/operations.md,
and its keepalived block matches the /tmp/keepalived.stats a keepalived 2.2.7 peer writes on
the same LAN; that peer also counts our priority-0 advert when we stop.

keepalived 2.2.7 is the reference: keepalived/core/main.c `signal_init`, vrrp_daemon.c
`vrrp_signal_init`, lib/signals.h (SIGJSON = SIGRTMIN+2, SIGSTATS_CLEAR = SIGRTMAX-1)."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

import pytest

from haipvs.daemon_signals import SIGJSON, SIGSTATS_CLEAR
from integration.harness.fixtures import Daemons
from integration.harness.keepalived import KeepalivedNode, keepalived_binary
from integration.harness.proc import Proc
from integration.harness.requirements import keepalived_unavailable_reason
from integration.harness.wait import wait_until
from integration.test_ops_support import (  # noqa: F401 - the fixture is used by name
    FAST,
    OpsNode,
    ops_node_fixture,
)

pytestmark = pytest.mark.netns

VIP = "192.0.2.100"
VI_1 = FAST.but(name="VI_1", vrid=51, vips=(f"{VIP}/24",), priority=150)
DOCS = Path(__file__).resolve().parents[1] / "docs" / "operations.md"


def documented_stats() -> str:
    doc = DOCS.read_text()
    section = doc[doc.index("### Statistics (`haipvs.stats`, SIGUSR2)"):]
    return section.split("```\n", 2)[1]


def shape(text: str) -> list[str]:
    """The lines with every count replaced, so a live file compares with the example."""
    return [re.sub(r": \d+$", ": N", line) for line in text.splitlines()]


def counts(text: str, block: str) -> dict[str, int]:
    """`Received`/`Sent` under one sub-heading of the first instance ("Advertisements:")."""
    lines = text.splitlines()
    at = lines.index(f"  {block}:")
    found = {}
    for line in lines[at + 1:]:
        if not line.startswith("    "):
            break
        key, _, value = line.strip().partition(": ")
        found[key] = int(value)
    return found


def running_master(daemon: OpsNode) -> None:
    assert daemon.alive, daemon.describe()
    assert daemon.state() == "MASTER"
    assert daemon.has_vip(VIP)


def send_and_wait_log(daemon: OpsNode, signum: int, event: str) -> None:
    before = daemon.count_log(event)
    daemon.proc.signal(signum)
    daemon.wait_log(event, 5, since_count=before)


def test_control_signals_leave_a_master_running_and_write_their_files(lan, ops_node, sniffer):
    node = lan.add_node("d1")
    daemon = ops_node(node, VI_1)
    daemon.wait_state("MASTER", 8)
    started = time.time()

    send_and_wait_log(daemon, signal.SIGHUP, "reload_unchanged")
    running_master(daemon)

    for signum in (signal.SIGUSR1, SIGJSON):
        asked = time.time()
        send_and_wait_log(daemon, signum, "state_dumped")
        dump = json.loads(daemon.dump_path.read_text())
        assert dump["generated_at"] >= asked - 0.01
        assert (daemon.state_dir / "haipvs.data").exists()
        running_master(daemon)

    stats_path = daemon.state_dir / "haipvs.stats"
    send_and_wait_log(daemon, signal.SIGUSR2, "stats_written")
    text = stats_path.read_text()
    assert shape(text) == shape(documented_stats()), text
    assert counts(text, "Advertisements")["Sent"] > 0
    became = int(re.search(r"^  Became master: (\d+)$", text, re.M).group(1))
    assert became == 1
    assert counts(text, "Priority Zero") == {"Received": 0, "Sent": 0}
    running_master(daemon)

    # SIGSTATS_CLEAR writes the counts so far, and the next file counts from there; the
    # counters themselves (in the dump) go on.
    time.sleep(1.0)  # five more adverts at 0.2 s
    send_and_wait_log(daemon, SIGSTATS_CLEAR, "stats_written")
    sent_at_clear = counts(stats_path.read_text(), "Advertisements")["Sent"]
    assert sent_at_clear >= counts(text, "Advertisements")["Sent"] + 3
    running_master(daemon)
    time.sleep(0.5)  # a few adverts
    send_and_wait_log(daemon, signal.SIGUSR2, "stats_written")
    after_clear = stats_path.read_text()
    since_clear = counts(after_clear, "Advertisements")["Sent"]
    assert 0 < since_clear < sent_at_clear
    assert daemon.instance_dump()["counters"]["adverts_sent"] >= sent_at_clear + since_clear
    assert re.search(r"^  Became master: 0$", after_clear, re.M)
    running_master(daemon)

    # No failover happened: no priority-0 advert, still our adverts on the wire.
    assert not sniffer.adverts(since=started, vrid=51, priority=0)
    assert sniffer.adverts(since=time.time() - 1, vrid=51, priority=150)


def signal_mask(daemon: OpsNode, field: str) -> int:
    for line in Path(f"/proc/{daemon.proc.pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1], 16)
    return 0


def wait_haipvs_running_python(daemon: OpsNode) -> None:
    """Until the first line of `haipvs` ran (it ignores SIGUSR1 until the signal task
    listens). Before that the process is still `ip netns exec` or the interpreter starting:
    no program can answer a signal there, keepalived neither."""
    bit = 1 << (signal.SIGUSR1 - 1)
    wait_until(lambda: signal_mask(daemon, "SigIgn") & bit or signal_mask(daemon, "SigCgt") & bit,
               10, interval=0.001, what="haipvs to start", describe=daemon.describe)


def test_signals_during_start_up_do_not_kill(lan, ops_node):
    node = lan.add_node("d1")
    daemon = ops_node(node, VI_1)
    wait_haipvs_running_python(daemon)
    # Before the daemon's signal task listens (it starts after the VRRP thread).
    for signum in (signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, SIGJSON, SIGSTATS_CLEAR,
                   signal.SIGPIPE):
        daemon.proc.signal(signum)
    assert not daemon.catches_sigusr1(), "too late: the signal task was already listening"
    daemon.wait_state("MASTER", 8)
    running_master(daemon)


def test_a_stop_during_start_up_is_carried_out(lan, ops_node):
    node = lan.add_node("d1")
    daemon = ops_node(node, VI_1)
    wait_haipvs_running_python(daemon)
    daemon.proc.signal(signal.SIGTERM)
    assert daemon.proc.wait(15) == 0, daemon.describe()
    assert not daemon.has_vip(VIP)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGQUIT],
                         ids=lambda s: signal.Signals(s).name)
def test_stop_signals_leave_through_the_graceful_path(lan, ops_node, sniffer, signum):
    node = lan.add_node("d1")
    daemon = ops_node(node, VI_1)
    daemon.wait_state("MASTER", 8)
    running_master(daemon)
    sent = time.time()
    daemon.proc.signal(signum)
    assert daemon.proc.wait(25) == 0, daemon.describe()
    sniffer.wait_advert(3, since=sent - 0.05, vrid=51, priority=0)
    assert not daemon.has_vip(VIP)
    events = [e.get("event") for e in daemon.log_events()]
    assert "shutdown_requested" in events
    # No IPVS in this kernel: the release is tried and reported, the stop goes on.
    assert "ipvs_services_released" in events
    wait_until(lambda: not daemon.alive, 1, what="the process gone")



class StatsKeepalived(KeepalivedNode):
    """keepalived with TMPDIR set: it writes keepalived.stats to $TMPDIR (lib/utils.c
    `make_tmp_filename`), not to the host's shared /tmp."""

    def start(self) -> StatsKeepalived:
        d = self.workdir
        argv = [keepalived_binary(), "--dont-fork", "--log-console", "--log-detail",
                "--no-syslog", "--vrrp", "--dont-respawn", "-f", str(self.conf_path),
                "-p", str(d / "keepalived.pid"), "-r", str(d / "vrrp.pid"),
                "-c", str(d / "checkers.pid")]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR": str(d)}
        self.proc = Proc(self.node.netns, argv, self.log_path,
                         name=f"keepalived-{self.node.name}", env=env)
        return self

    def stats(self) -> str:
        """SIGUSR2, then the whole file (keepalived writes it with stdio, not by rename:
        wait until its last instance block ends with the priority-zero counts)."""
        path = self.workdir / "keepalived.stats"
        path.unlink(missing_ok=True)
        self.signal(signal.SIGUSR2)

        def complete() -> str | None:
            text = path.read_text() if path.exists() else ""
            lines = text.splitlines()
            return text if len(lines) >= 3 and lines[-3] == "  Priority Zero:" else None

        return wait_until(complete, 5, what="keepalived.stats", describe=self.describe)


def test_keepalived_peer_writes_the_same_stats_block_and_sees_our_priority_zero(
        lan, ops_node, daemons: Daemons, tmp_path):
    reason = keepalived_unavailable_reason()
    if reason:
        pytest.skip(reason)
    ours = ops_node(lan.add_node("d1"), VI_1)
    ours.wait_state("MASTER", 8)
    peer = daemons.add(StatsKeepalived(lan.add_node("k1"), tmp_path,
                                       [VI_1.but(priority=100)])).start()
    peer.wait_state("BACKUP", 5)
    time.sleep(1.0)  # adverts flow

    send_and_wait_log(ours, signal.SIGUSR2, "stats_written")
    ours_text = (ours.state_dir / "haipvs.stats").read_text()
    theirs = peer.stats()
    # keepalived's own file and the first block of ours: the same lines, word for word.
    block = ours_text.splitlines()
    block = block[:block.index("  Dropped by reason:")]
    assert shape(theirs) == shape("\n".join(block)), (theirs, ours_text)
    assert counts(theirs, "Advertisements")["Received"] > 0
    assert counts(ours_text, "Advertisements")["Sent"] >= counts(
        theirs, "Advertisements")["Received"]

    sent = time.time()
    assert ours.proc.stop(25) == 0, ours.describe()
    peer.wait_state("MASTER", 3)
    assert time.time() - sent < 1.5  # at once on priority 0, not after Master_Down
    # keepalived counted our priority-0 advert itself.
    assert counts(peer.stats(), "Priority Zero")["Received"] >= 1
