"""`omega` at stop, keepalived 2.2.7 as the oracle (issue 16, engineer H): keepalived
(`-C`, no checkers: every real server alive) and haipvs (the importer's translation of the
same keepalived.conf, the daemon itself) each program the real IPVS table and are stopped
with SIGTERM. keepalived/check/ipwrapper.c clear_services -> clear_service_rs runs each live
server's notify_down and update_vs_notifies the quorum_down only for a virtual server with
`omega` (haipvs/policy/omega.py); the service without omega runs nothing, and nothing runs
a notify_up at stop. Both must record the same script runs.

Runs only in the qemu guest:

    integration/qemu/run-in-guest -- .venv/bin/python -m pytest -p no:cacheprovider \
        integration/qemu_tests/test_omega_stop.py
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import oracle_run
import pytest
from conftest import sh
from guest_wait import DEADLINE, wait_until

from haipvs.importer import import_keepalived

CONF = """\
global_defs {
    script_user root
}
virtual_server 192.0.2.100 80 {
    protocol TCP
    omega
    quorum_up "REC quorum-up-80"
    quorum_down "REC quorum-down-80"
    real_server 198.51.100.11 8080 {
        notify_up "REC rs-up-11"
        notify_down "REC rs-down-11"
    }
    real_server 198.51.100.12 8080 {
        notify_down "REC rs-down-12"
    }
}
virtual_server 192.0.2.100 443 {
    protocol TCP
    quorum_down "REC quorum-down-443"
    real_server 198.51.100.11 8443 {
        notify_down "REC rs-down-11-443"
    }
}
"""
SERVICES = {"TCP 192.0.2.100:80", "TCP 192.0.2.100:443"}
# sorted; quorum-up-80 is the start's (ipwrapper.c update_quorum_state: "Gained quorum" at
# init runs quorum_up), the others the stop's; nothing of the 443 service, nor rs-up-11
EXPECTED = ["quorum-down-80", "quorum-up-80", "rs-down-11", "rs-down-12"]


def services(ns: str) -> set[str]:
    return {f"{f[0]} {f[1]}" for f in (line.split() for line in
                                       sh("ipvsadm", "-Ln", ns=ns).splitlines())
            if f and f[0] in oracle_run.SERVICE_PROTOCOLS}


def recorded(out: Path) -> list[str]:
    return sorted(out.read_text().split()) if out.exists() else []


def setup(tmp_path: Path) -> tuple[Path, Path]:
    out = tmp_path / "runs.txt"
    rec = tmp_path / "rec.sh"
    rec.write_text(f"#!/bin/sh\necho \"$1\" >> {out}\n")
    rec.chmod(0o755)
    conf = tmp_path / "keepalived.conf"
    conf.write_text(CONF.replace("REC", str(rec)))
    return conf, out


def run_keepalived(director: str, conf: Path, workdir: Path) -> None:
    workdir.mkdir()
    log_path = workdir / "keepalived.log"
    argv = ["ip", "netns", "exec", director, "stdbuf", "-oL", "-eL", oracle_run.KEEPALIVED,
            "-C", "-n", "-l", "-d", "-f", str(conf), "-p", str(workdir / "k.pid"),
            "-c", str(workdir / "c.pid"), "-r", str(workdir / "r.pid"),
            "-b", str(workdir / "b.pid")]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        assert oracle_run._wait_ready(proc, log_path), log_path.read_text()[-2000:]
        assert services(director) == SERVICES
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=DEADLINE)


def test_omega_runs_the_down_scripts_at_stop_as_keepalived(netns, director, tmp_path):
    if shutil.which(oracle_run.KEEPALIVED) is None:
        pytest.skip("keepalived not installed")
    conf, out = setup(tmp_path)

    run_keepalived(director, conf, tmp_path / "keepalived")
    time.sleep(0.5)  # its stop scripts are forked and not waited for (system_call_script)
    keepalived_runs = recorded(out)
    assert not services(director)
    out.unlink(missing_ok=True)

    state = tmp_path / "state"
    config = tmp_path / "haipvs.yaml"
    config.write_text(import_keepalived(conf).yaml)
    with open(tmp_path / "haipvs.log", "w") as log:
        proc = netns.popen(director, sys.executable, "-m", "haipvs", "--config", str(config),
                           "--state-dir", str(state), "--pid-file", str(state / "haipvs.pid"),
                           stdout=log, stderr=subprocess.STDOUT)
    wait_until(lambda: services(director) == SERVICES, "haipvs's services programmed")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=DEADLINE) == 0, (tmp_path / "haipvs.log").read_text()[-3000:]
    haipvs_runs = recorded(out)
    print("keepalived:", keepalived_runs, "haipvs:", haipvs_runs)
    assert not services(director)
    assert keepalived_runs == EXPECTED
    assert haipvs_runs == keepalived_runs
