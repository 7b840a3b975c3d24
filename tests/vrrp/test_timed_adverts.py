"""RFC 5798 §6.4.3 (Adver_Timer fires: send an advert, restart the timer), with the advert
handed to the kernel ahead and sent at the deadline (haipvs/drivers/timed_adverts.py,
haipvs/drivers/timed_send.py).

What must hold: a queued advert never goes out before its deadline; nothing decided later
is overtaken by it (priority 0 on shutdown, a parting advert, leaving MASTER withdraw it
first); and the ring itself sends at the time, cancels, and reports."""

from __future__ import annotations

import errno
import ipaddress
import select
import socket
import time
from types import SimpleNamespace

import pytest
import trio

from haipvs.drivers.timed_adverts import TIMED_LEAD
from haipvs.drivers.timed_send import open_timed_sender, sockaddr_bytes
from haipvs.drivers.vrrp_actions import ActionRunner
from haipvs.drivers.vrrp_instance import Instance, InstanceBinding
from haipvs.vrrp import core

from .builders import OUR_V4, PEER_V4, params, received, to_master


class FakeSock:
    """Records the adverts (by priority: octet 2 of a VRRP message) and how they went."""

    multicast_group = ipaddress.ip_address("224.0.0.18")

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.tokens = 0

    def send_at(self, sender, when_ns, message, src, dst, ttl) -> int:
        self.tokens += 1
        self.calls.append(f"queued {message[2]} at {when_ns}")
        return self.tokens

    async def send(self, message, src, dst, ttl) -> None:
        self.calls.append(f"sent {message[2]}")


class FakeSender:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def cancel(self, token: int) -> bool:
        self.calls.append(f"withdrawn {token}")
        return False


class Nothing:
    async def handle(self, *args, **kwargs) -> None:
        pass

    rules_in_use = False


def master(calls: list[str], **overrides) -> tuple[ActionRunner, Instance, float]:
    p = params(**overrides)
    machine, _ = to_master(p)
    runner = ActionRunner(rtnl=None, on_transition=lambda *a: None, routes=Nothing(),
                          accept=Nothing())
    runner.timed.use(FakeSender(calls), clock_offset=0.0)
    binding = InstanceBinding(params=p, ifname="eth0", vips=())  # no netlink in this test
    instance = Instance(binding=binding, machine=machine,
                        group=SimpleNamespace(sock=FakeSock(calls), announcer=object()),
                        policy=None, primary=OUR_V4)
    return runner, instance, machine.timers[core.TIMER_ADVERT]


def test_6_4_3_the_advert_timer_is_handed_over_ahead_only_in_master():
    calls: list[str] = []
    runner, instance, _ = master(calls)
    due_at = runner.timed.due_at
    assert due_at(instance, core.TIMER_ADVERT, 10.0) == 10.0 - TIMED_LEAD
    assert due_at(instance, core.TIMER_GARP_REFRESH, 10.0) == 10.0  # GARPs: not on the ring
    backup = SimpleNamespace(machine=SimpleNamespace(state=core.State.BACKUP))
    assert due_at(backup, core.TIMER_MASTER_DOWN, 10.0) == 10.0  # a takeover does more
    runner.timed.use(None, 0.0)
    assert due_at(instance, core.TIMER_ADVERT, 10.0) == 10.0  # no ring: the precise alarm


def test_6_4_3_the_advert_is_queued_for_the_deadline_and_the_timer_restarts_from_it():
    calls: list[str] = []
    runner, instance, deadline = master(calls)

    async def main():
        await runner.feed(instance, core.TimerExpired(core.TIMER_ADVERT), at=deadline)

    trio.run(main)
    assert calls == [f"queued 100 at {runner.timed.monotonic_ns(deadline)}"]
    assert runner.timed.monotonic_ns(deadline) >= deadline * 1e9  # rounded up: never early
    # drift-free: the next one is a whole interval after the deadline, not after the feed
    assert instance.machine.timers[core.TIMER_ADVERT] == deadline + 1.0
    assert runner.timed.queued(instance)


def test_an_advert_the_ring_refuses_is_sent_at_its_deadline_not_before():
    calls: list[str] = []
    runner, instance, _ = master(calls)

    def refuse(*args):
        raise OSError(errno.EBUSY, "io_uring: too many timed sends in flight")

    instance.group.sock.send_at = refuse

    async def main():
        at = trio.current_time() + TIMED_LEAD
        await runner.feed(instance, core.TimerExpired(core.TIMER_ADVERT), at=at)
        assert trio.current_time() >= at  # waited for it: a refusal never sends early
        assert calls == ["sent 100"]
        assert not runner.timed.queued(instance)

    trio.run(main)


