"""What the batched checkers (tcpbatch.py: TCP_CHECK, httpbatch.py: plain HTTP_GET) share:
one trio task per kind runs every check of that kind.

- Due checks sit in buckets per start time under a heap of those times: the engine puts
  starts on a 10 ms grid, so a bucket holds many checks and the heap stays small (a heap
  entry per check spent ~7% of the CPU comparing tuples at 20k checks/s).
- Connect deadlines are (deadline, fd, attempt) in one FIFO per connect_timeout: within one
  timeout they come in start order, so no heap is needed. The attempt number tells an entry
  from one left behind by an earlier connect that had the same fd.
- The sockets sit in a private epoll set whose fd trio watches. Completions are read before
  timeouts expire: after a long round of connects, answers already queued are not timeouts.
- File descriptors: checks in flight stay below a budget from RLIMIT_NOFILE
  (limits.TCP_CHECK_FD_RESERVE); a due check beyond it, or one that cannot get a socket
  (EMFILE, ENFILE, ENOBUFS, ENOMEM), waits without a verdict, as keepalived's check_tcp.c
  tcp_connect_thread reschedules it ("TCP connect fail to create socket. Rescheduling.").

A subclass opens a check (`_begin`), handles a ready one (`_event`) and ends a timed-out one
(`_expire_one`); results go through `_done` to the engine's `finish` callback.
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
from typing import Any, Generic, Protocol, TypeVar

import structlog
import trio

from haipvs import limits
from haipvs.health.net import bind_source
from haipvs.health.spec import HttpProbe, TcpProbe
from haipvs.health.state import CheckResult

NO_FD = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
MAX_EVENTS = 4096  # per epoll read

log = structlog.get_logger("haipvs.health")

# finish(job, result, now) -> absolute time of the next attempt, or None to stop.
FinishCallback = Callable[[Any, CheckResult, float], float | None]


class Job:
    """One scheduled checker of a batch. `active` False = dropped (reload); `paused` =
    ha_suspend: skip, park until resumed. `owner` is the engine's checker."""

    __slots__ = ("active", "family", "owner", "paused", "planned", "probe")

    def __init__(self, probe: TcpProbe | HttpProbe, owner: Any) -> None:
        self.probe = probe
        self.owner = owner
        self.active = True
        self.paused = False
        self.planned = 0.0  # when the current attempt was due (the engine keeps its phase)
        endpoint = probe.endpoint
        self.family = socket.AF_INET6 if ":" in endpoint.address else socket.AF_INET


def start_connect(sock: Any, job: Job) -> int:
    """Bind to the check's source (bindto, bind_port, bind_if) if it has one, then the
    non-blocking connect: its errno (EINPROGRESS while under way)."""
    source = bind_source(sock, job.probe.endpoint)
    if source is not None:
        sock.bind(source)
    # the address tuple is built per connect, not kept per job (56 bytes per checker)
    endpoint = job.probe.endpoint
    result: int = sock.connect_ex((endpoint.address, endpoint.port))
    return result


class InFlight(Protocol):
    attempt: int  # tells a deadline entry from one of an earlier connect on the same fd

    def close(self) -> None: ...


J = TypeVar("J", bound=Job)
F = TypeVar("F", bound=InFlight)


