"""Acceptance (issue 15, process options): two haipvs on one host, each started in the host's
network namespace and moved by `global.net_namespace` into its own node's namespace
(keepalived's `net_namespace`, core/namespaces.c set_namespaces()), with different
`global.instance` names so their pid files and state dumps do not collide (keepalived
main.c make_pidfile_name()); startup/shutdown scripts run before VRRP starts and after it
stopped, and are killed at their timeout (main.c run_startup_script(),
handle_child_timeout()). keepalived 2.2.7 is the peer of both: it sees haipvs's adverts on
the wire (it stays BACKUP) and takes over when haipvs stops.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from haipvs.config.process import DEFAULT_STATE_DIR, NETNS_DIR, runtime_paths
from integration.harness.haipvs import NOT_BUILT, haipvs_binary, haipvs_unavailable_reason
from integration.harness.netns import run
from integration.harness.proc import Proc
from integration.harness.topology import Node
from integration.test_ops_support import FAST, OpsNode, read_json_lines

pytestmark = pytest.mark.netns

VI_1 = FAST.but(name="VI_1", vrid=51, vips=("192.0.2.100/24",))
VI_2 = FAST.but(name="VI_2", vrid=52, vips=("192.0.2.101/24",))


class HostNamespace:
    """Stands in for a Netns in Proc: the command runs in the test's own namespace."""

    name = "host"

    def argv(self, *argv: str) -> list[str]:
        return list(argv)


class NamespacedHaipvs(OpsNode):
    """haipvs started in the host namespace; `global.net_namespace` names the node's, and
    `global.instance` the instance. No --state-dir / --pid-file: the daemon derives them."""

    def __init__(self, node: Node, workdir: Path, instances, instance: str,
                 **extra: Any) -> None:
        self.instance_name = instance
        self.extra_args: list[str] = []
        super().__init__(node, workdir, instances, **extra)
        state_dir, pid_file = runtime_paths(instance, node.ns)
        self.state_dir, self.pid_path = Path(state_dir), Path(pid_file)

    def config_dict(self, instances) -> dict[str, Any]:
        config = super().config_dict(instances)
        config["global"].pop("state_dir")
        config["global"].update(instance=self.instance_name, net_namespace=self.node.ns)
        return config

    def start(self) -> NamespacedHaipvs:
        binary = haipvs_binary()
        if binary is None:
            raise RuntimeError(NOT_BUILT)
        argv = [binary, "--config", str(self.conf_path), "--log-format", "json",
                *self.extra_args]
        self.runs += 1
        self.proc = Proc(HostNamespace(), argv, self.log_path, name=f"haipvs-{self.node.name}",
                         env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        return self


def recorder(log: Path, label: str, vip: str, sleep: float = 0.0) -> list[str]:
    """A script that appends: label, the time, its network namespace, whether the VIP is
    on eth0, then (optionally) sleeps."""
    return ["/bin/sh", "-c",
            f'echo "{label} $(date +%s.%N) $(readlink /proc/self/ns/net) '
            f'$(ip -o addr show dev eth0 | grep -c " {vip}/")" >> {log}; sleep {sleep}']


def netns_id(name: str) -> str:
    """What readlink /proc/self/ns/net prints inside /run/netns/NAME: net:[INODE]."""
    return f"net:[{os.stat(f'/run/netns/{name}').st_ino}]"


def records(log: Path) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in log.read_text().splitlines()}


@pytest.fixture
def state_dirs():
    """The derived state dirs the test's daemons use, removed afterwards (only those)."""
    made: list[Path] = []
    yield made
    for path in made:
        shutil.rmtree(path, ignore_errors=True)
        namespace_dir = path.parent  # /run/haipvs/netns/NS: ours, the name is unique
        if namespace_dir.parent == Path(DEFAULT_STATE_DIR, NETNS_DIR):
            shutil.rmtree(namespace_dir, ignore_errors=True)
    for shared in (Path(DEFAULT_STATE_DIR, NETNS_DIR), Path(DEFAULT_STATE_DIR)):
        with contextlib.suppress(OSError):  # only when empty: another haipvs may use it
            shared.rmdir()