def test_6_4_3_priority_0_on_shutdown_withdraws_the_queued_advert_first():
    calls: list[str] = []
    runner, instance, deadline = master(calls)

    async def main():
        await runner.feed(instance, core.TimerExpired(core.TIMER_ADVERT), at=deadline)
        await runner.feed(instance, core.Shutdown())

    trio.run(main)
    # a priority-100 advert after the priority 0 would reset the backups' Skew_Time timer
    assert calls[1:] == ["withdrawn 1", "sent 0"]
    assert not runner.timed.queued(instance)


def test_a_withdrawn_advert_is_not_counted_as_sent():
    # keepalived's "Sent" (vrrp_print_stats) counts what went out; so do ours
    calls: list[str] = []
    runner, instance, deadline = master(calls)
    counters = instance.machine.counters
    before = counters.adverts_sent

    async def main():
        await runner.feed(instance, core.TimerExpired(core.TIMER_ADVERT), at=deadline)
        assert counters.adverts_sent == before + 1  # queued: counted, as it will go out
        await runner.feed(instance, core.Shutdown())

    trio.run(main)
    assert calls[1:] == ["withdrawn 1", "sent 0"]
    assert counters.adverts_sent == before + 1  # the priority 0 only
    assert counters.priority_zero_sent == 1


def test_6_4_3_a_parting_advert_to_a_higher_priority_master_withdraws_the_queued_one():
    calls: list[str] = []
    runner, instance, deadline = master(calls)

    async def main():
        await runner.feed(instance, core.TimerExpired(core.TIMER_ADVERT), at=deadline)
        await runner.execute(instance, instance.machine.handle(
            deadline, received(instance.binding.params, src=PEER_V4, priority=200)))

    trio.run(main)
    assert calls[1:] == ["withdrawn 1", "sent 100"]
    assert instance.machine.state == core.State.BACKUP


def test_6_4_3_leaving_master_without_an_advert_still_withdraws_the_queued_one():
    calls: list[str] = []
    runner, instance, deadline = master(calls, higher_prio_send_advert=False)

    async def main():
        await runner.feed(instance, core.TimerExpired(core.TIMER_ADVERT), at=deadline)
        await runner.execute(instance, instance.machine.handle(
            deadline, received(instance.binding.params, src=PEER_V4, priority=200)))

    trio.run(main)
    assert calls[1:] == ["withdrawn 1"]  # no MASTER advert after stepping down


def test_a_machine_clock_never_runs_backwards_after_a_feed_ahead():
    # an advert received 1 ms before the deadline the advert timer was handed over at is
    # handled at that deadline: the master-down timer it arms counts from there
    p = params()
    machine, _ = to_master(p)
    deadline = machine.timers[core.TIMER_ADVERT]
    machine.handle(deadline, core.TimerExpired(core.TIMER_ADVERT))
    actions = machine.handle(deadline - 0.001, received(p, src=PEER_V4, priority=200))
    assert machine.state == core.State.BACKUP
    down = [a for a in actions if isinstance(a, core.SetTimer)]
    assert down == [core.SetTimer(core.TIMER_MASTER_DOWN,
                                  deadline + machine.master_down_interval())]


def test_a_feed_ahead_moves_only_its_own_instance_clock():
    # another instance (a BACKUP on the same director) still gets the loop's time: its
    # master-down timer must not start up to TIMED_LEAD late
    calls: list[str] = []
    runner, instance, _ = master(calls)

    async def main():
        ahead = trio.current_time() + 0.003
        await runner.feed(instance, core.TimerExpired(core.TIMER_ADVERT), at=ahead)
        assert instance.machine.clock == ahead
        assert runner.received_at(None) < ahead  # the time any other input is handled at

    trio.run(main)


# ---- the ring itself (a real io_uring, over loopback UDP) ---------------------------------


@pytest.fixture
def ring():
    sender, why = open_timed_sender()
    if sender is None:
        pytest.skip(f"no io_uring timed sends here: {why}")
    yield sender
    sender.close()


@pytest.fixture
def udp_pair():
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield sender, receiver
    sender.close()
    receiver.close()


def readable(sock: socket.socket, timeout: float) -> bool:
    return bool(select.select([sock], [], [], timeout)[0])


