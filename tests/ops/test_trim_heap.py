"""Freed C heap goes back to the kernel (haipvs/resources.py trim_heap): blocks freed in the
middle of the heap, below a block still in use, stay in VmRSS until malloc_trim(0) hands
their pages back. The daemon trims once started and every TRIM_HEAP_INTERVAL after."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")

PROGRAM = textwrap.dedent("""
    import ctypes, sys
    from haipvs.resources import trim_heap

    def rss_kib():
        with open("/proc/self/status") as status:
            return next(int(l.split()[1]) for l in status if l.startswith("VmRSS"))

    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    blocks = [libc.malloc(4096) for _ in range(16384)]  # 64 MiB below the mmap threshold
    for block in blocks:
        libc.memset(block, 1, 4096)
    pinned = libc.malloc(4096)  # in use above them: the heap's top cannot shrink
    libc.memset(pinned, 1, 4096)
    for block in blocks:
        libc.free(block)
    before = rss_kib()
    trimmed = trim_heap() if sys.argv[1] == "trim" else False
    print(trimmed, before - rss_kib())  # KiB released (a few KiB either way is noise)
""")


def run(mode: str) -> list[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    return subprocess.run([sys.executable, "-c", PROGRAM, mode], env=environ, check=True,
                          capture_output=True, text=True).stdout.split()


def test_freed_heap_stays_resident_until_trimmed():
    trimmed, released_kib = run("keep")
    # not "== 0 MiB": floor division read a rise of a few KiB as -1 (1 run in 10)
    assert trimmed == "False" and abs(int(released_kib)) < 1024
    trimmed, released_kib = run("trim")
    assert trimmed == "True" and int(released_kib) >= 48 * 1024


async def test_the_daemon_trims_once_started_and_every_interval(monkeypatch, autojump_clock):
    import trio

    from haipvs import daemon_tasks, resources

    trims: list[float] = []
    monkeypatch.setattr(resources, "trim_heap", lambda: trims.append(trio.current_time()))
    with trio.move_on_after(2.5 * daemon_tasks.TRIM_HEAP_INTERVAL):
        await daemon_tasks.trim_heap_loop()
    interval = daemon_tasks.TRIM_HEAP_INTERVAL
    assert [t - trims[0] for t in trims] == [0.0, interval, 2 * interval]
