"""Batched HTTP_GET scheduler: every plain-HTTP checker of the engine in ONE trio task.

The per-check trio path (http.py: a task, a cancel scope, a SocketStream, h11) costs ~450 µs
of CPU per check, which caps HTTP_GET near 1,400 checks/s on one core. Here, as in
tcpbatch.py, the checks share one task (haipvs/health/batch.py: due buckets, deadline FIFOs,
a private epoll set whose fd trio watches, the fd budget). Each exchange is: connect, write
the pre-built request, read until the response ends (policy/http_response.py), close.

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
import select
import socket
from typing import Any, TypeGuard

from haipvs import limits
from haipvs.health.batch import NO_FD, BatchScheduler, Job, fd_budget, start_connect
from haipvs.health.http import MAX_BODY, build_request, host_header, url_failure
from haipvs.health.net import errno_reason, os_error_reason, timeout_reason
from haipvs.health.spec import HttpProbe
from haipvs.health.state import CheckResult
from haipvs.health.tcp import _STREAM_FLAGS
from haipvs.policy.http_response import ResponseReader

_IN_PROGRESS = (errno.EINPROGRESS, errno.EAGAIN)
_WRITE = select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP
_READ = select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP
_SOL_SOCKET = socket.SOL_SOCKET
_SO_ERROR = socket.SO_ERROR
_RECEIVE_SIZE = 65536
# The C socket type: socket.socket's Python wrapper adds ~2 µs per check and nothing used here.
_new_socket = _socket.socket


def batchable(probe: object) -> TypeGuard[HttpProbe]:
    """Plain HTTP_GET goes through the batch; SSL_GET keeps the per-check TLS path."""
    return isinstance(probe, HttpProbe) and type(probe) is HttpProbe and probe.tls is None


class HttpJob(Job):
    """One scheduled HTTP_GET checker (batch.Job), with its requests built once."""

    __slots__ = ("requests",)
    probe: HttpProbe

    def __init__(self, probe: HttpProbe, owner: Any) -> None:
        super().__init__(probe, owner)
        endpoint = probe.endpoint
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

    def close(self) -> None:
        self.sock.close()  # also drops the fd from the epoll set


class HttpBatchScheduler(BatchScheduler[HttpJob, _Exchange]):
    WAITING_EVENT = "http_checks_waiting"

    def _default_budget(self) -> int:
        return max(1, fd_budget() // 2)  # the TCP batch draws on the same limit

    def _begin(self, job: HttpJob, now: float) -> bool:
        return self._open(job, 0, now, now)

    def _open(self, job: HttpJob, url: int, started: float, now: float) -> bool:
        """Connect for url `url` of `job`. False only when no socket can be had."""
        try:
            sock = _new_socket(job.family, _STREAM_FLAGS)
        except OSError as exc:
            if exc.errno in NO_FD:
                self._wait_for_fd(os_error_reason(exc))
                return False
            self._url_failed(job, url, f"socket: {os_error_reason(exc)}", started, now)
            return True
        try:
            err = start_connect(sock, job)
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
        assert self._epoll is not None
        self._epoll.register(fd, _WRITE)
        self._track(fd, exchange, job.probe.connect_timeout, now, attempt)
        return True

    def _event(self, fd: int, flight: _Exchange, now: float) -> None:
        if flight.reader is None:
            self._connected(fd, flight, now)
        else:
            self._readable(fd, flight, now)

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

    def _expire_one(self, fd: int, flight: _Exchange, timeout: float, now: float) -> None:
        self._end(fd, flight, timeout_reason(timeout), now)

    def _end(self, fd: int, exchange: _Exchange, failure: str | None, now: float,
             status: int = 0) -> None:
        """One url is over: close, then the next url or the check's verdict."""
        del self._inflight[fd]
        exchange.close()
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
