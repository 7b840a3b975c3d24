"""The engine's batched TCP scheduler against real listeners on 127.0.0.1 (real clock, but
every wait polls a condition under a deadline)."""

from __future__ import annotations

import socket

import trio

from haipvs.health.engine import HealthEngine, ServerKey
from haipvs.health.spec import CheckSpec, Endpoint, TcpProbe, Timing
from tests.health.servers import CountingListener, full_backlog_listener

SERVICES = [("TCP", f"192.0.2.{i}", 80) for i in (10, 11, 12)]
RS = ("198.51.100.1", 80)


def tcp_spec(port: int, server=RS, delay_loop: float = 0.1, connect_timeout: float = 1.0,
             **timing) -> CheckSpec:
    probe = TcpProbe(Endpoint("127.0.0.1", port), connect_timeout)
    return CheckSpec(server, probe, Timing(delay_loop=delay_loop, **timing))


async def wait_for(predicate, timeout: float = 10.0) -> None:
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


def runs(engine: HealthEngine, key: ServerKey) -> int:
    return engine.snapshot_of(key)["checks"][0]["runs"]


async def test_a_server_under_three_virtual_servers_is_probed_once(nursery):
    listener = CountingListener()
    port = await nursery.start(listener.serve)
    check = tcp_spec(port, delay_loop=0.05)
    engine = HealthEngine({ServerKey(svc, RS): (check,) for svc in SERVICES}, max_spread=0.0)
    await nursery.start(engine.run)
    key = ServerKey(SERVICES[0], RS)
    await wait_for(lambda: runs(engine, key) >= 10)
    await wait_for(lambda: listener.accepted >= runs(engine, key))
    # One connection per run, not three: every accepted connection is one of this check's.
    assert runs(engine, key) <= listener.accepted <= runs(engine, key) + 1
    assert engine.checker_count == 1
    assert all(engine.health(svc, RS).up for svc in SERVICES)


async def test_stopped_server_goes_down_and_comes_back(nursery):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    port = listener.getsockname()[1]
    key = ServerKey(SERVICES[0], RS)
    changes = []
    engine = HealthEngine({key: (tcp_spec(port, retry=1, delay_before_retry=0.05),)},
                          lambda k, h: changes.append(h.up), max_spread=0.0)
    await nursery.start(engine.run)
    await wait_for(lambda: runs(engine, key) >= 2)
    assert engine.health(*key).up
    listener.close()
    await wait_for(lambda: not engine.health(*key).up)
    assert engine.health(*key).reason == "tcp_check: connect refused"
    with socket.socket() as again:
        again.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        again.bind(("127.0.0.1", port))
        again.listen(128)
        await wait_for(lambda: engine.health(*key).up)
    assert changes == [False, True]


async def test_unanswered_connect_times_out(nursery):
    listener, clients = full_backlog_listener()
    try:
        key = ServerKey(SERVICES[0], RS)
        check = tcp_spec(listener.getsockname()[1], connect_timeout=0.2, retry=0)
        engine = HealthEngine({key: (check,)}, max_spread=0.0)
        await nursery.start(engine.run)
        await wait_for(lambda: not engine.health(*key).up)
        assert engine.health(*key).reason == "tcp_check: timeout after 0.2s"
    finally:
        for client in clients:
            client.close()
        listener.close()


async def test_pause_resume_and_reload_with_batched_checks(nursery):
    listener = CountingListener()
    port = await nursery.start(listener.serve)
    key = ServerKey(SERVICES[0], RS)
    engine = HealthEngine({key: (tcp_spec(port, delay_loop=0.02),)}, max_spread=0.0)
    await nursery.start(engine.run)
    await wait_for(lambda: runs(engine, key) >= 3)
    engine.pause([key])
    await trio.sleep(0.1)  # an attempt may have been in flight when pausing
    paused_runs = runs(engine, key)
    await trio.sleep(0.3)
    assert runs(engine, key) == paused_runs
    engine.resume([key])
    await wait_for(lambda: runs(engine, key) >= paused_runs + 3)
    # Reload with a different check on another port: the old one stops.
    other = CountingListener()
    other_port = await nursery.start(other.serve)
    engine.update({key: (tcp_spec(other_port, delay_loop=0.02),)})
    await trio.sleep(0.1)
    accepted = listener.accepted
    await wait_for(lambda: other.accepted >= 3)
    assert listener.accepted == accepted
    assert engine.checker_count == 1


async def test_many_servers_all_checked(nursery):
    listener = CountingListener()
    port = await nursery.start(listener.serve)
    plan = {ServerKey(SERVICES[0], (f"198.51.100.{i % 250}", 1000 + i)):
            (tcp_spec(port, server=(f"198.51.100.{i % 250}", 1000 + i), delay_loop=1.0),)
            for i in range(500)}
    engine = HealthEngine(plan)
    await nursery.start(engine.run)
    await wait_for(lambda: all(s["checks"][0]["runs"] >= 2 for s in engine.snapshot()),
                   timeout=20.0)
    assert all(s["up"] for s in engine.snapshot())
    assert engine.checker_count == 500
