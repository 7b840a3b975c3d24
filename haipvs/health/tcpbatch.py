"""Batched TCP_CHECK scheduler: every TCP checker of the engine in ONE trio task.

One trio task (and its cancel scopes, timers and wake-ups) per TCP check costs ~100 µs of
Python per check, too much for 10,000 checks/s on one core. Here the due checks are started
from a timer heap, their non-blocking connects are watched by a private epoll set whose fd
trio watches, and connect timeouts are a second heap, so the per-check cost is a few
syscalls plus a little bookkeeping. Results and reasons are the same as `tcp.probe_tcp`.

File descriptors: at most RLIMIT_NOFILE - limits.TCP_CHECK_FD_RESERVE connects are in
flight; a due check beyond that waits for a slot. A check that cannot get a socket (EMFILE,
ENFILE, ENOBUFS, ENOMEM) gives no verdict and waits too: keepalived check_tcp.c
tcp_connect_thread ("TCP connect fail to create socket. Rescheduling.") never marks a server
down for the director's own shortage. At 50,000 servers the first round (spread over 5 s)
otherwise failed 40% of them with "too many open files".
"""

from __future__ import annotations

import errno
import heapq
import itertools
import resource
import select
import socket
from collections import deque
from collections.abc import Callable
from typing import Any

import structlog
import trio

from haipvs import limits
from haipvs.health.net import bind_source, errno_reason, os_error_reason, timeout_reason
from haipvs.health.spec import TcpProbe
from haipvs.health.state import CheckResult
from haipvs.health.tcp import _LINGER_RST, _STREAM_FLAGS

_IN_PROGRESS = (errno.EINPROGRESS, errno.EAGAIN)
_EPOLLOUT_ERR = select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP
_SOL_SOCKET = socket.SOL_SOCKET
_SO_ERROR = socket.SO_ERROR
_SO_LINGER = socket.SO_LINGER
_MAX_EVENTS = 4096
_NO_FD = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

log = structlog.get_logger("haipvs.health")