def test_two_instances_in_their_own_namespaces_with_scripts_and_keepalived_peer(
        lan, daemons, keepalived_node, tmp_path, state_dirs):
    reason = haipvs_unavailable_reason()
    if reason:
        pytest.skip(reason)
    d1, d2, peer = lan.add_node("d1"), lan.add_node("d2"), lan.add_node("d3")
    # keepalived backs up both: it must see each haipvs's adverts to stay BACKUP.
    backup = keepalived_node(peer, VI_1.but(priority=100), VI_2.but(priority=100))
    scripts = tmp_path / "scripts.log"
    events_a, events_b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a = daemons.add(NamespacedHaipvs(
        d1, tmp_path, [VI_1.but(priority=150)], instance="lb-a",
        top={"global": {"event_log": str(events_a),
                        "startup_script": recorder(scripts, "a-startup", "192.0.2.100", 0.5),
                        "shutdown_script": recorder(scripts, "a-shutdown", "192.0.2.100")}}))
    # b: scripts that outlive their 1 s timeouts (keepalived kills them and goes on).
    b = daemons.add(NamespacedHaipvs(
        d2, tmp_path, [VI_2.but(priority=150)], instance="lb-b",
        top={"global": {"event_log": str(events_b),
                        "startup_script": recorder(scripts, "b-startup", "192.0.2.101", 30),
                        "startup_script_timeout": 1,
                        "shutdown_script": recorder(scripts, "b-shutdown", "192.0.2.101", 30),
                        "shutdown_script_timeout": 1}}))
    state_dirs.extend([a.state_dir, b.state_dir])
    started = time.time()
    a.start()
    b.start()

    # Each runs in its node's namespace: the VIP is there, and keepalived hears it.
    a.wait_state("MASTER", 10)
    b.wait_state("MASTER", 10, name="VI_2")
    assert d1.has_address("192.0.2.100") and not d2.has_address("192.0.2.100")
    assert d2.has_address("192.0.2.101") and not d1.has_address("192.0.2.101")
    backup.wait_state("BACKUP", 5, name="VI_1")
    backup.wait_state("BACKUP", 5, name="VI_2")
    assert not peer.has_address("192.0.2.100") and not peer.has_address("192.0.2.101")

    # No collision: each has its own pid file and state dump under /run/haipvs/netns/NS/NAME.
    assert a.state_dir == Path(f"/run/haipvs/netns/{d1.ns}/lb-a")
    assert a.pid_path.read_text().split() == [str(a.proc.pid)]
    assert b.pid_path.read_text().split() == [str(b.proc.pid)]
    assert a.instance_dump("VI_1")["state"] == "MASTER"  # SIGUSR1 -> a.state_dir
    assert b.instance_dump("VI_2")["state"] == "MASTER"
    assert a.state_dir != b.state_dir
    assert (a.state_dir / "haipvs.json").exists() and (b.state_dir / "haipvs.json").exists()
    # `haipvs dump` finds each one by instance and namespace (the same path rule).
    out = run([haipvs_binary(), "dump", "--instance", "lb-b", "--net-namespace", d2.ns])
    assert '"VI_2"' in out.stdout and '"VI_1"' not in out.stdout

    # The startup script ran in the namespace, before VRRP (no VIP yet; the first transition
    # came after it ended); b's was killed at its 1 s timeout and start-up went on.
    seen = records(scripts)
    a_start_at, a_ns, a_vip = seen["a-startup"]
    assert a_ns == netns_id(d1.ns) and a_vip == "0"
    first_a = read_json_lines(events_a)[0]
    assert first_a["kind"] == "vrrp_transition"
    assert float(a_start_at) + 0.5 <= first_a["at"] + 0.05  # it slept 0.5 s first
    assert seen["b-startup"][1] == netns_id(d2.ns)
    assert b.wait_log("startup_script_timed_out", 1)["timeout"] == 1
    first_b = read_json_lines(events_b)[0]["at"]
    assert 1.0 <= first_b - started < 8.0, "b waited for its script's timeout, not 30 s"

    # Stop a: keepalived takes VI_1 over; a's shutdown script ran after the VIP was gone,
    # and its pid file went with it; b is untouched.
    assert a.stop() == 0
    backup.wait_state("MASTER", 5, name="VI_1")
    stop_at = next(e for e in read_json_lines(events_a) if e.get("to") == "STOP")["at"]
    a_stop_at, a_stop_ns, a_stop_vip = records(scripts)["a-shutdown"]
    assert a_stop_ns == netns_id(d1.ns) and a_stop_vip == "0"
    assert float(a_stop_at) >= stop_at
    assert not a.pid_path.exists() and b.pid_path.exists()
    assert b.state("VI_2") == "MASTER" and backup.state("VI_2") == "BACKUP"

    # b's shutdown script outlives its 1 s timeout: killed, and haipvs exits anyway.
    stopping = time.monotonic()
    assert b.stop(timeout=10) == 0
    assert time.monotonic() - stopping < 6
    assert any(e.get("event") == "shutdown_script_timed_out" for e in b.log_events())
    backup.wait_state("MASTER", 5, name="VI_2")
    leftover = run(["pgrep", "-f", "b-shutdown"], check=False)
    assert leftover.stdout.strip() == "", "the timed-out shutdown script was not killed"


