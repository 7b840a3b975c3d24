"""Carries out haipvs.vrrp.garp_pacing on the VRRP loop: sends what is due through the
interface's Announcer, and one task sleeps until the next paced packet. The bursts are
non-blocking sends, so an advert is never behind a paced GARP (keepalived runs its
vrrp_arp_thread as a timer on the same scheduler as the adverts)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import trio

from haipvs.drivers.announce import Announcer
from haipvs.vrrp.garp_pacing import Announce, GarpPacer, IPAddress, Output, Send, Tick, Wake


class GarpSender:
    def __init__(self, holding: Callable[[], frozenset[str]]) -> None:
        self._pacer = GarpPacer()
        self._holding = holding  # names of the instances that are MASTER with VIPs set
        self._announcers: dict[str, Announcer] = {}
        self._wake_at = math.inf
        self._rescheduled = trio.Event()

    def announce(self, instance: str, announcer: Announcer, addresses: Sequence[IPAddress],
                 repeat: int, garp_interval: float, gna_interval: float) -> None:
        self._announcers[announcer.ifname] = announcer
        event = Announce(instance, announcer.ifname, tuple(addresses), repeat,
                         garp_interval, gna_interval)
        self._carry_out(self._pacer.handle(trio.current_time(), event))

    def _carry_out(self, outputs: list[Output]) -> None:
        for output in outputs:
            match output:
                case Send(ifname=ifname, address=address):
                    announcer = self._announcers.get(ifname)
                    if announcer is not None:
                        announcer.announce([address])
                case Wake(at=at):
                    wake_at = math.inf if at is None else at
                    if wake_at != self._wake_at:
                        self._wake_at = wake_at
                        self._rescheduled.set()

    async def run(self) -> None:
        """The one task that feeds Tick at each Wake time."""
        while True:
            self._rescheduled = trio.Event()
            with trio.move_on_at(self._wake_at):
                await self._rescheduled.wait()
                continue
            self._wake_at = math.inf
            self._carry_out(self._pacer.handle(trio.current_time(), Tick(self._holding())))
