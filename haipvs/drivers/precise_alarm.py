"""A timer with microsecond precision for the VRRP loop.

trio sleeps in epoll_wait, whose timeout is whole milliseconds rounded up: a VRRP timer
fired up to 1 ms late (measured: advert lateness p50 0.65 ms with no load, keepalived
0.19 ms). A timerfd is armed in nanoseconds and wakes the same epoll_wait when it
expires. Python 3.11 has no os.timerfd_create (3.13 has), so libc is called through
ctypes: two calls per wait, a few microseconds.

Waking a sleeping CPU is itself late on this class of machine: clock_nanosleep overshoots
by 175 µs (median) and trio's wake-up adds about 100 µs more. So the timerfd is armed
SPIN seconds early and the last stretch is a busy wait on the clock: at most SPIN of CPU
per timer (0.4 ms; 20 timers/s cost 0.8% of a core). The thread's timer slack is set to
1 ns (PR_SET_TIMERSLACK), which the kernel otherwise adds to every timer (50 µs).

trio.current_time() reads CLOCK_MONOTONIC (time.perf_counter) plus a fixed offset, so a
delay computed from it is a delay on the timerfd's clock; rounding up keeps a timer from
ever firing early.
"""

from __future__ import annotations

import ctypes
import errno
import math
import os

import trio

CLOCK_MONOTONIC = 1
PR_SET_TIMERSLACK = 29
SPIN = 0.0004  # seconds: above the wake-up latency's p99 measured here (0.32 ms)
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = os.O_CLOEXEC


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


class _Itimerspec(ctypes.Structure):
    _fields_ = [("it_interval", _Timespec), ("it_value", _Timespec)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.timerfd_create.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.timerfd_settime.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.POINTER(_Itimerspec),
                                  ctypes.c_void_p]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                        ctypes.c_ulong]


def _check(result: int) -> int:
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def spin_until(deadline: float) -> None:
    """The last stretch before a deadline at most SPIN away, on the CPU."""
    clock = trio.current_time
    while clock() < deadline <= clock() + SPIN:
        pass


class PreciseAlarm:
    """One timerfd. `arm_at(deadline)` replaces any earlier arming; `wait()` returns SPIN
    before the deadline, for the caller to spin_until() it. Created and used in one trio
    loop's thread only (the timer slack is per thread)."""

    def __init__(self) -> None:
        self._fd = _check(_libc.timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC))
        self._spec = _Itimerspec()
        _libc.prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0)  # best effort: the spin covers the slack

    def arm_at(self, deadline: float) -> None:
        """Expire SPIN before trio time `deadline` (at least 1 ns from now: 0 disarms)."""
        ns = max(1, math.ceil((deadline - trio.current_time() - SPIN) * 1e9))
        self._spec.it_value.tv_sec, self._spec.it_value.tv_nsec = divmod(ns, 1_000_000_000)
        _check(_libc.timerfd_settime(self._fd, 0, ctypes.byref(self._spec), None))

    async def wait(self) -> None:
        while True:
            await trio.lowlevel.wait_readable(self._fd)
            try:
                os.read(self._fd, 8)
            except BlockingIOError:  # re-armed after it became readable: wait again
                continue
            except OSError as exc:
                if exc.errno != errno.EINTR:
                    raise
                continue
            return

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
