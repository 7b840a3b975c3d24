"""RFC 5798 §6.4.2: a Backup's Master_Down_Timer (Skew_Time after a priority 0) starts at
the advert's receipt, which the VRRP driver knows from the kernel's arrival stamp
(haipvs.vrrp.arrival; the driver's received_at feeds the core that time)."""

from pytest import approx

from haipvs.vrrp import arrival
from haipvs.vrrp.core import TIMER_MASTER_DOWN, SetTimer

from .builders import params, received, started


def test_6_4_2_skew_time_runs_from_the_kernel_arrival_not_from_the_loop_reaching_it():
    p = params()
    machine = started(p)
    at = arrival.handled_at(now=1.0003, arrived=1.0, floor=0.0)  # 0.3 ms in the queue
    actions = machine.handle(at, received(p, priority=0))
    timers = [a for a in actions if isinstance(a, SetTimer)]
    assert timers == [SetTimer(TIMER_MASTER_DOWN, approx(1.609375))]


def test_without_a_stamp_the_advert_is_handled_now():
    assert arrival.handled_at(now=10.0, arrived=None, floor=9.0) == 10.0


def test_a_machine_clock_never_runs_backwards_behind_a_timer_that_already_fired():
    # the advert arrived at 10.0, but a timer was fed at 10.0001 while it was queued
    assert arrival.handled_at(now=10.0002, arrived=10.0, floor=10.0001) == 10.0001


def test_never_later_than_now():
    assert arrival.handled_at(now=10.0, arrived=10.5, floor=9.0) == 10.0
