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

from haipvs.drivers.precise_alarm import spin_until
from haipvs.drivers.timed_send import Completion, TimedSender, open_timed_sender
from haipvs.drivers.vrrp_instance import Instance
from haipvs.vrrp import core

TIMED_LEAD = 0.003  # seconds: the GIL wait (up to the 0.2 ms switch interval) and the feed
log = structlog.get_logger("haipvs.vrrp")


def timed(sender: TimedSender | None, instance: Instance, timer: str) -> bool:
    """Is this timer handed to the kernel ahead (module doc)?"""
    return (sender is not None and timer == core.TIMER_ADVERT
            and instance.machine.state == core.State.MASTER)


class TimedAdverts:
    def __init__(self) -> None:
        self.sender: TimedSender | None = None
        self._offset = 0.0  # CLOCK_MONOTONIC = trio time - offset (trio's SystemClock)
        self._owners: dict[int, Instance] = {}

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

    async def send(self, instance: Instance, messages: list[tuple[bytes, object, object]],
                   ttl: int | None, at: float) -> None:
        """Queue each (message, src, dst) for `at` (trio time). If the ring refuses one, that
        one is sent the old way: the caller's timer, spun to the deadline."""
        sender = self.sender
        assert sender is not None
        when = self.monotonic_ns(at)
        for message, src, dst in messages:
            try:
                token = instance.group.sock.send_at(sender, when, message, src, dst, ttl)
            except OSError as exc:
                log.warning("vrrp_timed_send_refused", instance=instance.name, error=str(exc))
                spin_until(at)
                await self._send_now(instance, message, src, dst, ttl)
                continue
            instance.timed_sends.append(token)
            self._owners[token] = instance

    async def _send_now(self, instance: Instance, message: bytes, src, dst,
                        ttl: int | None) -> None:
        try:
            await instance.group.sock.send(message, src, dst, ttl)
        except OSError as exc:
            log.warning("vrrp_send_failed", instance=instance.name, dst=str(dst), error=str(exc))

    def withdraw(self, instance: Instance) -> None:
        """Cancel the instance's queued adverts (module doc); sent ones stay sent."""
        sender = self.sender
        tokens, instance.timed_sends = instance.timed_sends, []
        for token in tokens:
            self._owners.pop(token, None)
            if sender is None:
                continue
            try:
                sender.cancel(token)
            except OSError as exc:  # the ring is broken: stop using it
                log.error("vrrp_timed_send_broken", instance=instance.name, error=str(exc))
                self.sender = None

    def completed(self, done: list[Completion]) -> None:
        """Finished sends: forget them, and log a failure as an immediate send would."""
        for token, result in done:
            instance = self._owners.pop(token, None)
            if instance is None:
                continue
            if token in instance.timed_sends:
                instance.timed_sends.remove(token)
            if result < 0 and result != -errno.ECANCELED:
                log.warning("vrrp_send_failed", instance=instance.name,
                            error=os.strerror(-result))
