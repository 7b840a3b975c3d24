"""Acceptance: notify scripts run in order, exactly once per transition, never overlapping,
with a clean environment, through a flapping instance; the FIFO and the JSON event log carry
the same sequence. The FIFO lines are keepalived 2.2.7's bytes: compared with keepalived's
own FIFO for VRRP, with its format strings for real servers and quorum (no IPVS here, so
keepalived's checker cannot run)."""

import contextlib
import os
import signal
import stat
import time

import pytest

from integration.harness.proc import Proc
from integration.harness.servers import tcp_accept_server
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


# ---- the FIFO lines against keepalived 2.2.7 ------------------------------------------------

# keepalived/vrrp/vrrp_notify.c notify_fifo: "%s \"%s\" %s %d\n"
VRRP_FMT = '%s "%s" %s %d\n'
# keepalived/check/ipwrapper.c notify_fifo_rs / notify_fifo_vs; lib/utils.c
# inet_sockaddrtotrio_r; keepalived/check/check_data.c format_vs (fwmark)
RS_FMT, VS_FMT, TRIO_FMT, FWM_FMT = "RS %s %s %s\n", "VS %s %s\n", "[%s]:%s:%d", "FWM %u"

SYNC_VI_1 = FAST.but(name="VI_1", vrid=61, vips=("192.0.2.110/24",))
SYNC_VI_2 = FAST.but(name="VI_2", vrid=62, priority=200, vips=("192.0.2.111/24",))


class FifoReader:
    """Reads a FIFO (opened once it exists, before the lines come) without blocking."""

    def __init__(self, path, describe=None) -> None:
        wait_until(lambda: path.exists() and stat.S_ISFIFO(path.stat().st_mode), 10,
                   what=f"the daemon to create {path.name}", describe=describe)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.data = b""

    def read(self) -> str:
        with contextlib.suppress(BlockingIOError):
            while chunk := os.read(self.fd, 65536):
                self.data += chunk
        return self.data.decode()

    def close(self) -> None:
        os.close(self.fd)


def sync_group_run(daemon, fifo, fault, start_faulty: bool) -> str:
    """Start (both MASTER), VI_1's track file faults the group, repair, stop; or start with
    it faulty, then repair and stop: the lines."""
    reader = FifoReader(fifo, daemon.describe)
    try:
        if not start_faulty:
            for name in ("VI_2", "VI_1"):
                daemon.wait_state("MASTER", 8, name=name)
            fault.write_text("1\n")
            for name in ("VI_1", "VI_2"):
                daemon.wait_state("FAULT", 8, name=name)
        # keepalived logs a FAULT at start in other words: wait for the FIFO's own line
        wait_until(lambda: 'GROUP "G1" FAULT' in reader.read(), 5, what="the group's FAULT")
        time.sleep(0.3)  # both members' FAULT lines too, if any
        fault.write_text("0\n")
        for name in ("VI_2", "VI_1"):
            daemon.wait_state("MASTER", 8, name=name)
        masters = 1 if start_faulty else 2
        wait_until(lambda: reader.read().count('GROUP "G1" MASTER') == masters, 5,
                   what="the group's last MASTER")
        assert daemon.stop() == 0
        return reader.read()
    finally:
        reader.close()


# What keepalived 2.2.7 wrote for the first run, spelled with its format string.
KEEPALIVED_LINES = [
    ("GROUP", "G1", "BACKUP", 0), ("INSTANCE", "VI_1", "BACKUP", 100),
    ("INSTANCE", "VI_2", "BACKUP", 200), ("INSTANCE", "VI_2", "MASTER", 200),
    ("INSTANCE", "VI_1", "MASTER", 100), ("GROUP", "G1", "MASTER", 0),
    ("INSTANCE", "VI_1", "FAULT", 100), ("INSTANCE", "VI_2", "FAULT", 200),
    ("GROUP", "G1", "FAULT", 0), ("INSTANCE", "VI_1", "BACKUP", 100),
    ("INSTANCE", "VI_2", "BACKUP", 200), ("GROUP", "G1", "BACKUP", 0),
    ("INSTANCE", "VI_2", "MASTER", 200), ("INSTANCE", "VI_1", "MASTER", 100),
    ("GROUP", "G1", "MASTER", 0), ("INSTANCE", "VI_1", "STOP", 100),
    ("INSTANCE", "VI_2", "STOP", 200), ("GROUP", "G1", "STOP", 0)]


