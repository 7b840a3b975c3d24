"""MISC_CHECK: run a program (argv, never a shell) with a timeout.

Exit 0 = up, 1 = down; with misc_dynamic, 2..255 = up with weight (code - 2). The program
gets a clean environment and its own session, so on timeout the whole process group is
killed, grandchildren included.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import subprocess

import trio

from haipvs.health.net import timeout_reason
from haipvs.health.spec import MiscProbe
from haipvs.health.state import CheckResult
from haipvs.script_creds import process_options

SAFE_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


async def _kill_process_group(process: trio.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _known_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def interpret_exit(code: int, dynamic: bool) -> CheckResult:
    if code < 0:
        return CheckResult(False, f"killed by signal {-code}")
    if code == 0:
        return CheckResult(True, "exit 0")
    if dynamic and code >= 2:
        weight = code - 2
        return CheckResult(True, f"exit {code} (weight {weight})", weight=weight)
    return CheckResult(False, f"exit {code}")


async def probe_misc(probe: MiscProbe) -> CheckResult:
    started = trio.current_time()
    options: dict = {
        "env": {"PATH": SAFE_PATH, **dict(probe.env)},
        "stdin": subprocess.DEVNULL,
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
        "start_new_session": True,  # own process group, killed as a whole
        "cwd": "/",
        "check": False,
        "deliver_cancel": _kill_process_group,
    }
    try:
        # the one helper of every script runner (set_uid_gid, set_script_env)
        options.update(process_options(probe.user))
    except KeyError:
        # checked when the config was loaded; the user or group was removed since
        name, _, group = probe.user.partition(":")
        return CheckResult(False, f"unknown group {group}" if _known_user(name)
                           else f"unknown user {name}")
    process = None
    with trio.move_on_after(probe.timeout) as scope:
        try:
            process = await trio.run_process(list(probe.argv), **options)
        except OSError as exc:
            return CheckResult(False, f"exec failed: {exc.strerror or exc}")
    latency = trio.current_time() - started
    if scope.cancelled_caught or process is None:
        return CheckResult(False, timeout_reason(probe.timeout) + " (killed)", latency)
    result = interpret_exit(process.returncode, probe.dynamic)
    return result._replace(latency=latency)
