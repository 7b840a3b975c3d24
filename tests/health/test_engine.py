"""The engine's scheduling, deduplication, pause/resume and reload, on trio's MockClock with
scripted probes (no sockets, no real time)."""

from __future__ import annotations

import itertools
import random

import pytest
import trio

from haipvs.health.engine import TICK, HealthEngine, ServerKey
from haipvs.health.spec import CheckSpec, Timing
from haipvs.ipvs.desired import UP
from tests.health.fakes import FakeProbes, tcp

SVC_A = ("TCP", "192.0.2.10", 80)
SVC_B = ("TCP", "192.0.2.11", 80)
SVC_C = ("TCP", "192.0.2.12", 80)
RS1 = ("198.51.100.1", 80)
RS2 = ("198.51.100.2", 80)


def spec(probe, server=RS1, **timing) -> CheckSpec:
    timing.setdefault("delay_loop", 5.0)
    return CheckSpec(server, probe, Timing(**timing))


async def wait_for(predicate, timeout: float = 1000.0) -> None:
    """Poll `predicate` on the (mock) clock; fail after `timeout` seconds."""
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(TICK)


class Recorder:
    def __init__(self) -> None:
        self.events: list = []

    def __call__(self, key, health) -> None:
        self.events.append((trio.current_time(), key, health))

    def downs(self, key) -> list[float]:
        return [t for t, k, h in self.events if k == key and not h.up]


@pytest.mark.parametrize("retry", [0, 1, 3])
async def test_stopped_server_is_down_within_the_keepalived_bound(autojump_clock, retry):
    probes = FakeProbes()
    probe = tcp(8080)
    check = spec(probe, delay_loop=5.0, retry=retry, delay_before_retry=2.0)
    key = ServerKey(SVC_A, RS1)
    recorder = Recorder()
    engine = HealthEngine({key: (check,)}, recorder, probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: len(probes.calls[probe]) >= 2)
        stopped = trio.current_time()
        probes.failing.add(probe)
        await wait_for(lambda: recorder.downs(key))
        took = recorder.downs(key)[0] - stopped
        # connect refused is immediate: connect_timeout does not add up here.
        assert took <= check.probe.connect_timeout + retry * 2.0 + 5.0 + 2 * TICK
        assert took >= retry * 2.0  # retry retries, delay_before_retry apart
        assert engine.health(SVC_A, RS1).up is False
        assert engine.health(SVC_A, RS1).reason == "tcp_check: connect refused"
        nursery.cancel_scope.cancel()


async def test_timeouts_count_each_attempts_connect_timeout(autojump_clock):
    probes = FakeProbes()
    probe = tcp(8080, connect_timeout=3.0)
    check = spec(probe, delay_loop=5.0, retry=1, delay_before_retry=2.0)
    key = ServerKey(SVC_A, RS1)
    recorder = Recorder()
    engine = HealthEngine({key: (check,)}, recorder, probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: probes.calls[probe])
        stopped = trio.current_time()
        probes.failing.add(probe)
        probes.latency = 3.0  # every attempt now runs into its connect_timeout
        await wait_for(lambda: recorder.downs(key))
        took = recorder.downs(key)[0] - stopped
        assert took <= 5.0 + 2 * 3.0 + 1 * 2.0 + 2 * TICK
        nursery.cancel_scope.cancel()


async def test_recovery_on_the_first_success(autojump_clock):
    probes = FakeProbes()
    probe = tcp(8080)
    key = ServerKey(SVC_A, RS1)
    recorder = Recorder()
    probes.failing.add(probe)
    engine = HealthEngine({key: (spec(probe, retry=0),)}, recorder, probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: recorder.downs(key))
        probes.failing.clear()
        calls_before = len(probes.calls[probe])
        await wait_for(lambda: engine.health(SVC_A, RS1).up)
        assert len(probes.calls[probe]) == calls_before + 1
        assert [h.up for _t, _k, h in recorder.events] == [False, True]
        nursery.cancel_scope.cancel()


