"""Notifications: the ordered event stream (keepalived-format FIFO, JSON-lines file) and the
notify scripts.

Every event goes through `EventStream.write` on the main loop, one after the other, so the
FIFO and the JSON file see the same order as the transitions happened. Scripts are queued per
instance (or sync group) and run one at a time for it, in order, each with a timeout, as argv
(never through a shell) and with a clean environment: nothing of the daemon's (in particular
no NOTIFY_SOCKET) leaks into them.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

import structlog
import trio

from haipvs.events import Event, GroupTransition, RealServerChange, VrrpTransition
from haipvs.policy.notify_scripts import transition_scripts

__all__ = ["EventStream", "NotifyRunner", "fifo_line", "run_script", "script_environment",
           "transition_scripts"]

log = structlog.get_logger("haipvs.notify")

SCRIPT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def fifo_line(event: Event) -> str | None:
    """keepalived's notify_fifo line for an event (the text keepalived's own FIFO readers
    parse), or None for events it has no line for."""
    if isinstance(event, VrrpTransition):
        return f'INSTANCE "{event.instance}" {event.new} {event.priority}'
    if isinstance(event, GroupTransition):
        return f'GROUP "{event.group}" {event.new} 0'
    if isinstance(event, RealServerChange):
        return f"RS {event.real_server} {event.service} {'UP' if event.up else 'DOWN'}"
    return None


class EventStream:
    """Writes events, in call order, to the FIFO (created if missing) and the JSON file.

    The FIFO is opened read-write and non-blocking, like keepalived does: the daemon never
    waits for a reader, and a line that does not fit into a full pipe is dropped (counted),
    never delaying the daemon.
    """

    def __init__(self, fifo: str | None = None, json_lines: str | None = None) -> None:
        self.fifo_path = fifo
        self.json_path = json_lines
        self._fifo_fd: int | None = None
        self._json_fd: int | None = None
        self.written = 0
        self.dropped = 0

    def open(self) -> None:
        if self.fifo_path is not None:
            path = Path(self.fifo_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                os.mkfifo(path, 0o600)
            elif not stat.S_ISFIFO(path.stat().st_mode):
                raise OSError(errno.EEXIST, f"{path} exists and is not a FIFO")
            self._fifo_fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        if self.json_path is not None:
            path = Path(self.json_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            self._json_fd = os.open(
                path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640
            )

    def close(self) -> None:
        for fd in (self._fifo_fd, self._json_fd):
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._fifo_fd = self._json_fd = None

    def write(self, event: Event) -> None:
        if self._fifo_fd is not None:
            line = fifo_line(event)
            if line is not None:
                self._write(self._fifo_fd, line + "\n")
        if self._json_fd is not None:
            record = event.as_record()
            self._write(self._json_fd, json.dumps(record, sort_keys=True, default=str) + "\n")

    def _write(self, fd: int, text: str) -> None:
        try:
            # One write() per line: below PIPE_BUF it is atomic, so readers never see halves.
            os.write(fd, text.encode())
            self.written += 1
        except BlockingIOError:
            self.dropped += 1
            log.warning("event_dropped", detail="notify FIFO is full: nobody is reading it")
        except OSError as exc:
            self.dropped += 1
            log.warning("event_write_failed", error=str(exc))


def script_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A clean environment for scripts: PATH, LANG and the HAIPVS_* facts, nothing else."""
    env = {"PATH": SCRIPT_PATH, "LANG": "C.UTF-8"}
    env.update(extra or {})
    return env


async def run_script(argv: Sequence[str], timeout: float,
                     env: Mapping[str, str] | None = None) -> tuple[int | None, str]:
    """Run argv with a deadline; returns (exit code or None on timeout/failure, detail).
    The script leads its own session so a timeout kills the whole group it started."""
    try:
        with trio.move_on_after(timeout) as scope:
            result = await trio.run_process(
                list(argv), check=False, env=script_environment(env),
                stdin=subprocess.DEVNULL, capture_stdout=True, capture_stderr=True,
                start_new_session=True, deliver_cancel=_kill_group,
            )
    except OSError as exc:
        return None, f"cannot run: {exc}"
    if scope.cancelled_caught:
        return None, f"killed after {timeout:g}s timeout"
    output = (result.stderr or result.stdout or b"").decode(errors="replace").strip()
    return result.returncode, output[-200:]


async def _kill_group(process: trio.Process) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, 9)


class NotifyRunner:
    """One queue and one worker per owner (instance or sync group): its scripts run in the
    order the transitions happened and never two at a time."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._queues: dict[str, trio.MemorySendChannel] = {}
        self._nursery: trio.Nursery | None = None
        self.runs = 0
        self.failures = 0
        self.pending = 0  # queued or running batches
        self._idle: trio.Event | None = None  # set when pending drops to 0

    async def wait_idle(self) -> None:
        """Until every queued script has run (shutdown lets notify_stop finish)."""
        while self.pending:
            if self._idle is None:
                self._idle = trio.Event()
            await self._idle.wait()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            task_status.started()
            await trio.sleep_forever()

    def submit(self, owner: str, scripts: Sequence[Sequence[str]],
               env: Mapping[str, str]) -> None:
        """Queue `scripts` (run one after the other) for `owner`; returns at once."""
        if not scripts or self._nursery is None:
            return
        queue = self._queues.get(owner)
        if queue is None:
            send, receive = trio.open_memory_channel[tuple](math.inf)
            self._queues[owner] = queue = send
            self._nursery.start_soon(self._worker, owner, receive)
        self.pending += 1
        queue.send_nowait((scripts, env))

    async def _worker(self, owner: str, queue: trio.MemoryReceiveChannel) -> None:
        async for scripts, env in queue:
            try:
                for argv in scripts:
                    code, detail = await run_script(argv, self.timeout, env)
                    self.runs += 1
                    if code == 0:
                        log.info("notify_script_done", owner=owner, script=argv[0])
                    else:
                        self.failures += 1
                        log.warning("notify_script_failed", owner=owner, script=argv[0],
                                    exit_code=code, detail=detail)
            finally:
                self.pending -= 1
                if not self.pending and self._idle is not None:
                    self._idle.set()
                    self._idle = None

