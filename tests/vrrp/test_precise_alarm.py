"""haipvs/drivers/precise_alarm.py, the VRRP loop's timer (RFC 5798 §6.4: Adver_Timer and
Master_Down_Timer fire at their deadline): it never fires early, re-arming replaces the
earlier deadline, and the runtime's test for trio's real clock holds (vrrp_runtime.py uses
the alarm only when the loop runs trio's default clock, not a test's MockClock)."""

from __future__ import annotations

import threading

import trio
import trio.testing

from haipvs.drivers.precise_alarm import PreciseAlarm, spin_until


def in_own_thread(async_fn):
    """trio.run in a fresh thread: the alarm sets that thread's timer slack, not pytest's."""
    result: list = []
    thread = threading.Thread(target=lambda: result.append(trio.run(async_fn)))
    thread.start()
    thread.join(30)
    assert result, "the alarm thread did not finish"
    return result[0]


def test_runtime_clock_check_names_trios_default_clock():
    async def name():
        return type(trio.lowlevel.current_clock()).__name__

    assert trio.run(name) == "SystemClock"  # the name vrrp_runtime.py compares with
    assert trio.run(name, clock=trio.testing.MockClock()) != "SystemClock"


def test_rfc5798_6_4_timers_never_fire_before_their_deadline():
    async def fire_twenty() -> list[float]:
        alarm = PreciseAlarm()
        early = []
        try:
            with trio.fail_after(10):
                for _ in range(20):
                    deadline = trio.current_time() + 0.003
                    alarm.arm_at(deadline)
                    await alarm.wait()
                    spin_until(deadline)
                    early.append(deadline - trio.current_time())
        finally:
            alarm.close()
        return early

    assert max(in_own_thread(fire_twenty)) <= 0  # at or after every deadline


def test_rearming_replaces_the_earlier_deadline():
    async def rearm() -> bool:
        alarm = PreciseAlarm()
        try:
            alarm.arm_at(trio.current_time() + 30)  # replaced below: never waited for
            deadline = trio.current_time() + 0.01
            alarm.arm_at(deadline)
            with trio.fail_after(5):
                await alarm.wait()
            spin_until(deadline)
            return trio.current_time() >= deadline
        finally:
            alarm.close()

    assert in_own_thread(rearm)