def fd_budget() -> int:
    """Checks the batches may keep in flight: the process's fd limit less the reserve."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 20
    return max(1, soft - limits.TCP_CHECK_FD_RESERVE)


class BatchScheduler(Generic[J, F]):
    WAITING_EVENT = "checks_waiting"  # the log event of a shortage (once per shortage)

    def __init__(self, finish: FinishCallback, max_inflight: int | None = None) -> None:
        self._finish = finish
        self._max_inflight = max_inflight  # None: _default_budget() when run starts
        self._blocked = False  # due checks wait: no free slot, or no socket to be had
        self._was_blocked = False
        self.waited = 0  # rounds in which due checks had to wait for a descriptor
        self._due: dict[float, list[J]] = {}
        self._due_at: list[float] = []
        self._timeouts: dict[float, deque[tuple[float, int, int]]] = {}
        self._inflight: dict[int, F] = {}
        self._parked: list[J] = []
        self._seq = itertools.count()
        self._epoll: select.epoll | None = None
        self._wait_scope: trio.CancelScope | None = None

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def schedule(self, job: J, when: float) -> None:
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
            self._max_inflight = self._default_budget()  # after the daemon raised its limit
        self._epoll = epoll = select.epoll()
        try:
            while True:
                now = trio.current_time()
                self._start_due(now)
                self._collect(epoll)  # answers already queued are not timeouts
                self._expire(trio.current_time())
                wake = min(self._next_start(now), self._next_timeout())
                with trio.CancelScope(deadline=wake) as scope:
                    self._wait_scope = scope
                    await trio.lowlevel.wait_readable(epoll.fileno())
                self._wait_scope = None
                self._collect(epoll)
        finally:
            self._wait_scope = None
            for flight in self._inflight.values():
                flight.close()
            self._inflight.clear()
            epoll.close()
            self._epoll = None

    # ---- for the subclasses -------------------------------------------------------------

    def _default_budget(self) -> int:
        return fd_budget()

    def _begin(self, job: J, now: float) -> bool:
        """Start one due check. False only when no socket can be had (it stays due)."""
        raise NotImplementedError

    def _event(self, fd: int, flight: F, now: float) -> None:
        """The epoll set says `fd` (a check in flight) is ready."""
        raise NotImplementedError

    def _expire_one(self, fd: int, flight: F, timeout: float, now: float) -> None:
        raise NotImplementedError

    def _track(self, fd: int, flight: F, timeout: float, now: float, attempt: int) -> None:
        """A connect in flight: watched until it answers or `timeout` passes."""
        self._inflight[fd] = flight
        queue = self._timeouts.get(timeout)
        if queue is None:
            queue = self._timeouts[timeout] = deque()
        queue.append((now + timeout, fd, attempt))

    def _wait_for_fd(self, why: str) -> None:
        self._blocked = True
        self.waited += 1
        if not self._was_blocked:  # once per shortage, not once per check
            self._was_blocked = True
            log.warning(self.WAITING_EVENT, reason=why, in_flight=len(self._inflight))

    def _done(self, job: J, result: CheckResult, now: float) -> None:
        if not job.active:
            return
        when = self._finish(job, result, now)
        if when is not None:
            self.schedule(job, when)

    # ---- the shared loop ----------------------------------------------------------------

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
        cap = self._max_inflight or self._default_budget()
        self._was_blocked, self._blocked = self._blocked, False
        while due_at and due_at[0] <= now:
            when = due_at[0]
            bucket = due[when]
            i = 0
            while i < len(bucket):  # a check finishing at once may append to the bucket
                job = bucket[i]
                if len(self._inflight) >= cap:
                    del bucket[:i]
                    self._wait_for_fd("in-flight limit")
                    return
                if not job.active or job.paused:
                    i += 1
                    if job.active:
                        self._parked.append(job)
                    continue
                if not self._begin(job, now):
                    del bucket[:i]  # no socket to be had: stays due (module doc)
                    return
                i += 1
            heapq.heappop(due_at)
            del due[when]

    def _collect(self, epoll: select.epoll) -> None:
        events = epoll.poll(0, MAX_EVENTS)
        if not events:
            return
        now = trio.current_time()
        inflight = self._inflight
        for fd, _mask in events:
            flight = inflight.get(fd)
            if flight is not None:
                self._event(fd, flight, now)

    def _expire(self, now: float) -> None:
        inflight = self._inflight
        for timeout, queue in list(self._timeouts.items()):
            while queue and queue[0][0] <= now:
                _deadline, fd, attempt = queue.popleft()
                flight = inflight.get(fd)
                if flight is None or flight.attempt != attempt:
                    continue
                self._expire_one(fd, flight, timeout, now)
            if not queue:
                del self._timeouts[timeout]