def fd_budget() -> int:
    """Connects the batch may keep in flight: the process's fd limit less the reserve."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(1, soft - limits.TCP_CHECK_FD_RESERVE)

# finish(job, result, now) -> absolute time of the next attempt, or None to stop.
FinishCallback = Callable[[Any, CheckResult, float], float | None]


class TcpJob:
    """One scheduled TCP checker. `active` False = dropped (reload); `paused` = skip."""

    __slots__ = ("active", "family", "owner", "paused", "planned", "probe", "sockaddr")

    def __init__(self, probe: TcpProbe, owner: Any) -> None:
        self.probe = probe
        self.owner = owner
        self.active = True
        self.paused = False
        self.planned = 0.0  # when the current attempt was due (the engine keeps its phase)
        self.family = socket.AF_INET6 if ":" in probe.endpoint.address else socket.AF_INET
        self.sockaddr = (probe.endpoint.address, probe.endpoint.port)


class TcpBatchScheduler:
    def __init__(self, finish: FinishCallback, max_inflight: int | None = None) -> None:
        self._finish = finish
        self._max_inflight = max_inflight  # None: fd_budget() when run starts
        # due checks wait: no free slot, or no socket to be had (see the module doc)
        self._blocked = False
        self.waited = 0  # rounds in which due checks had to wait for a descriptor
        # Due checks by start time, and a heap of those times: the engine puts starts on a
        # 10 ms grid, so a bucket holds many checks and the heap stays small (a heap of one
        # entry per check spent ~7% of the CPU comparing tuples at 20k checks/s).
        self._due: dict[float, list[TcpJob]] = {}
        self._due_at: list[float] = []
        # (deadline, fd, attempt number) per connect_timeout value: within one value the
        # deadlines come in start order, so a FIFO replaces a heap.
        self._timeouts: dict[float, deque[tuple[float, int, int]]] = {}
        # fd -> (socket, job, start time, attempt number); the number tells a timeout entry
        # from one left behind by an earlier connect that had the same fd.
        self._inflight: dict[int, tuple[socket.socket, TcpJob, float, int]] = {}
        self._parked: list[TcpJob] = []
        self._seq = itertools.count()
        self._epoll: select.epoll | None = None
        self._wait_scope: trio.CancelScope | None = None

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def schedule(self, job: TcpJob, when: float) -> None:
        job.planned = when
        bucket = self._due.get(when)
        if bucket is None:
            self._due[when] = [job]
            heapq.heappush(self._due_at, when)
        else:
            bucket.append(job)
        scope = self._wait_scope
        if scope is not None and when < scope.deadline:
            scope.deadline = when

    def unpark(self, now: float) -> None:
        """Reschedule paused jobs that are no longer paused (call after a resume)."""
        parked, self._parked = self._parked, []
        for job in parked:
            if not job.active:
                continue
            if job.paused:
                self._parked.append(job)
            else:
                self.schedule(job, now)

    async def run(self) -> None:
        if self._max_inflight is None:
            self._max_inflight = fd_budget()  # after the daemon raised its limit
        self._epoll = epoll = select.epoll()
        try:
            while True:
                now = trio.current_time()
                self._start_due(now)
                # Completions first: after a long round of connects, answers already queued
                # in the epoll set must not be counted as timeouts.
                self._collect(epoll)
                self._expire(now)
                wake = min(self._next_start(now), self._next_timeout())
                with trio.CancelScope(deadline=wake) as scope:
                    self._wait_scope = scope
                    await trio.lowlevel.wait_readable(epoll.fileno())
                self._wait_scope = None
                self._collect(epoll)
        finally:
            self._wait_scope = None
            for sock, *_rest in self._inflight.values():
                sock.close()
            self._inflight.clear()
            epoll.close()
            self._epoll = None

    def _next_start(self, now: float) -> float:
        if not self._due_at:
            return float("inf")
        if self._blocked:  # a completion frees a slot; without any in flight, look again
            return float("inf") if self._inflight else now + limits.TCP_CHECK_NO_FD_RETRY
        return self._due_at[0]

    def _next_timeout(self) -> float:
        return min((queue[0][0] for queue in self._timeouts.values() if queue),
                   default=float("inf"))

    def _start_due(self, now: float) -> None:
        due, due_at = self._due, self._due_at
        inflight = self._inflight
        cap = self._max_inflight if self._max_inflight is not None else fd_budget()
        was_blocked, self._blocked = self._blocked, False
        while due_at and due_at[0] <= now:
            when = due_at[0]
            bucket = due[when]
            i = 0
            while i < len(bucket):  # a check finishing at once may append to the bucket
                job = bucket[i]
                if len(inflight) >= cap:
                    del bucket[:i]
                    self._wait_for_fd(was_blocked, "in-flight limit")
                    return
                if not job.active or job.paused:
                    i += 1
                    if job.active:
                        self._parked.append(job)
                    continue
                try:
                    sock = socket.socket(job.family, _STREAM_FLAGS)
                except OSError as exc:
                    if exc.errno in _NO_FD:  # stays due, no verdict (module doc)
                        del bucket[:i]
                        self._wait_for_fd(was_blocked, os_error_reason(exc))
                        return
                    i += 1
                    self._done(job, CheckResult(False, f"socket: {os_error_reason(exc)}"), now)
                    continue
                i += 1
                self._connect(sock, job, now)
            heapq.heappop(due_at)
            del due[when]

    def _connect(self, sock: socket.socket, job: TcpJob, now: float) -> None:
        try:
            source = bind_source(sock, job.probe.endpoint)
            if source is not None:
                sock.bind(source)
            err = sock.connect_ex(job.sockaddr)
        except OSError as exc:
            self._close(sock)
            self._done(job, CheckResult(False, os_error_reason(exc)), now)
            return
        if err in _IN_PROGRESS:
            fd = sock.fileno()
            assert self._epoll is not None
            self._epoll.register(fd, _EPOLLOUT_ERR)
            attempt = next(self._seq)
            self._inflight[fd] = (sock, job, now, attempt)
            timeout = job.probe.connect_timeout
            queue = self._timeouts.get(timeout)
            if queue is None:
                queue = self._timeouts[timeout] = deque()
            queue.append((now + timeout, fd, attempt))
        else:
            self._close(sock)
            self._done(job, CheckResult(err == 0, errno_reason(err) if err else "connected"),
                       now)

    def _wait_for_fd(self, was_blocked: bool, why: str) -> None:
        self._blocked = True
        self.waited += 1
        if not was_blocked:  # once per shortage, not once per check
            log.warning("tcp_checks_waiting", reason=why, in_flight=len(self._inflight))

    def _collect(self, epoll: select.epoll) -> None:
        events = epoll.poll(0, _MAX_EVENTS)
        if not events:
            return
        now = trio.current_time()
        inflight = self._inflight
        for fd, _mask in events:
            entry = inflight.pop(fd, None)
            if entry is None:
                continue
            sock, job, started, _attempt = entry
            err = sock.getsockopt(_SOL_SOCKET, _SO_ERROR)
            self._close(sock)  # closing also drops the fd from the epoll set
            if err:
                result = CheckResult(False, errno_reason(err), now - started)
            else:
                result = CheckResult(True, "connected", now - started)
            self._done(job, result, now)

    def _expire(self, now: float) -> None:
        inflight = self._inflight
        for timeout, queue in list(self._timeouts.items()):
            while queue and queue[0][0] <= now:
                _deadline, fd, attempt = queue.popleft()
                entry = inflight.get(fd)
                if entry is None or entry[3] != attempt:
                    continue
                del inflight[fd]
                sock, job, started, _attempt = entry
                self._close(sock)
                self._done(job, CheckResult(False, timeout_reason(timeout), now - started), now)
            if not queue:
                del self._timeouts[timeout]

    @staticmethod
    def _close(sock: socket.socket) -> None:
        sock.setsockopt(_SOL_SOCKET, _SO_LINGER, _LINGER_RST)
        sock.close()

    def _done(self, job: TcpJob, result: CheckResult, now: float) -> None:
        if not job.active:
            return
        when = self._finish(job, result, now)
        if when is not None:
            self.schedule(job, when)
