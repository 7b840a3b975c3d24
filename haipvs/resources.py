"""What the process holds: open fds, threads, memory and trio tasks, for the state dump.

A leak shows up here first (the soak in bench/soak.py reads these numbers), so an operator
can compare two `kill -USR1` dumps without other tools.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import threading
from typing import Any

import trio


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library if it is glibc (platform.libc_ver() reads the interpreter's binary:
    once)."""
    return ctypes.CDLL(None) if platform.libc_ver()[0] == "glibc" else None


_M_MMAP_THRESHOLD = -3  # glibc mallopt() parameter
MMAP_THRESHOLD = 128 * 1024  # glibc's default, kept fixed


def fix_malloc_mmap_threshold() -> bool:
    """Keep glibc's mmap threshold at its default instead of letting it adapt upwards.

    glibc raises the threshold when a large mmap'd block is freed. After that, the 256 KiB
    buffer that pyroute2's asyncio transport allocates for every netlink datagram it receives
    came from the rtnetlink thread's heap, and the freed remainders stayed in it: the soak saw
    that heap grow ~1 MiB in 13 minutes, nearly all of it free chunks. With a fixed threshold
    those buffers are mmap'd and go back to the kernel when freed. An operator's own
    MALLOC_MMAP_THRESHOLD_ wins; off glibc this does nothing."""
    libc = _glibc()
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or libc is None:
        return False
    return bool(libc.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def trim_heap() -> bool:
    """Hand the C heap's free pages back to the kernel (glibc malloc_trim(0), which also
    releases free pages inside the heap, not only at its top).

    Loading a config of 10,000 real servers, and the first round of their checks, leave
    megabytes of freed blocks behind (the YAML parse tree, the checks' buffers); glibc keeps
    them mapped and VmRSS counts them for the life of the daemon. Called once everything is
    started and then every ten seconds (daemon_tasks.trim_heap_loop); ctypes drops the GIL for
    the call, so the VRRP thread never waits for it. Off glibc this does nothing."""
    libc = _glibc()
    return False if libc is None else bool(libc.malloc_trim(0))


FD_LIMIT_CAP = 1 << 20


def raise_fd_limit() -> tuple[int, int]:
    """Raise the soft RLIMIT_NOFILE to the hard limit (at most 2^20); returns (before, after).

    Every check in flight holds a socket. systemd starts services with a soft limit of 1024
    (and a hard one of 524288), so a director checking thousands of real servers, some of them
    timing out, ran out of descriptors and marked healthy servers down with "too many open
    files". keepalived raises its own limit the same way (lib/process.c set_max_file_limit).
    Nothing here uses select(), so descriptors above 1024 are safe."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = FD_LIMIT_CAP if hard == resource.RLIM_INFINITY else min(hard, FD_LIMIT_CAP)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            return soft, wanted
        except (OSError, ValueError):
            pass
    return soft, soft


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