# start-faulty: a track file faulty at start puts keepalived's instance straight into FAULT
# (vrrp_track.c initialise_track_file_state while loading, then vrrp_scheduler.c
# vrrp_init_state); haipvs reads track files before its instances start (haipvs/trackers.py).
@pytest.mark.parametrize("start_faulty", [False, True], ids=["start-ok", "start-faulty"])
def test_vrrp_fifo_lines_are_keepalived_2_2_7s_bytes(lan, ops_node, keepalived_node,
                                                     tmp_path, start_faulty):
    """The same sync group on keepalived 2.2.7 (VRRP only) and on haipvs, one after the
    other on one LAN: start, a member's fault pulls the group, repair, stop. The FIFOs hold
    the same bytes."""
    fault = tmp_path / "fault"
    fault.write_text("1\n" if start_faulty else "0\n")
    k_fifo, h_fifo = tmp_path / "keepalived.fifo", tmp_path / "haipvs.fifo"

    keepalived = keepalived_node(lan.add_node("k1"), SYNC_VI_1, SYNC_VI_2, start=False)
    conf = keepalived.conf_path.read_text()
    conf = conf.replace("global_defs {", f"global_defs {{\n    notify_fifo {k_fifo}", 1)
    conf = conf.replace("vrrp_instance VI_1 {", f"track_file tf {{\n    file {fault}\n"
                        "    weight 0\n}\n\nvrrp_instance VI_1 {\n    track_file {\n"
                        "        tf\n    }", 1)
    conf += "vrrp_sync_group G1 {\n    group {\n        VI_1\n        VI_2\n    }\n}\n"
    keepalived.conf_path.write_text(conf)
    keepalived.start()
    expected = sync_group_run(keepalived, k_fifo, fault, start_faulty)

    fault.write_text("1\n" if start_faulty else "0\n")
    haipvs = ops_node(
        lan.add_node("h1"), SYNC_VI_1, SYNC_VI_2,
        top={"global": {"notify_fifo": str(h_fifo)},
             "vrrp_sync_groups": [{"name": "G1", "group": ["VI_1", "VI_2"]}],
             "vrrp_track_files": [{"name": "tf", "file": str(fault), "weight": 0}]},
        per_instance={"VI_1": {"track_file": ["tf"]}})
    got = sync_group_run(haipvs, h_fifo, fault, start_faulty)

    if not start_faulty:
        spelled = "".join(VRRP_FMT % line for line in KEEPALIVED_LINES)
        assert same_steps(expected) == same_steps(spelled)
    assert same_steps(got) == same_steps(expected)
    assert not h_fifo.exists()  # haipvs made it, so it removes it (lib/notify.c fifo_close)


def same_steps(text: str) -> list[list[str]]:
    """The lines, with each run of INSTANCE lines in one state sorted: which member of a sync
    group moves first is a timer race in both daemons (keepalived/vrrp/vrrp_sync.c
    vrrp_sync_can_goto_master lets the last member to time out lead the group). Every line
    stays byte for byte, and each GROUP line keeps its place."""
    steps: list[tuple[tuple[str, str], list[str]]] = []
    for line in text.splitlines(keepends=True):
        kind, _name, state, _priority = line.split(" ")
        if kind == "INSTANCE" and steps and steps[-1][0] == (kind, state):
            steps[-1][1].append(line)
            steps[-1][1].sort()
        else:
            steps.append(((kind, state), [line]))
    return [lines for _, lines in steps]


CHECK = {"connect_timeout": 1, "retry": 0, "delay_before_retry": 0.2}


