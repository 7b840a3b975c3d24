"""Batched HTTP_GET scheduler: every plain-HTTP checker of the engine in ONE trio task.

The per-check trio path (http.py: a task, a cancel scope, a SocketStream, h11) costs ~450 µs
of CPU per check, which caps HTTP_GET near 1,400 checks/s on one core. Here, as in
tcpbatch.py, due checks start from a timer heap, their non-blocking sockets sit in a private
epoll set whose fd trio watches, and deadlines are a second heap. Each exchange is: connect,
write the pre-built request, read until the response ends (policy/http_response.py), close.

The semantics are http.py's `probe_http` (the probe tests run against both): every url in
turn on a fresh connection, all must pass; connect_timeout bounds each url's connect and
response (keepalived check_http.c: the same timeout re-armed per url); the reasons are the
same strings. SSL_GET stays on http.py (TLS needs its handshake state machine).

File descriptors: as tcpbatch.py, a check that cannot get a socket gives no verdict and
waits (keepalived reschedules); exchanges in flight stay below half the fd budget, since
the TCP batch draws on the same limit.
"""

from __future__ import annotations

import _socket
import errno
import heapq
import itertools
import select
import socket
from collections import deque
from collections.abc import Callable
from typing import Any, TypeGuard

import structlog
import trio

from haipvs import limits
from haipvs.health.http import MAX_BODY, build_request, host_header, url_failure
from haipvs.health.net import bind_source, errno_reason, os_error_reason, timeout_reason
from haipvs.health.spec import HttpProbe
from haipvs.health.state import CheckResult
from haipvs.health.tcp import _STREAM_FLAGS
from haipvs.health.tcpbatch import fd_budget
from haipvs.policy.http_response import ResponseReader

_IN_PROGRESS = (errno.EINPROGRESS, errno.EAGAIN)
_WRITE = select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP
_READ = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP
_SOL_SOCKET = socket.SOL_SOCKET
_SO_ERROR = socket.SO_ERROR
_MAX_EVENTS = 4096
_RECEIVE_SIZE = 65536
_NO_FD = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
# The C socket type: socket.socket's Python wrapper adds ~2 µs per check and nothing used here.
_new_socket = _socket.socket

log = structlog.get_logger("haipvs.health")

# finish(job, result, now) -> absolute time of the next attempt, or None to stop.
FinishCallback = Callable[[Any, CheckResult, float], float | None]


def batchable(probe: object) -> TypeGuard[HttpProbe]:
    """Plain HTTP_GET goes through the batch; SSL_GET keeps the per-check TLS path."""
    return isinstance(probe, HttpProbe) and type(probe) is HttpProbe and probe.tls is None


class HttpJob:
    """One scheduled HTTP_GET checker (same contract as tcpbatch.TcpJob)."""

    __slots__ = ("active", "family", "owner", "paused", "planned", "probe", "requests",
                 "sockaddr")

    def __init__(self, probe: HttpProbe, owner: Any) -> None:
        self.probe = probe
        self.owner = owner
        self.active = True
        self.paused = False
        self.planned = 0.0
        endpoint = probe.endpoint
        self.family = socket.AF_INET6 if ":" in endpoint.address else socket.AF_INET
        self.sockaddr = (endpoint.address, endpoint.port)
        # Built once: the request of each url never changes.
        self.requests = tuple(
            build_request(url.path, host_header(endpoint, url.virtualhost or probe.virtualhost,
                                                False), probe.http_protocol)
            for url in probe.urls)


class _Exchange:
    """One url's connection in flight."""

    __slots__ = ("attempt", "job", "out", "reader", "sock", "started", "url")

    def __init__(self, sock: _socket.socket, job: HttpJob, url: int, started: float,
                 attempt: int) -> None:
        self.sock = sock
        self.job = job
        self.url = url
        self.started = started  # start of the whole check (all urls)
        self.attempt = attempt
        self.out = b""  # request bytes still to write; b"" once sent
        self.reader: ResponseReader | None = None  # set once connected


