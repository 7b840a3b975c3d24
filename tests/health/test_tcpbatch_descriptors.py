"""The batched TCP_CHECK scheduler and file descriptors: keepalived check_tcp.c
tcp_connect_thread reschedules a check that cannot create its socket ("TCP connect fail to
create socket. Rescheduling.") and never marks the server down for it. haipvs also keeps its
connects in flight below the fd limit, so a large first round waits instead of failing."""

from __future__ import annotations

import errno
import socket

import pytest

from haipvs import limits
from haipvs.health import tcpbatch
from haipvs.health.spec import Endpoint, TcpProbe
from haipvs.health.tcpbatch import TcpBatchScheduler, TcpJob
from tests.health.batch_support import run_batch


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    yield sock.getsockname()[1]
    sock.close()


async def test_check_tcp_connects_in_flight_stay_within_the_budget(listener):
    probe = TcpProbe(Endpoint("127.0.0.1", listener), connect_timeout=3.0)
    run = await run_batch(lambda finish: TcpBatchScheduler(finish, max_inflight=2),
                          [TcpJob(probe, owner=n) for n in range(7)], 7)
    assert [r.ok for r in run.results] == [True] * 7  # every check ran, none failed
    assert max(run.in_flight) <= 2 and run.scheduler.waited >= 1


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
    probe = TcpProbe(Endpoint("127.0.0.1", listener), connect_timeout=3.0)
    run = await run_batch(lambda finish: TcpBatchScheduler(finish, 100),
                          [TcpJob(probe, owner=n) for n in range(2)], 2)
    assert [r.ok for r in run.results] == [True, True]  # no "socket: too many open files"
    assert refused == [0] and run.scheduler.waited == 3


async def test_check_tcp_other_socket_errors_still_fail_the_check(monkeypatch):
    def no_family(*args, **kwargs):
        raise OSError(errno.EAFNOSUPPORT, "Address family not supported by protocol")

    monkeypatch.setattr(tcpbatch.socket, "socket", no_family)
    probe = TcpProbe(Endpoint("127.0.0.1", 9), connect_timeout=1.0)
    run = await run_batch(lambda finish: TcpBatchScheduler(finish, 100),
                          [TcpJob(probe, owner=0)], 1)
    assert not run.results[0].ok and run.results[0].reason.startswith("socket:")


def test_fd_budget_leaves_the_reserve():
    import resource

    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert tcpbatch.fd_budget() == max(1, soft - limits.TCP_CHECK_FD_RESERVE)