def test_lvs_and_vrrp_fifos_and_the_fifo_script_from_a_real_server_change(lan, ops_node,
                                                                          tmp_path):
    """A real server (a TCP server in its own namespace) goes down and up: RS and VS lines
    in keepalived's format on notify_fifo and lvs_notify_fifo, INSTANCE lines on notify_fifo
    and vrrp_notify_fifo; lvs_notify_fifo_script reads its FIFO, gets the FIFO path as its
    last argument, and SIGTERM at stop."""
    director, rs = lan.add_node("dir"), lan.add_node("rs1")
    server_log = tmp_path / "tcp.log"

    def serve() -> Proc:
        server = Proc(rs.netns, tcp_accept_server(8081), server_log, name="tcp")
        wait_until(lambda: "ready" in server_log.read_text(), 10, what="the TCP server")
        return server

    server = serve()
    all_fifo, vrrp_fifo, lvs_fifo = (tmp_path / f"{n}.fifo" for n in ("all", "vrrp", "lvs"))
    seen = tmp_path / "script.out"
    script = ["/bin/sh", "-c", 'trap "echo TERM >> $0; exit 0" TERM; echo "argv $1" >> $0; '
              'exec 3<"$1"; while read -r l <&3; do echo "$l" >> $0; done', str(seen)]
    service = {"address": "192.0.2.100", "port": 80, "protocol": "TCP", "delay_loop": 0.5,
               "real_servers": [{"address": rs.ip, "port": 8081, "tcp_check": CHECK}]}
    marked = {"fwmark": 7, "delay_loop": 0.5,
              "real_servers": [{"address": rs.ip, "port": 8081, "tcp_check": CHECK}]}
    daemon = ops_node(director, VI_1.but(priority=100), top={
        "global": {"notify_fifo": str(all_fifo), "vrrp_notify_fifo": str(vrrp_fifo),
                   "lvs_notify_fifo": str(lvs_fifo), "lvs_notify_fifo_script": script},
        "virtual_servers": [service, marked]})
    readers = {name: FifoReader(path, daemon.describe)
               for name, path in (("all", all_fifo), ("vrrp", vrrp_fifo))}
    try:
        daemon.wait_state("MASTER", 8)
        wait_until(lambda: seen.exists() and f"argv {lvs_fifo}" in seen.read_text(), 5,
                   what="the lvs FIFO script")
        server.stop(3)
        # Two VS UP lines at start, then both services down, then up again.
        wait_until(lambda: readers["all"].read().count("VS ") == 4, 10,
                   what="both services down", describe=daemon.describe)
        server = serve()
        wait_until(lambda: readers["all"].read().count("VS ") == 6, 10,
                   what="both services up", describe=daemon.describe)
        assert daemon.stop() == 0
        got = {name: reader.read() for name, reader in readers.items()}
    finally:
        server.stop(3)
        for reader in readers.values():
            reader.close()

    web, mark = TRIO_FMT % ("192.0.2.100", "tcp", 80), FWM_FMT % 7
    # A fwmark service's protocol is 0: "none" in its real server's trio.
    web_rs, mark_rs = TRIO_FMT % (rs.ip, "tcp", 8081), TRIO_FMT % (rs.ip, "none", 8081)
    lvs = {state: sorted([RS_FMT % (web_rs, web, state) + VS_FMT % (web, state),
                          RS_FMT % (mark_rs, mark, state) + VS_FMT % (mark, state)])
           for state in ("DOWN", "UP")}
    vrrp = (VRRP_FMT % ("INSTANCE", "VI_1", "BACKUP", 100)
            + VRRP_FMT % ("INSTANCE", "VI_1", "MASTER", 100))
    stop = VRRP_FMT % ("INSTANCE", "VI_1", "STOP", 100)
    assert got["vrrp"] == vrrp + stop
    lines = got["all"].splitlines(keepends=True)
    # The VRRP and the check side run apart (two processes in keepalived): their lines
    # interleave, each side in its own order.
    assert "".join(line for line in lines if line.startswith("INSTANCE ")) == vrrp + stop
    assert lines[-1] == stop, got["all"]
    lvs_lines = [line for line in lines if not line.startswith("INSTANCE ")]
    # At start each service that has its quorum is told UP (keepalived/check/ipwrapper.c
    # init_service_vs -> update_quorum_state(vs, init=true): "Gained quorum"), no RS line.
    assert sorted(lvs_lines[:2]) == sorted(VS_FMT % (svc, "UP") for svc in (web, mark))
    body = "".join(lvs_lines[2:])
    # Each service's RS line comes right before its VS line; the two services' checkers run
    # independently, so either service may come first.
    pairs = body_pairs(body)
    assert (sorted(pairs[:2]), sorted(pairs[2:])) == (lvs["DOWN"], lvs["UP"]), body
    script_lines = seen.read_text()
    assert script_lines.startswith(f"argv {lvs_fifo}\n") and script_lines.endswith("TERM\n")
    assert script_lines.removeprefix(f"argv {lvs_fifo}\n").removesuffix("TERM\n") == \
        "".join(lvs_lines)
    assert not any(p.exists() for p in (all_fifo, vrrp_fifo, lvs_fifo))


def body_pairs(text: str) -> list[str]:
    """Lines two by two (an RS line and its service's VS line)."""
    lines = text.splitlines(keepends=True)
    return ["".join(lines[i:i + 2]) for i in range(0, len(lines), 2)]


def reload_run(daemon, fifo, reload, masters=("VI_1", "VI_2")) -> str:
    """`masters` MASTER, a reload that ends with VI_2's FAULT line, stop: the lines."""
    reader = FifoReader(fifo, daemon.describe)
    try:
        for name in masters:
            daemon.wait_state("MASTER", 8, name=name)
        reload()
        wait_until(lambda: 'INSTANCE "VI_2" FAULT' in reader.read(), 10,
                   what="VI_2's FAULT line",
                   describe=lambda: reader.read() + daemon.describe())
        time.sleep(0.5)  # anything else the reload writes
        assert daemon.stop() == 0
        return reader.read()
    finally:
        reader.close()