async def test_alpha_starts_down_and_comes_up_on_success(autojump_clock):
    probes = FakeProbes()
    probe = tcp(8080)
    key = ServerKey(SVC_A, RS1)
    recorder = Recorder()
    engine = HealthEngine({key: (spec(probe, alpha=True),)}, recorder, probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        assert engine.health(SVC_A, RS1).up is False
        await wait_for(lambda: engine.health(SVC_A, RS1).up)
        assert len(recorder.events) == 2  # down at start (unknown -> down), then up
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("tells", [True, False])
async def test_update_svr_checker_state_alpha_first_failure_tells_the_server_down_once(
        autojump_clock, tells):
    """keepalived ipwrapper.c update_svr_checker_state: a checker whose first result equals
    its starting state calls do_rs_notifies when `alpha || !alive`, so an alpha checker's
    first failed evaluation tells the server down once, where the checker kind reaches it
    (Timing.tells_first_failure); later failures and a non-alpha checker tell nothing."""
    probes = FakeProbes()
    alpha_probe, plain_probe = tcp(8080), tcp(8081)
    probes.failing |= {alpha_probe, plain_probe}
    alpha_key, plain_key = ServerKey(SVC_A, RS1), ServerKey(SVC_B, RS2)
    settled, changes = Recorder(), Recorder()
    engine = HealthEngine(
        {alpha_key: (spec(alpha_probe, alpha=True, retry=0, tells_first_failure=tells),),
         plain_key: (spec(plain_probe, RS2, retry=0, tells_first_failure=True),)},
        changes, probe_runner=probes, on_first_down=settled)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: len(probes.calls[alpha_probe]) >= 3)
        if tells:
            assert [(k, h.up) for _t, k, h in settled.events] == [(alpha_key, False)]
            assert settled.events[0][0] == probes.calls[alpha_probe][0]  # the first attempt
        else:
            assert settled.events == []
        # the plain checker's first failure is a change (up -> down), told as one
        assert changes.downs(plain_key) and not changes.downs(alpha_key)[1:]
        nursery.cancel_scope.cancel()


async def test_shared_check_is_probed_once_per_delay_loop(autojump_clock):
    probes = FakeProbes()
    probe = tcp(8080)
    check = spec(probe, delay_loop=5.0)
    plan = {ServerKey(svc, RS1): (check,) for svc in (SVC_A, SVC_B, SVC_C)}
    engine = HealthEngine(plan, probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        assert engine.checker_count == 1
        start = trio.current_time()
        await trio.sleep(50.0)
        runs = [t for t in probes.calls[probe] if t >= start]
        assert 9 <= len(runs) <= 11
        nursery.cancel_scope.cancel()


async def test_shared_check_failure_reaches_every_virtual_server(autojump_clock):
    probes = FakeProbes()
    probe = tcp(8080)
    keys = [ServerKey(svc, RS1) for svc in (SVC_A, SVC_B, SVC_C)]
    recorder = Recorder()
    engine = HealthEngine({key: (spec(probe, retry=0),) for key in keys}, recorder,
                          probe_runner=probes)
    probes.failing.add(probe)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: all(recorder.downs(key) for key in keys))
        assert len(recorder.events) == 3
        nursery.cancel_scope.cancel()


async def test_all_checkers_of_a_server_must_pass(autojump_clock):
    probes = FakeProbes()
    first, second = tcp(8080), tcp(8081)
    key = ServerKey(SVC_A, RS1)
    engine = HealthEngine({key: (spec(first, retry=0), spec(second, retry=0))},
                          probe_runner=probes)
    probes.failing.add(second)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: not engine.health(SVC_A, RS1).up)
        assert probes.calls[first]
        probes.failing.clear()
        await wait_for(lambda: engine.health(SVC_A, RS1).up)
        nursery.cancel_scope.cancel()


async def test_first_runs_are_spread_over_the_delay_loop(autojump_clock):
    probes = FakeProbes()
    plan = {ServerKey(SVC_A, (f"198.51.100.{i}", 80)):
            (spec(tcp(8000 + i), server=(f"198.51.100.{i}", 80), delay_loop=10.0),)
            for i in range(1, 201)}
    engine = HealthEngine(plan, probe_runner=probes)
    async with trio.open_nursery() as nursery:
        start = trio.current_time()
        await nursery.start(engine.run)
        await trio.sleep(10.0 + TICK)
        firsts = sorted(calls[0] - start for calls in probes.calls.values())
        assert len(firsts) == 200
        # No burst: every tenth of the delay_loop gets a share of the first runs.
        buckets = [sum(1 for t in firsts if k <= t < k + 1) for k in range(10)]
        assert min(buckets) >= 5, buckets
        nursery.cancel_scope.cancel()


async def test_spread_is_stable_across_engines(autojump_clock):
    checks = {ServerKey(SVC_A, RS1): (spec(tcp(8080)),)}

    async def first_run_offset() -> float:
        probes = FakeProbes()
        engine = HealthEngine(checks, probe_runner=probes)
        async with trio.open_nursery() as nursery:
            start = trio.current_time()
            await nursery.start(engine.run)
            await wait_for(lambda: probes.calls)
            nursery.cancel_scope.cancel()
        return next(iter(probes.calls.values()))[0] - start

    assert await first_run_offset() == pytest.approx(await first_run_offset(), abs=TICK)


