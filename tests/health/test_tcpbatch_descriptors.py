"""The batched TCP_CHECK scheduler and file descriptors: keepalived check_tcp.c
tcp_connect_thread reschedules a check that cannot create its socket ("TCP connect fail to
create socket. Rescheduling.") and never marks the server down for it. haipvs also keeps its
connects in flight below the fd limit, so a large first round waits instead of failing."""

from __future__ import annotations

import errno
import socket

import pytest
import trio

from haipvs import limits
from haipvs.health import tcpbatch
from haipvs.health.spec import Endpoint, TcpProbe
from haipvs.health.tcpbatch import TcpBatchScheduler, TcpJob


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


async def run_checks(scheduler: TcpBatchScheduler, jobs: list[TcpJob], results: list,
                     count: int) -> None:
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        now = trio.current_time()
        for job in jobs:
            scheduler.schedule(job, now)
        with trio.fail_after(10):
            while len(results) < count:
                await trio.sleep(0.01)
        nursery.cancel_scope.cancel()


async def test_check_tcp_connects_in_flight_stay_within_the_budget(listener):
    results, peak = [], []

    def finish(job, result, now):
        results.append(result)
        peak.append(scheduler.inflight)
        return None

    scheduler = TcpBatchScheduler(finish, max_inflight=2)
    probe = TcpProbe(Endpoint("127.0.0.1", listener), connect_timeout=3.0)
    jobs = [TcpJob(probe, owner=n) for n in range(7)]
    await run_checks(scheduler, jobs, results, 7)
    assert [r.ok for r in results] == [True] * 7  # every check ran, none failed
    assert max(peak) <= 2 and scheduler.waited >= 1


async def test_check_tcp_no_socket_is_no_verdict_and_the_check_runs_later(listener,
                                                                         monkeypatch):
    # keepalived check_tcp.c: socket() == -1 -> "Rescheduling.", the state is untouched
    real_socket, refused = socket.socket, [3]

    def scarce_socket(*args, **kwargs):
        if refused[0]:
            refused[0] -= 1
            raise OSError(errno.EMFILE, "Too many open files")
        return real_socket(*args, **kwargs)

    monkeypatch.setattr(tcpbatch.socket, "socket", scarce_socket)
    results = []
    scheduler = TcpBatchScheduler(lambda job, result, now: results.append(result), 100)
    probe = TcpProbe(Endpoint("127.0.0.1", listener), connect_timeout=3.0)
    await run_checks(scheduler, [TcpJob(probe, owner=n) for n in range(2)], results, 2)
    assert [r.ok for r in results] == [True, True]  # no "socket: too many open files"
    assert refused == [0] and scheduler.waited == 3


async def test_check_tcp_other_socket_errors_still_fail_the_check(monkeypatch):
    def no_family(*args, **kwargs):
        raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")

    monkeypatch.setattr(tcpbatch.socket, "socket", no_family)
    results = []
    scheduler = TcpBatchScheduler(lambda job, result, now: results.append(result), 100)
    probe = TcpProbe(Endpoint("127.0.0.1", 9), connect_timeout=1.0)
    await run_checks(scheduler, [TcpJob(probe, owner=0)], results, 1)
    assert not results[0].ok and results[0].reason.startswith("socket:")


def test_fd_budget_leaves_the_reserve():
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert tcpbatch.fd_budget() == max(1, soft - limits.TCP_CHECK_FD_RESERVE)