def test_a_missing_namespace_stops_the_start_with_a_clear_error(lan, daemons, tmp_path,
                                                                 state_dirs):
    reason = haipvs_unavailable_reason()
    if reason:
        pytest.skip(reason)
    node = lan.add_node("d1")
    daemon = daemons.add(NamespacedHaipvs(node, tmp_path, [VI_1], instance="lb-x"))
    config = daemon.config_dict([VI_1])
    config["global"]["net_namespace"] = f"{node.ns}-missing"
    daemon.conf_path.write_text(yaml.safe_dump(config))
    state_dirs.append(Path(runtime_paths("lb-x", f"{node.ns}-missing")[0]))
    daemon.start()
    assert daemon.proc.wait(10) == 1
    failure = [e for e in daemon.log_events() if e.get("event") == "net_namespace_failed"]
    assert failure and f"/run/netns/{node.ns}-missing" in failure[0]["error"]
    assert "ip netns add" in failure[0]["error"]

    # keepalived's -s/--namespace wins over the file (main.c "Overriding config
    # net_namespace"): the file's namespace exists, the command line's does not.
    config["global"]["net_namespace"] = node.ns
    daemon.conf_path.write_text(yaml.safe_dump(config))
    daemon.extra_args = ["-s", f"{node.ns}-cli"]
    state_dirs.append(Path(runtime_paths("lb-x", f"{node.ns}-cli")[0]))
    daemon.start()
    assert daemon.proc.wait(10) == 1
    failure = [e for e in daemon.log_events() if e.get("event") == "net_namespace_failed"]
    assert f"/run/netns/{node.ns}-cli" in failure[-1]["error"]


def test_a_reload_reads_the_included_files_again(lan, daemons, tmp_path):
    """`include:` (haipvs/config/include.py): SIGHUP re-reads the main file and every file
    its globs match now, as keepalived re-reads its includes on reload."""
    reason = haipvs_unavailable_reason()
    if reason:
        pytest.skip(reason)
    node = lan.add_node("d1")
    daemon = daemons.add(OpsNode(node, tmp_path, [VI_1.but(priority=150)],
                                 top={"include": ["conf.d/*.yaml"]}))
    conf_d = daemon.conf_path.parent / "conf.d"  # relative to the including file
    conf_d.mkdir()
    daemon.start()
    daemon.wait_state("MASTER", 10)
    second = daemon.config_dict([VI_2.but(priority=150)])["vrrp_instances"]
    (conf_d / "vi2.yaml").write_text(yaml.safe_dump({"vrrp_instances": second}))
    daemon.reload()
    daemon.wait_state("MASTER", 10, name="VI_2")
    assert node.has_address("192.0.2.101") and node.has_address("192.0.2.100")
    (conf_d / "vi2.yaml").unlink()
    daemon.reload()
    daemon.wait_log("reload_applied", 10, since_count=1)
    assert not node.has_address("192.0.2.101") and daemon.state("VI_1") == "MASTER"


def test_a_stop_during_the_startup_script_never_starts_vrrp(lan, daemons, tmp_path):
    """SIGTERM while the startup script runs: haipvs lets it finish, starts nothing (no
    advert, no VIP), runs the shutdown script and exits 0."""
    reason = haipvs_unavailable_reason()
    if reason:
        pytest.skip(reason)
    node = lan.add_node("d1")
    scripts = tmp_path / "scripts.log"
    events = tmp_path / "events.jsonl"
    daemon = daemons.add(OpsNode(node, tmp_path, [VI_1.but(priority=255, state="MASTER")], top={
        "global": {"event_log": str(events),
                   "startup_script": recorder(scripts, "startup", "192.0.2.100", 1.5),
                   "shutdown_script": recorder(scripts, "shutdown", "192.0.2.100")}}))
    daemon.start()
    daemon.wait_log("startup_script_running", 10)
    daemon.proc.signal(15)
    assert daemon.proc.wait(10) == 0
    assert set(records(scripts)) == {"startup", "shutdown"}
    assert daemon.count_log("haipvs_started") == 0
    assert not read_json_lines(events) and not node.has_address("192.0.2.100")
