"""What the process holds: open fds, threads, memory and trio tasks, for the state dump.

A leak shows up here first (the soak in bench/soak.py reads these numbers), so an operator
can compare two `kill -USR1` dumps without other tools.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import trio


def count_trio_tasks() -> int:
    """Live tasks in the calling trio run, the root task included."""
    count, pending = 0, [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        count += 1
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return count


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def process_resources() -> dict[str, Any]:
    try:
        fds: int | None = len(os.listdir("/proc/self/fd"))
    except OSError:
        fds = None
    rss = _status_kib("VmRSS")
    return {
        "open_fds": fds,
        "threads": threading.active_count(),
        "os_threads": len(os.listdir("/proc/self/task")) if os.path.isdir("/proc/self/task")
        else None,
        "rss_bytes": rss * 1024 if rss is not None else None,
    }
