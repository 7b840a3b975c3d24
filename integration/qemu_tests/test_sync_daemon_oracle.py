"""lvs_sync_daemon with keepalived 2.2.7 as the oracle, against the real kernel IPVS: the
same keepalived.conf runs keepalived (VRRP and checker processes) and then haipvs (the
importer's translation, the real daemon) in one director namespace, and `ipvsadm -L
--daemon` must read the same once the VRRP instance has settled, and be empty after each
one's stop.

- MASTER with every option: vrrp_scheduler.c vrrp_init_state starts the backup daemon,
  vrrp.c vrrp_state_become_master switches to master (ipvswrapper.c ipvs_syncd_master) with
  id/maxlen/port/ttl/group as given (global_parser.c lvs_syncd_handler).
- FAULT (the instance's interface is down): the backup daemon, sync id = the VRID
  (vrrp.c vrrp_complete_init).
- No instance: check_daemon.c start_check runs master and backup, sync id 0.
- Stop: vrrp_daemon.c stop_vrrp / check_daemon.c checker_terminate_phase2 stop them.

Runs only in the qemu guest:

    integration/qemu/run-in-guest -- .venv/bin/python -m pytest -p no:cacheprovider \
        integration/qemu_tests/test_sync_daemon_oracle.py
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import sh
from guest_wait import wait_until

from haipvs.importer import import_keepalived

KEEPALIVED = "/usr/sbin/keepalived"
STOP_TIMEOUT = 60.0

VIRTUAL_SERVER = """
virtual_server 192.0.2.100 80 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    real_server 198.51.100.11 8080 {
    }
}
"""


def instance(state_line: str = "") -> str:
    return f"""
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    priority 255
    advert_int 1
    {state_line}
    virtual_ipaddress {{
        192.0.2.100/24
    }}
}}
"""


CASES = {
    "master-options": (
        "lvs_sync_daemon syn0 inst VI_1 id 7 maxlen 1400 port 9000 ttl 3 group 239.1.2.3",
        instance(), "eth0"),
    "fault-vrid": ("lvs_sync_daemon syn0 VI_1", instance(), "eth0 down"),
    "no-instance": ("lvs_sync_daemon syn0 maxlen 1200", "", "eth0"),
}


def daemons(ns: str) -> list[str]:
    return sorted(line.strip() for line in sh("ipvsadm", "-L", "--daemon", ns=ns).splitlines()
                  if line.strip())


def setup(ns: str, eth0: str) -> None:
    for link, address in (("eth0", "192.0.2.1/24"), ("syn0", "203.0.113.1/24")):
        sh("ip", "link", "add", link, "type", "dummy", ns=ns)
        # a dummy link is created without MULTICAST, and keepalived disables a multicast
        # instance on such an interface ("does not support multicast")
        sh("ip", "link", "set", link, "multicast", "on", ns=ns)
        sh("ip", "addr", "add", address, "dev", link, ns=ns)
    sh("ip", "link", "set", "syn0", "up", ns=ns)
    if eth0 != "eth0 down":
        sh("ip", "link", "set", "eth0", "up", ns=ns)


def stop(proc: subprocess.Popen, ns: str) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=STOP_TIMEOUT)
        pytest.fail(f"did not stop in {STOP_TIMEOUT} s")


def run_keepalived(ns: str, conf: Path, work: Path, settled: str) -> tuple[list[str], list[str]]:
    """(daemons once the log shows `settled` and they stopped changing, daemons after stop)."""
    log = work / "keepalived.log"
    argv = ["ip", "netns", "exec", ns, "stdbuf", "-oL", "-eL", KEEPALIVED, "-n", "-l", "-D", "-d",
            "-f", str(conf)]
    for flag, name in (("-p", "main"), ("-c", "checkers"), ("-r", "vrrp"), ("-b", "bfd")):
        argv += [flag, str(work / f"{name}.pid")]
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_until(lambda: settled in log.read_text(errors="replace"), f"keepalived: {settled}")
        seen = stable_daemons(ns)
    finally:
        stop(proc, ns)
        print(log.read_text(errors="replace")[-3000:])
    return seen, daemons(ns)


def stable_daemons(ns: str) -> list[str]:
    """The daemons once two reads 2 s apart agree (the switch to master is two commands)."""
    previous = None
    for _ in range(30):
        current = daemons(ns)
        if current and current == previous:
            return current
        previous = current
        time.sleep(2.0)
    return current


def run_haipvs(netns, ns: str, conf: Path, work: Path, expected: list[str]) -> list[str]:
    document = yaml.safe_load(import_keepalived(conf).yaml)
    state = work / "haipvs-state"
    document.setdefault("global", {}).update(state_dir=str(state),
                                             pid_file=str(state / "haipvs.pid"))
    config = work / "haipvs.yaml"
    config.write_text(yaml.safe_dump(document))
    log = work / "haipvs.log"
    with open(log, "w") as out:
        proc = netns.popen(ns, sys.executable, "-m", "haipvs", "--config", str(config),
                           "--log-format", "json", stdout=out, stderr=subprocess.STDOUT,
                           start_new_session=True)
    try:
        wait_until(lambda: daemons(ns) == expected, f"haipvs runs {expected}")
        # and keeps them (no restart loop against the kernel's reported values)
        time.sleep(3.0)
        assert daemons(ns) == expected
        assert "ipvs_sync_daemon_stopped" not in log.read_text()
    finally:
        stop(proc, ns)
        print(log.read_text(errors="replace")[-3000:])
    return daemons(ns)


@pytest.mark.parametrize("case", sorted(CASES))
def test_sync_daemons_as_keepalived_runs_them(case, netns, director, tmp_path):
    line, vrrp, eth0 = CASES[case]
    setup(director, eth0)
    conf = tmp_path / "keepalived.conf"
    conf.write_text(f"global_defs {{\n    router_id guest\n    {line}\n}}\n{vrrp}{VIRTUAL_SERVER}")
    # keepalived logs no FAULT entry when the instance starts in it (vrrp_init_state logs
    # only a change), so that case waits for the VRRP process's dump (-d), then for the
    # daemons to settle.
    settled = {"master-options": "Entering MASTER STATE", "fault-vrid": "VRRP Topology",
               "no-instance": "------< Global definitions >------"}[case]
    work = tmp_path / "ka"
    work.mkdir()
    keepalived, after = run_keepalived(director, conf, work, settled)
    assert keepalived, "keepalived ran no sync daemon"
    assert after == [], "keepalived left its sync daemons running"
    if case == "master-options":
        assert keepalived == ["master sync daemon (mcast=syn0, syncid=7, maxlen=1400, "
                              "group=239.1.2.3, port=9000, ttl=3)"]
    elif case == "fault-vrid":
        assert [d.split(",")[:2] for d in keepalived] == [["backup sync daemon (mcast=syn0",
                                                            " syncid=51"]]
    else:
        assert [d.split(" sync daemon")[0] for d in keepalived] == ["backup", "master"]
    sh("ipvsadm", "-C", ns=director)  # keepalived's services; haipvs adds its own
    work = tmp_path / "hv"
    work.mkdir()
    assert run_haipvs(netns, director, conf, work, keepalived) == []
