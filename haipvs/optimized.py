"""The daemon runs under `python -OO` (issue 18: an idle director's RSS).

-OO leaves out docstrings and assert statements. The docstrings of everything a director
imports (haipvs's own are long, and asyncio's, trio's, pyroute2's) are ~1.8 MiB of an idle
director's RSS (bench/memory.py --servers 0, docs/benchmarks.md). Nothing haipvs runs reads
a docstring (trio and attrs copy docstrings only when there are some), and an assert is not
behaviour: haipvs's narrow types (`assert x is not None`) or check invariants, which the
tests, run without -OO, keep checking.

A console script (pip's `haipvs`, which the bench and the systemd unit run) cannot give the
interpreter flags, and neither can `PYTHONOPTIMIZE` be set for every way the daemon is
started (a shell, the unit, the Debian wrapper). So `haipvs --config` (the daemon, and only
when run from its command line, not `cli.main(argv)` in a test or launcher) executes itself
again under -OO before anything else has run: the same process (PID, so the pid file and
systemd's MAINPID stay true), arguments, environment and descriptors. Only the interpreter
flags gain -OO; -I, -X and the others are kept. If the exec fails, the daemon runs as it is.

-OO reads its own byte code (`*.opt-2.pyc`): the Debian package's postinst compiles it beside
the normal one. Without it the modules are compiled at each start (slower, a higher VmHWM;
the same VmRSS once settled).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def optimized_argv(orig_argv: Sequence[str], executable: str, optimize: int) -> list[str] | None:
    """The command line that runs this process again under -OO; None when it already runs
    so (or with more), or the interpreter is not known."""
    if optimize >= 2 or not executable or not orig_argv:
        return None
    return [executable, "-OO", *orig_argv[1:]]


# The process name (comm) before the exec, for the process after it (see keep_name).
NAME_VARIABLE = "HAIPVS_PROCESS_NAME"


def reexec() -> None:
    """Returns only if the daemon goes on in this interpreter (already -OO, or no exec)."""
    argv = optimized_argv(sys.orig_argv, sys.executable, sys.flags.optimize)
    if argv is None:
        keep_name()
        return
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        with open("/proc/self/comm", encoding="utf-8", errors="replace") as comm:
            os.environ[NAME_VARIABLE] = comm.read().strip()
    except OSError:
        pass
    try:
        os.execv(argv[0], argv)
    except OSError as exc:
        os.environ.pop(NAME_VARIABLE, None)
        print(f"haipvs: running without -OO ({argv[0]}: {exc.strerror})", file=sys.stderr)


def keep_name() -> None:
    """The kernel names a process after the file it executes: `haipvs` for the console
    script, but `python3` after the exec of the interpreter. Operators find the daemon by
    that name (`pidof haipvs`, `pkill -HUP haipvs`, `killall -USR1 haipvs`, top), as they
    find keepalived, so the name from before the exec is given back. The variable is taken
    out of the environment: scripts the daemon runs do not inherit it."""
    name = os.environ.pop(NAME_VARIABLE, None)
    if not name:
        return
    from haipvs.thread_priority import name_this_thread  # the daemon imports it anyway

    name_this_thread(name)  # the main thread's name is the process's