def test_an_instance_a_reload_removes_is_written_fault_as_keepalived(lan, ops_node,
                                                                    keepalived_node, tmp_path):
    """keepalived/vrrp/vrrp.c clear_diff_vrrp sets a removed instance DELETED, and
    vrrp_notify.c send_instance_notifies writes that as FAULT with its priority (no
    notify_deleted). The same reload on keepalived 2.2.7 and on haipvs: the same lines."""
    k_fifo, h_fifo = tmp_path / "keepalived.fifo", tmp_path / "haipvs.fifo"
    for fifo in (k_fifo, h_fifo):
        os.mkfifo(fifo)  # made beforehand: keepalived's reload reopens it, same inode

    keepalived = keepalived_node(lan.add_node("k1"), SYNC_VI_1, SYNC_VI_2, start=False)
    conf = keepalived.conf_path.read_text()
    # script_user first: without a keepalived_script user, keepalived 2.2.7 drops the FIFO
    # on a reload ("Failed to set default user for  fifo (null) - ignoring").
    conf = conf.replace("global_defs {", "global_defs {\n    script_user root\n"
                        f"    notify_fifo {k_fifo}", 1)
    keepalived.conf_path.write_text(conf)

    def keepalived_reload() -> None:
        keepalived.reload_without("VI_2")

    keepalived.start()
    expected = reload_run(keepalived, k_fifo, keepalived_reload)

    haipvs = ops_node(lan.add_node("h1"), SYNC_VI_1, SYNC_VI_2,
                      top={"global": {"notify_fifo": str(h_fifo)}})

    def haipvs_reload() -> None:
        haipvs.write_config([SYNC_VI_1])
        haipvs.reload()

    got = reload_run(haipvs, h_fifo, haipvs_reload)
    spelled = "".join(VRRP_FMT % line for line in [
        ("INSTANCE", "VI_1", "BACKUP", 100), ("INSTANCE", "VI_2", "BACKUP", 200),
        ("INSTANCE", "VI_1", "MASTER", 100), ("INSTANCE", "VI_2", "MASTER", 200),
        ("INSTANCE", "VI_2", "FAULT", 200), ("INSTANCE", "VI_1", "STOP", 100)])
    assert same_steps(expected) == same_steps(spelled), expected
    assert same_steps(got) == same_steps(expected), got


def test_an_instance_a_reload_adds_with_a_faulty_track_file_starts_fault_as_keepalived(
        lan, ops_node, keepalived_node, tmp_path):
    """keepalived reads track files while loading the new config (vrrp_track.c
    initialise_track_file_state), so an instance a reload adds with a faulty one goes
    straight to FAULT, no BACKUP first; haipvs reads them before the runtime starts it."""
    fault = tmp_path / "fault"
    fault.write_text("1\n")
    k_fifo, h_fifo = tmp_path / "keepalived.fifo", tmp_path / "haipvs.fifo"
    for fifo in (k_fifo, h_fifo):
        os.mkfifo(fifo)

    keepalived = keepalived_node(lan.add_node("k1"), SYNC_VI_1, SYNC_VI_2, start=False)
    conf = keepalived.conf_path.read_text()
    conf = conf.replace("global_defs {", "global_defs {\n    script_user root\n"
                        f"    notify_fifo {k_fifo}", 1)
    conf = conf.replace("vrrp_instance VI_1 {", f"track_file tf {{\n    file {fault}\n"
                        "    weight 0\n}\n\nvrrp_instance VI_1 {", 1)
    with_vi_2 = conf.replace("vrrp_instance VI_2 {",
                             "vrrp_instance VI_2 {\n    track_file {\n        tf\n    }", 1)
    begin = conf.index("vrrp_instance VI_2 {")
    keepalived.conf_path.write_text(conf[:begin] + conf[conf.index("\n}\n", begin) + 3:])

    def keepalived_reload() -> None:
        keepalived.conf_path.write_text(with_vi_2)
        keepalived.signal(signal.SIGHUP)

    keepalived.start()
    expected = reload_run(keepalived, k_fifo, keepalived_reload, masters=("VI_1",))

    haipvs = ops_node(lan.add_node("h1"), SYNC_VI_1, top={
        "global": {"notify_fifo": str(h_fifo)},
        "vrrp_track_files": [{"name": "tf", "file": str(fault), "weight": 0}]},
        per_instance={"VI_2": {"track_file": ["tf"]}})

    def haipvs_reload() -> None:
        haipvs.write_config([SYNC_VI_1, SYNC_VI_2])
        haipvs.reload()

    got = reload_run(haipvs, h_fifo, haipvs_reload, masters=("VI_1",))
    assert 'INSTANCE "VI_2" BACKUP' not in expected, expected
    assert same_steps(got) == same_steps(expected), got
