"""Process options at the edges of the daemon's life (settings: haipvs/config/process.py).

- `enter_net_namespace`: setns(2) into /run/netns/NAME, as keepalived's `net_namespace`
  (core/namespaces.c set_namespaces(), called from main.c before any child starts). It must
  run before any thread or socket exists: a thread keeps the namespace it was created in,
  and so does a socket.
- `run_process_script`: keepalived's `startup_script` / `shutdown_script` (main.c
  run_startup_script(), startup_shutdown_script_completed(), handle_child_timeout()): the
  script runs in its own process group; a non-zero exit is logged and start-up (or the stop)
  goes on; at the timeout its group gets SIGTERM, 2 s later SIGKILL, and after 2 s more
  haipvs gives up waiting. A script that died of our SIGTERM has its group SIGKILLed, so no
  child it started outlives it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
from collections.abc import Sequence

import structlog
import trio

from haipvs.config.process import netns_path
from haipvs.dataclass_lean import dataclass
from haipvs.script_creds import process_options

log = structlog.get_logger("haipvs")

CLONE_NEWNET = 0x40000000  # <sched.h>
# handle_child_timeout(): SIGTERM at the timeout, SIGKILL 2 s later, then give up.
KILL_STEPS: tuple[tuple[signal.Signals, float], ...] = (
    (signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0))


def _setns(fd: int) -> None:
    if hasattr(os, "setns"):  # Python 3.12
        os.setns(fd, CLONE_NEWNET)
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


def enter_net_namespace(name: str) -> None:
    """Move the calling thread (call it from the only one) into /run/netns/NAME. Raises
    OSError naming the path when the namespace does not exist or cannot be entered."""
    path = netns_path(name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot open {path} ({exc.strerror}): create it with "
                      f"`ip netns add {name}`") from None
    try:
        _setns(fd)
    except OSError as exc:
        raise OSError(exc.errno, f"setns({path}) failed: {exc.strerror}") from None
    finally:
        os.close(fd)


@dataclass(frozen=True)
class ScriptOutcome:
    """How a startup/shutdown script ended: `returncode` as subprocess gives it (negative:
    killed by that signal), None when it could not be started or would not die."""

    returncode: int | None
    timed_out: bool = False
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


async def run_process_script(what: str, argv: Sequence[str], timeout: float,
                             user: str | None = None) -> ScriptOutcome:
    """Run `argv` (no shell) as its own user (`startup_script SCRIPT USER [GROUP]`: a
    ScriptCommand's run_as), else `user` (global.script_user: keepalived's
    notify_script_init() gives these scripts the default script user) and wait for it, at
    most `timeout` s plus the kill steps."""
    user = getattr(argv, "run_as", None) or user
    log.info(f"{what}_script_running", script=list(argv), timeout=timeout, user=user)
    try:
        process = await trio.lowlevel.open_process(
            list(argv), stdin=subprocess.DEVNULL, start_new_session=True, close_fds=True,
            **process_options(user))
    except (OSError, KeyError) as exc:  # KeyError: the user is gone since the config check
        log.error(f"{what}_script_failed", script=argv[0], error=str(exc))
        return ScriptOutcome(None, error=str(exc))
    timed_out = False
    with trio.move_on_after(timeout):
        await process.wait()
    if process.returncode is None:
        timed_out = True
        log.warning(f"{what}_script_timed_out", script=argv[0], pid=process.pid,
                    timeout=timeout)
        for signum, wait in KILL_STEPS:
            _kill_group(process.pid, signum)
            with trio.move_on_after(wait):
                await process.wait()
            if process.returncode is not None:
                break
        if process.returncode == -signal.SIGTERM:
            _kill_group(process.pid, signal.SIGKILL)  # what it started dies with it
    outcome = ScriptOutcome(process.returncode, timed_out)
    if process.returncode is None:
        log.error(f"{what}_script_not_dead", script=argv[0], pid=process.pid)
    elif process.returncode != 0:
        log.warning(f"{what}_script_failed", script=argv[0], status=process.returncode,
                    timed_out=timed_out)
    else:
        log.info(f"{what}_script_done", script=argv[0])
    return outcome


def _kill_group(pid: int, signum: signal.Signals) -> None:
    try:
        os.killpg(pid, signum)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        log.error("script_kill_failed", pid=pid, signal=signum.name, error=str(exc))