class HttpBatchScheduler:
    def __init__(self, finish: FinishCallback, max_inflight: int | None = None) -> None:
        self._finish = finish
        self._max_inflight = max_inflight  # None: half of fd_budget() when run starts
        self._blocked = False
        self._was_blocked = False
        self.waited = 0
        # As in tcpbatch.py: due checks in buckets per start time under a heap of the times,
        # and (deadline, fd, attempt) in one FIFO per connect_timeout (deadlines are pushed
        # in time order), not a heap entry per check (~5% of the CPU in tuple compares).
        self._due: dict[float, list[HttpJob]] = {}
        self._due_at: list[float] = []
        self._timeouts: dict[float, deque[tuple[float, int, int]]] = {}
        self._inflight: dict[int, _Exchange] = {}
        self._parked: list[HttpJob] = []
        self._seq = itertools.count()
        self._epoll: select.epoll | None = None
        self._wait_scope: trio.CancelScope | None = None

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    def schedule(self, job: HttpJob, when: float) -> None:
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
            self._max_inflight = max(1, fd_budget() // 2)
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
            for exchange in self._inflight.values():
                exchange.sock.close()
            self._inflight.clear()
            epoll.close()
            self._epoll = None

    def _next_start(self, now: float) -> float:
        if not self._due_at:
            return float("inf")
        if self._blocked:
            return float("inf") if self._inflight else now + limits.TCP_CHECK_NO_FD_RETRY
        return self._due_at[0]

    def _next_timeout(self) -> float:
        return min((queue[0][0] for queue in self._timeouts.values() if queue),
                   default=float("inf"))

    def _start_due(self, now: float) -> None:
        due, due_at = self._due, self._due_at
        cap = self._max_inflight or 1
        self._was_blocked, self._blocked = self._blocked, False
        while due_at and due_at[0] <= now:
            when = due_at[0]
            bucket = due[when]
            i = 0
            while i < len(bucket):  # a check failing at once may append to the bucket
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
                if not self._open(job, 0, now, now):
                    del bucket[:i]  # no socket to be had: stays due (module doc)
                    return
                i += 1
            heapq.heappop(due_at)
            del due[when]

    def _wait_for_fd(self, why: str) -> None:
        self._blocked = True
        self.waited += 1
        if not self._was_blocked:  # once per shortage, not once per check
            self._was_blocked = True
            log.warning("http_checks_waiting", reason=why, in_flight=len(self._inflight))

    def _open(self, job: HttpJob, url: int, started: float, now: float) -> bool:
        """Connect for url `url` of `job`. False only when no socket can be had."""
        try:
            sock = _new_socket(job.family, _STREAM_FLAGS)
        except OSError as exc:
            if exc.errno in _NO_FD:
                self._wait_for_fd(os_error_reason(exc))
                return False
            self._url_failed(job, url, f"socket: {os_error_reason(exc)}", started, now)
            return True
        try:
            source = bind_source(sock, job.probe.endpoint)
            if source is not None:
                sock.bind(source)
            err = sock.connect_ex(job.sockaddr)
        except OSError as exc:
            sock.close()
            self._url_failed(job, url, os_error_reason(exc), started, now)
            return True
        if err not in _IN_PROGRESS and err != 0:
            sock.close()
            self._url_failed(job, url, errno_reason(err), started, now)
            return True
        fd = sock.fileno()
        attempt = next(self._seq)
        exchange = _Exchange(sock, job, url, started, attempt)
        exchange.out = job.requests[url]
        self._inflight[fd] = exchange
        assert self._epoll is not None
        self._epoll.register(fd, _WRITE)
        timeout = job.probe.connect_timeout
        queue = self._timeouts.get(timeout)
        if queue is None:
            queue = self._timeouts[timeout] = deque()
        queue.append((now + timeout, fd, attempt))
        return True

    def _collect(self, epoll: select.epoll) -> None:
        events = epoll.poll(0, _MAX_EVENTS)
        if not events:
            return
        now = trio.current_time()
        inflight = self._inflight
        for fd, _mask in events:
            exchange = inflight.get(fd)
            if exchange is None:
                continue
            if exchange.reader is None:
                self._connected(fd, exchange, now)
            else:
                self._readable(fd, exchange, now)

    def _connected(self, fd: int, exchange: _Exchange, now: float) -> None:
        sock = exchange.sock
        err = sock.getsockopt(_SOL_SOCKET, _SO_ERROR)
        if err:
            self._end(fd, exchange, errno_reason(err), now)
            return
        try:
            sent = sock.send(exchange.out)
        except BlockingIOError:
            return  # still EPOLLOUT; writable again later
        except OSError:
            self._end(fd, exchange, "connection reset", now)  # as trio's BrokenResourceError
            return
        exchange.out = exchange.out[sent:]
        if exchange.out:
            return
        job = exchange.job
        exchange.reader = ResponseReader(MAX_BODY, job.probe.urls[exchange.url].path)
        assert self._epoll is not None
        self._epoll.modify(fd, _READ)

    def _readable(self, fd: int, exchange: _Exchange, now: float) -> None:
        reader = exchange.reader
        assert reader is not None
        sock = exchange.sock
        while True:
            try:
                data = sock.recv(_RECEIVE_SIZE)
            except BlockingIOError:
                return
            except OSError:
                self._end(fd, exchange, "connection reset", now)
                return
            done = reader.feed(data) if data else reader.feed_eof()
            if done:
                break
            if not data:  # EOF that did not end the response cannot happen; be safe
                self._end(fd, exchange, "connection closed before response", now)
                return
        if reader.failure is not None:
            self._end(fd, exchange, reader.failure, now)
            return
        url = exchange.job.probe.urls[exchange.url]
        self._end(fd, exchange, url_failure(url, reader.status, reader.body), now,
                  reader.status)

    def _expire(self, now: float) -> None:
        inflight = self._inflight
        for timeout, queue in list(self._timeouts.items()):
            while queue and queue[0][0] <= now:
                _deadline, fd, attempt = queue.popleft()
                exchange = inflight.get(fd)
                if exchange is None or exchange.attempt != attempt:
                    continue
                self._end(fd, exchange, timeout_reason(timeout), now)
            if not queue:
                del self._timeouts[timeout]

    def _end(self, fd: int, exchange: _Exchange, failure: str | None, now: float,
             status: int = 0) -> None:
        """One url is over: close, then the next url or the check's verdict."""
        del self._inflight[fd]
        exchange.sock.close()  # also drops the fd from the epoll set
        job, url = exchange.job, exchange.url
        if failure is not None:
            self._url_failed(job, url, failure, exchange.started, now)
        elif url + 1 < len(job.probe.urls):
            if not self._open(job, url + 1, exchange.started, now):
                # no socket for the next url: start the check again when one frees
                self._blocked = False
                self.schedule(job, now + limits.TCP_CHECK_NO_FD_RETRY)
        else:
            self._done(job, CheckResult(True, f"HTTP {status}", now - exchange.started), now)

    def _url_failed(self, job: HttpJob, url: int, reason: str, started: float,
                    now: float) -> None:
        where = f"{job.probe.urls[url].path}: " if len(job.probe.urls) > 1 else ""
        self._done(job, CheckResult(False, where + reason, now - started), now)

    def _done(self, job: HttpJob, result: CheckResult, now: float) -> None:
        if not job.active:
            return
        when = self._finish(job, result, now)
        if when is not None:
            self.schedule(job, when)
