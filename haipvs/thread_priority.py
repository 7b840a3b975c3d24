"""keepalived's `vrrp_priority` and `checker_priority` for haipvs' threads.

keepalived sets the nice value of its VRRP and checker child processes (core/main.c
set_process_priority()). haipvs has threads instead: Linux gives each thread its own nice
value, set with setpriority(PRIO_PROCESS, thread id). The VRRP thread outranks the main
thread by default (limits.VRRP_PRIORITY_DEFAULT says why). Applied once the VRRP thread
runs, and again on each reload; lowering a nice value needs CAP_SYS_NICE (the unit grants
it), raising it never fails.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading

import structlog

from haipvs import limits

log = structlog.get_logger("haipvs")


PR_SET_NAME = 15  # <linux/prctl.h>


def name_this_thread(name: str) -> None:
    """The kernel's name of the calling thread (/proc/PID/task/TID/comm, `top -H`, `ps -L`),
    at most 15 bytes: an operator can then tell the VRRP thread from the checkers, as
    keepalived's child processes are told apart. Python's thread names stay in Python."""
    with contextlib.suppress(OSError, AttributeError):  # not Linux: only cosmetic
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, name.encode()[:15], 0, 0, 0)


def set_nice(thread_id: int, value: int) -> str | None:
    """Give one thread the nice value; None if it has it now, else why not."""
    try:
        if os.getpriority(os.PRIO_PROCESS, thread_id) != value:
            os.setpriority(os.PRIO_PROCESS, thread_id, value)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def apply(vrrp_priority: int, checker_priority: int, vrrp_thread_id: int | None) -> None:
    """global.vrrp_priority to the VRRP thread, global.checker_priority to the calling (main)
    thread. A refusal is logged and changes nothing else: a default that cannot be had (no
    CAP_SYS_NICE) is a note, a value the operator set is a warning."""
    targets = [("checker_priority", threading.get_native_id(), checker_priority,
                limits.CHECKER_PRIORITY_DEFAULT)]
    if vrrp_thread_id is not None:
        targets.append(("vrrp_priority", vrrp_thread_id, vrrp_priority,
                        limits.VRRP_PRIORITY_DEFAULT))
    for setting, thread_id, value, default in targets:
        error = set_nice(thread_id, value)
        if error is not None:
            (log.info if value == default else log.warning)(
                "thread_priority_not_set", setting=f"global.{setting}", nice=value,
                error=error, detail="needs CAP_SYS_NICE; the thread keeps its nice value")
