"""A MASTER's periodic adverts, handed to the kernel ahead and sent at their deadline.

The runtime feeds a MASTER's advert timer TIMED_LEAD before its deadline, at the deadline
(the core's time is injected, so it decides exactly what it would decide then), and the
SendAdvert goes to an io_uring ring (haipvs.drivers.timed_send) that sends it when the
deadline comes, whoever holds the GIL then. Only that timer, only in MASTER: a takeover
(master_down) still runs from the precise alarm, because becoming MASTER does more than
send.

Nothing decided later may be overtaken by an advert decided earlier: any other advert of
the instance (priority 0 on shutdown or removal, an answer to a priority-0 advert, a
parting advert) first withdraws what is still queued, and so does leaving MASTER. A
withdrawal that comes too late (the deadline passed) finds the advert sent, in order.
"""

from __future__ import annotations

import errno
import math
import os
import time

import structlog
import trio

from haipvs.drivers.precise_alarm import SPIN, spin_until
from haipvs.drivers.timed_send import Completion, TimedSender, open_timed_sender
from haipvs.drivers.vrrp_instance import Instance, IPAddress
from haipvs.vrrp import core

TIMED_LEAD = 0.003  # seconds: the GIL wait (up to the 0.2 ms switch interval) and the feed
log = structlog.get_logger("haipvs.vrrp")


class TimedAdverts:
    def __init__(self) -> None:
        self.sender: TimedSender | None = None
        self._offset = 0.0  # CLOCK_MONOTONIC = trio time - offset (trio's SystemClock)
        self._owners: dict[int, Instance] = {}  # queued adverts: token -> instance

    def due_at(self, instance: Instance, timer: str, deadline: float) -> float:
        """When the runtime's loop acts on a timer: at its deadline, or TIMED_LEAD before it
        for a MASTER's advert, which the kernel then sends at the deadline (module doc)."""
        if (self.sender is not None and timer == core.TIMER_ADVERT
                and instance.machine.state == core.State.MASTER):
            return deadline - TIMED_LEAD
        return deadline

    def queued(self, instance: Instance) -> bool:
        return instance in self._owners.values()

    def open(self, clock: object) -> None:
        """Use a ring when the kernel can (haipvs.drivers.timed_send) and trio's clock is
        CLOCK_MONOTONIC plus an offset (its SystemClock: time.perf_counter() + offset)."""
        sender, why = open_timed_sender()
        if sender is not None and (
                time.get_clock_info("perf_counter").implementation
                != "clock_gettime(CLOCK_MONOTONIC)" or not hasattr(clock, "offset")):
            sender.close()
            sender, why = None, "trio's clock is not CLOCK_MONOTONIC"
        self.use(sender, getattr(clock, "offset", 0.0))
        log.info("vrrp_advert_timing", sent_by="kernel" if sender else "timer",
                 detail=None if sender else why)

    def use(self, sender: TimedSender | None, clock_offset: float) -> None:
        self.sender = sender
        self._offset = clock_offset

    async def run(self) -> None:
        """Reads the reports of the adverts the kernel sent (or failed to send)."""
        sender = self.sender
        while sender is not None and self.sender is sender:
            await trio.lowlevel.wait_readable(sender.fileno())
            self.completed(sender.completions())

    def close(self) -> None:
        sender, self.sender = self.sender, None
        if sender is not None:
            sender.close()  # the kernel cancels what is still queued

    def monotonic_ns(self, at: float) -> int:
        """Rounded up: the kernel's timer never fires before the core's deadline."""
        return math.ceil((at - self._offset) * 1e9)

    def queue(self, instance: Instance, messages: list[tuple[bytes, IPAddress]],
              src: IPAddress, ttl: int | None, at: float) -> list[tuple[bytes, IPAddress]]:
        """Queue each (message, dst) for `at` (trio time); returns those the ring refused,
        for the caller to send itself at `at` (wait_until)."""
        sender = self.sender
        assert sender is not None
        when = self.monotonic_ns(at)
        refused = []
        for message, dst in messages:
            try:
                token = instance.group.sock.send_at(sender, when, message, src, dst, ttl)
            except OSError as exc:
                log.warning("vrrp_timed_send_refused", instance=instance.name, error=str(exc))
                refused.append((message, dst))
                continue
            self._owners[token] = instance
        return refused

    @staticmethod
    async def wait_until(at: float) -> None:
        """Until `at`, never before: trio's sleep (whole milliseconds, rounded up) to SPIN
        before it, then the spin. Only when the ring refused an advert: the loop waits."""
        await trio.sleep_until(at - SPIN)
        spin_until(at)

    def withdraw(self, instance: Instance) -> None:
        """Cancel the instance's queued adverts (module doc); sent ones stay sent."""
        sender = self.sender
        cancelled = False
        for token in [t for t, owner in self._owners.items() if owner is instance]:
            del self._owners[token]
            if sender is None:
                continue
            try:
                cancelled |= not sender.cancel(token)
            except OSError as exc:  # the ring is broken: stop using it
                log.error("vrrp_timed_send_broken", instance=instance.name, error=str(exc))
                self.sender = None
        if cancelled:
            # The core counted the advert when it decided it (one per advert, whatever the
            # number of unicast peers); the Sent counter of the stats and metrics says what
            # went out, as keepalived's does, so a withdrawn advert is taken back off.
            counters = instance.machine.counters
            counters.adverts_sent = max(0, counters.adverts_sent - 1)

    def completed(self, done: list[Completion]) -> None:
        """Finished sends: forget them, and log a failure as an immediate send would."""
        for token, result in done:
            instance = self._owners.pop(token, None)
            if instance is not None and result < 0 and result != -errno.ECANCELED:
                log.warning("vrrp_send_failed", instance=instance.name,
                            error=os.strerror(-result))
