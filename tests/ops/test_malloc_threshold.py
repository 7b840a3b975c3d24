"""glibc's mmap threshold stays fixed, so large netlink receive buffers are mmap'd (and given
back when freed) instead of carved from a thread's heap (haipvs/resources.py)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")

# A 300 KiB block is mmap'd at the default threshold; freeing it makes glibc raise the
# threshold, so a later 256 KiB block (pyroute2's receive buffer) comes from the heap,
# unless the threshold was fixed. mallinfo2().hblks counts the mmap'd blocks in use.
PROGRAM = textwrap.dedent("""
    import ctypes, sys
    from haipvs.resources import fix_malloc_mmap_threshold

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]

    libc = ctypes.CDLL(None)
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    libc.mallinfo2.restype = MallInfo2
    fixed = fix_malloc_mmap_threshold() if sys.argv[1] == "fix" else False
    libc.free(libc.malloc(300 * 1024))
    before = libc.mallinfo2().hblks
    block = libc.malloc(256 * 1024 + 33)
    print(fixed, libc.mallinfo2().hblks - before)
    libc.free(block)
""")


def run(mode: str, **env: str) -> str:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    environ.update(env)
    return subprocess.run([sys.executable, "-c", PROGRAM, mode], env=environ, check=True,
                          capture_output=True, text=True).stdout.split()


def test_fixed_threshold_keeps_large_buffers_in_mmap():
    assert run("adaptive") == ["False", "0"]  # the behaviour being fixed
    assert run("fix") == ["True", "1"]


def test_an_operators_own_setting_wins():
    assert run("fix", MALLOC_MMAP_THRESHOLD_="1048576") == ["False", "0"]