def test_the_kernel_sends_at_the_time_not_before(ring, udp_pair):
    out, receiver = udp_pair
    name = sockaddr_bytes(socket.AF_INET, receiver.getsockname())
    when = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + 200_000_000
    token = ring.send_at(out.fileno(), when, b"advert", name)
    assert not readable(receiver, 0.05)  # 150 ms before its time: nothing
    assert readable(receiver, 5.0)
    assert time.clock_gettime_ns(time.CLOCK_MONOTONIC) >= when
    assert receiver.recv(64) == b"advert"
    assert readable(ring, 1.0)  # the ring's fd is readable when a report waits (trio waits on it)
    assert ring.completions() == [(token, len(b"advert"))]
    assert ring.in_flight == 0


def test_a_withdrawn_send_never_goes_out(ring, udp_pair):
    out, receiver = udp_pair
    name = sockaddr_bytes(socket.AF_INET, receiver.getsockname())
    when = time.clock_gettime_ns(time.CLOCK_MONOTONIC) + 100_000_000
    token = ring.send_at(out.fileno(), when, b"late", name)
    assert ring.cancel(token) is False
    assert not readable(receiver, 0.3)
    assert ring.completions() == []  # cancel() reported it
    assert ring.in_flight == 0


def test_a_time_already_past_sends_at_once_and_a_late_withdrawal_says_so(ring, udp_pair):
    out, receiver = udp_pair
    name = sockaddr_bytes(socket.AF_INET, receiver.getsockname())
    token = ring.send_at(out.fileno(), 0, b"now", name)
    assert readable(receiver, 5.0)
    assert ring.cancel(token) is True  # it went out: the caller's next advert follows it


def test_a_failed_send_is_reported_with_its_errno(ring):
    name = sockaddr_bytes(socket.AF_INET, ("192.0.2.1", 9))
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fd = closed.fileno()
    closed.close()
    token = ring.send_at(fd, 0, b"x", name)
    assert readable(ring, 5.0)
    assert ring.completions() == [(token, -errno.EBADF)]


def test_ipv6_addresses_are_sent_as_sockaddr_in6(ring):
    receiver = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    out = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    try:
        receiver.bind(("::1", 0))
        host, port, flowinfo, scope = receiver.getsockname()
        ring.send_at(out.fileno(), 0, b"six", sockaddr_bytes(socket.AF_INET6,
                                                             (host, port, flowinfo, scope)))
        assert readable(receiver, 5.0)
        assert receiver.recv(64) == b"six"
    finally:
        receiver.close()
        out.close()



def test_without_io_uring_the_runtime_is_told_why_and_keeps_its_own_timer(monkeypatch):
    from haipvs.drivers import timed_send

    def refused(number, *args):
        raise OSError(errno.EPERM, "io_uring: Operation not permitted")  # seccomp, sysctl

    monkeypatch.setattr(timed_send, "_syscall", refused)
    sender, why = timed_send.open_timed_sender()
    assert sender is None and "not permitted" in why


def test_the_loop_wakes_for_the_hand_over_then_spins_to_the_deadline_itself():
    # haipvs/drivers/vrrp_runtime.py: the hand-over needs only the alarm (TIMED_LEAD covers
    # its wake-up); the deadline is then spun to, so the kernel's timer fires on an awake CPU
    import collections

    from haipvs.drivers.precise_alarm import SPIN
    from haipvs.drivers.vrrp_runtime import VrrpRuntime

    calls: list[str] = []
    runner, instance, _ = master(calls)

    async def main():
        runtime = object.__new__(VrrpRuntime)  # only the timer part of the loop
        runtime._instances, runtime._actions, runtime._keep_awake = ({instance.name: instance},
                                                                    runner, [])
        runtime._followups, runtime.timer_lateness, runtime.timers_fired = (
            collections.deque(), collections.deque(), 0)
        far = trio.current_time() + 1.0
        instance.timers = {core.TIMER_ADVERT: far}
        assert runtime._next_deadline() == (far - TIMED_LEAD + SPIN, False)
        await runtime._fire_due_timers()
        assert calls == []  # not yet within its lead
        near = trio.current_time() + TIMED_LEAD / 2
        instance.timers = {core.TIMER_ADVERT: near}
        await runtime._fire_due_timers()
        assert calls == [f"queued 100 at {runner.timed.monotonic_ns(near)}"]
        assert runtime._keep_awake == [near]
        assert runtime._next_deadline() == (near, True)  # spun to, though already queued
        assert runtime.timer_lateness[-1] == (core.TIMER_ADVERT, 0.0)  # handed over in time

    trio.run(main)