async def test_warmup_uses_the_injected_rng(autojump_clock):
    check = spec(tcp(8080), delay_loop=60.0, warmup=20.0)

    async def first_run_offset(seed: int) -> float:
        probes = FakeProbes()
        engine = HealthEngine({ServerKey(SVC_A, RS1): (check,)}, probe_runner=probes,
                              rng=random.Random(seed))
        async with trio.open_nursery() as nursery:
            start = trio.current_time()
            await nursery.start(engine.run)
            await wait_for(lambda: probes.calls)
            nursery.cancel_scope.cancel()
        return next(iter(probes.calls.values()))[0] - start

    expected = random.Random(7).uniform(0.0, 20.0)
    assert abs(await first_run_offset(7) - expected) <= TICK
    assert await first_run_offset(7) <= 20.0


async def test_max_spread_caps_the_first_delay(autojump_clock):
    probes = FakeProbes()
    plan = {ServerKey(SVC_A, (f"198.51.100.{i}", 80)):
            (spec(tcp(8000 + i), server=(f"198.51.100.{i}", 80), delay_loop=60.0),)
            for i in range(1, 51)}
    engine = HealthEngine(plan, probe_runner=probes, max_spread=2.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await trio.sleep(2.0 + TICK)
        assert len(probes.calls) == 50
        nursery.cancel_scope.cancel()


async def test_a_hanging_probe_hits_the_hard_timeout(autojump_clock):
    probes = FakeProbes()
    probe = tcp(8080, connect_timeout=2.0)
    probes.hanging.add(probe)
    key = ServerKey(SVC_A, RS1)
    engine = HealthEngine({key: (spec(probe, retry=0),)}, probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: not engine.health(SVC_A, RS1).up)
        assert "hard timeout after 3s" in engine.health(SVC_A, RS1).reason
        nursery.cancel_scope.cancel()


async def test_a_raising_probe_is_a_failure_not_a_crash(autojump_clock):
    probes = FakeProbes()
    probe = tcp(8080)
    probes.raising.add(probe)
    engine = HealthEngine({ServerKey(SVC_A, RS1): (spec(probe, retry=0),)},
                          probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: not engine.health(SVC_A, RS1).up)
        assert "probe error: RuntimeError: probe bug" in engine.health(SVC_A, RS1).reason
        probes.raising.clear()
        await wait_for(lambda: engine.health(SVC_A, RS1).up)
        nursery.cancel_scope.cancel()


async def test_pause_stops_probing_and_resume_restarts(autojump_clock):
    probes = FakeProbes()
    probe = tcp(8080)
    key = ServerKey(SVC_A, RS1)
    engine = HealthEngine({key: (spec(probe, delay_loop=1.0),)}, probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: len(probes.calls[probe]) >= 2)
        engine.pause_services([SVC_A])
        await trio.sleep(1.0 + TICK)  # let an attempt already due finish
        count = len(probes.calls[probe])
        await trio.sleep(30.0)
        assert len(probes.calls[probe]) == count
        assert engine.snapshot()[0]["paused"] is True
        engine.pause_services([SVC_A], paused=False)
        await wait_for(lambda: len(probes.calls[probe]) > count, timeout=2.0)
        nursery.cancel_scope.cancel()


async def test_a_check_shared_with_an_unpaused_service_keeps_running(autojump_clock):
    probes = FakeProbes()
    probe = tcp(8080)
    check = spec(probe, delay_loop=1.0)
    plan = {ServerKey(SVC_A, RS1): (check,), ServerKey(SVC_B, RS1): (check,)}
    engine = HealthEngine(plan, probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        engine.pause([ServerKey(SVC_A, RS1)])
        await trio.sleep(2.0)
        count = len(probes.calls[probe])
        await trio.sleep(10.0)
        assert len(probes.calls[probe]) >= count + 9
        nursery.cancel_scope.cancel()


async def test_reload_keeps_unchanged_checks_and_replaces_changed_ones(autojump_clock):
    probes = FakeProbes()
    kept, dropped, added = tcp(8080), tcp(8081), tcp(8082)
    key1, key2 = ServerKey(SVC_A, RS1), ServerKey(SVC_A, RS2)
    recorder = Recorder()
    probes.failing.add(kept)
    engine = HealthEngine({key1: (spec(kept, retry=0),), key2: (spec(dropped, server=RS2),)},
                          recorder, probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: recorder.downs(key1))
        kept_runs = len(probes.calls[kept])
        dropped_runs = len(probes.calls[dropped])
        events = len(recorder.events)
        # Reload: key1 unchanged (stays down, no new event), key2's check replaced,
        # and the same check now also listed under a second virtual server.
        engine.update({
            key1: (spec(kept, retry=0),),
            ServerKey(SVC_B, RS1): (spec(kept, retry=0),),
            key2: (spec(added, server=RS2),),
        })
        assert engine.checker_count == 2
        assert engine.health(SVC_A, RS1).up is False
        assert engine.health(SVC_B, RS1).up is False  # inherits the shared check's state
        assert len(recorder.events) == events + 1  # only SVC_B's entry is new and down
        await trio.sleep(20.0)
        assert len(probes.calls[dropped]) == dropped_runs
        assert probes.calls[added]
        assert len(probes.calls[kept]) > kept_runs
        # Removing a server: its key answers "up" (not ours any more), nothing probes it.
        engine.update({key2: (spec(added, server=RS2),)})
        assert engine.health(SVC_A, RS1) == UP
        assert engine.checker_count == 1
        nursery.cancel_scope.cancel()


async def test_servers_not_in_the_plan_or_without_checks_are_up(autojump_clock):
    engine = HealthEngine({ServerKey(SVC_A, RS1): ()}, probe_runner=FakeProbes())
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        assert engine.health(SVC_A, RS1) == UP
        assert engine.health(SVC_B, RS2) == UP
        nursery.cancel_scope.cancel()


async def test_a_failing_callback_does_not_stop_the_engine(autojump_clock):
    probes = FakeProbes()
    probe = tcp(8080)
    probes.failing.add(probe)

    def broken(_key, _health):
        raise ValueError("callback bug")

    engine = HealthEngine({ServerKey(SVC_A, RS1): (spec(probe, retry=0),)}, broken,
                          probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: not engine.health(SVC_A, RS1).up)
        probes.failing.clear()
        await wait_for(lambda: engine.health(SVC_A, RS1).up)
        nursery.cancel_scope.cancel()


async def test_a_passing_check_keeps_its_phase_when_a_probe_is_slow(autojump_clock):
    """Starts stay on first + k * delay_loop even when one probe takes most of a period:
    finish-based scheduling would shift the phase by the latency each time, so checks that
    a stall made finish together would stay bunched for good."""
    probes = FakeProbes()
    probe = tcp(8080)
    engine = HealthEngine({ServerKey(SVC_A, RS1): (spec(probe, delay_loop=1.0),)},
                          probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: len(probes.calls[probe]) >= 1)
        first = probes.calls[probe][0]
        probes.latency = 0.4  # each probe takes 40% of the period
        await wait_for(lambda: len(probes.calls[probe]) >= 6)
        starts = [round(t - first, 6) for t in probes.calls[probe][:6]]
        assert starts == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
        probes.latency = 1.5  # longer than the period: the missed start is skipped
        await wait_for(lambda: len(probes.calls[probe]) >= 9)
        later = [round(t - first, 6) for t in probes.calls[probe][6:9]]
        assert later == [6.0, 8.0, 10.0]
        nursery.cancel_scope.cancel()


async def test_a_failing_check_waits_its_delay_after_the_failure_like_keepalived(
        autojump_clock):
    probes = FakeProbes()
    probe = tcp(8080)
    probes.failing.add(probe)
    probes.latency = 0.25
    engine = HealthEngine(
        {ServerKey(SVC_A, RS1): (spec(probe, delay_loop=2.0, retry=1, delay_before_retry=1.0),)},
        probe_runner=probes)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: len(probes.calls[probe]) >= 4)
        calls = probes.calls[probe]
        gaps = [round(b - a, 6) for a, b in itertools.pairwise(calls[:4])]
        # retry after 0.25 + 1.0; then down, delay_loop after each failure: 0.25 + 2.0
        assert gaps == [1.25, 2.25, 2.25]
        nursery.cancel_scope.cancel()


async def test_an_injected_probe_runner_runs_every_probe_tcp_included(autojump_clock):
    """The runner is the engine's one way to probe when given: TCP checks do not bypass it
    through the batched network scheduler, whatever the runner is (a wrapper of run_probe
    included)."""
    probes = FakeProbes()
    probe = tcp(8080)

    async def wrapper(p):
        return await probes(p)

    engine = HealthEngine({ServerKey(SVC_A, RS1): (spec(probe, delay_loop=1.0),)},
                          probe_runner=wrapper)
    async with trio.open_nursery() as nursery:
        await nursery.start(engine.run)
        await wait_for(lambda: len(probes.calls[probe]) >= 3)
        assert engine._tcp is None  # no scheduler started: nothing probes the network
        nursery.cancel_scope.cancel()
