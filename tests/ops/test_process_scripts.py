"""startup_script / shutdown_script runner (haipvs/drivers/process_options.py), as keepalived's
main.c run_startup_script() / handle_child_timeout(): exit status logged, the group killed
at the timeout (SIGTERM, then SIGKILL 2 s later), children of a killed script killed too."""

from __future__ import annotations

import grp
import os
import pwd
import signal
import sys
import tempfile
import time
from pathlib import Path

import pytest
import trio

from haipvs.drivers.process_options import run_process_script


def run(argv: list[str], timeout: float):
    return trio.run(run_process_script, "startup", tuple(argv), timeout)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_script_that_succeeds_or_fails_is_waited_for():
    assert run(["/bin/true"], 5).ok
    failed = run(["/bin/sh", "-c", "exit 3"], 5)
    assert (failed.returncode, failed.timed_out, failed.ok) == (3, False, False)


def test_a_missing_script_is_reported_not_raised(tmp_path: Path):
    outcome = run([str(tmp_path / "nope")], 5)
    assert outcome.returncode is None and outcome.error


def test_at_the_timeout_the_script_and_what_it_started_are_killed(tmp_path: Path):
    """handle_child_timeout(): SIGTERM to the process group; startup_shutdown_script_completed():
    a script that died of that SIGTERM has its group SIGKILLed (its children go too)."""
    pid_file = tmp_path / "child.pid"
    script = (f"sleep 60 & echo $! > {pid_file}; trap 'exit 143' TERM; "
              "while true; do sleep 0.05; done")
    started = time.monotonic()
    outcome = run(["/bin/sh", "-c", script], 0.5)
    assert outcome.timed_out and outcome.returncode is not None
    assert time.monotonic() - started < 2.5
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 2
    while alive(child) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(child)


def test_a_script_ignoring_sigterm_gets_sigkill_two_seconds_later():
    code = ("import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "time.sleep(60)")
    started = time.monotonic()
    outcome = run([sys.executable, "-c", code], 0.3)
    took = time.monotonic() - started
    assert outcome.timed_out and outcome.returncode == -signal.SIGKILL
    assert 2.2 <= took < 4.5


def test_the_script_runs_as_the_script_user():
    """global_parser.c startup_shutdown_script() -> notify_script_init(): the default script
    user (global.script_user) applies to these scripts as to notify scripts."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch users")
    # pytest's tmp_path is under a 0700 directory that nobody cannot reach.
    with tempfile.TemporaryDirectory(dir="/tmp") as shared:
        Path(shared).chmod(0o777)
        out = Path(shared) / "id"
        outcome = trio.run(run_process_script, "startup",
                           ("/bin/sh", "-c", f"id -u > {out}; id -g >> {out}"), 5,
                           "nobody:nogroup")
        assert outcome.ok
        assert out.read_text().split() == [str(pwd.getpwnam("nobody").pw_uid),
                                           str(grp.getgrnam("nogroup").gr_gid)]
