"""FILE_CHECK probe: reads the tracked file's first bytes in a worker thread (never on the
loop) and hands them to haipvs.policy.file_check (keepalived 2.2.7 check_file.c).

keepalived watches the file with inotify and acts on each change at once; haipvs polls it
each delay_loop (default 0.5 s, as its vrrp_track_file): every checker goes through the one
engine and its timing, a file that is replaced by a rename or whose directory appears later
needs no watch management, and the cost is at most one delay_loop of latency.
"""

from __future__ import annotations

import trio

from haipvs.health.state import CheckResult
from haipvs.policy.file_check import READ_SIZE, FileProbe, file_verdict, read_number


def _read(path: str) -> bytes | None:
    """process_track_file(): a file that cannot be opened reads as 0."""
    try:
        with open(path, "rb") as handle:
            return handle.read(READ_SIZE)
    except OSError:
        return None


async def probe_file(probe: FileProbe) -> CheckResult:
    started = trio.current_time()
    # keepalived: "Invalid number ... - ignoring": the last one stands
    number = probe.last.update(read_number(await trio.to_thread.run_sync(_read, probe.path)))
    verdict = file_verdict(number, probe)
    return CheckResult(verdict.up, verdict.reason, trio.current_time() - started, verdict.weight)
