"""GARP / unsolicited NA pacing per interface, pure (keepalived vrrp_arp.c, vrrp_ndisc.c,
vrrp_scheduler.c vrrp_arp_thread()).

keepalived's `vrrp_garp_interval` / `vrrp_gna_interval` (and a `garp_group`'s
`garp_interval` / `gna_interval`) set the least gap between two GARPs (NAs) sent on one
interface, whichever instance sends them:

- send_gratuitous_arp(): with no interval, or before the first GARP on the interface, or once
  the gap has passed, the GARP goes out at once and the interface's next time becomes
  now + interval (send_gratuitous_arp_immediate()).
- Otherwise the address is marked pending (one flag per address, so the repeats of a burst
  that find it already pending add nothing: with an interval a burst of `repeat` x N
  addresses sends each address about once) and vrrp_arp_thread() runs at the next time.
- vrrp_arp_thread() walks the instances, and each one's VIPs then excluded addresses in
  list order (not in the order they became pending): with `repeat` 2 over V1 V2 V3 the wire
  shows V1, then V1 V2 V3 one interval apart, as a sniffer sees keepalived 2.2.7 do
  (integration/test_vrrp_knobs.py). It skips an instance that is no longer MASTER with its
  VIPs set (its pending addresses are dropped), and sends a pending address once its
  interface's next time has come, which pushes that time on again: one packet per interval.

IPv4 (GARP) and IPv6 (NA) have separate next times and intervals on an interface. The driver
(haipvs/drivers/garp_sender.py) sends `Send`s and sleeps until `Wake`; adverts never wait
for it.
"""

from __future__ import annotations

import ipaddress
from dataclasses import field
from typing import NamedTuple

from haipvs.dataclass_lean import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


# Announce, Send and Wake are NamedTuples, not frozen dataclasses: they are made between
# the VIP add and the first GARP of a takeover, where a frozen dataclass's __init__ (one
# object.__setattr__ per field) costs four times as much.


class Announce(NamedTuple):
    """An instance's burst (core.SendGratuitous): `repeat` rounds over `addresses` on
    `ifname`, with the instance's GARP (IPv4) and NA (IPv6) intervals."""

    instance: str
    ifname: str
    addresses: tuple[IPAddress, ...]
    repeat: int
    garp_interval: float = 0.0
    gna_interval: float = 0.0


@dataclass(frozen=True)
class Tick:
    """The wake-up time came; `holding` names the instances still MASTER with VIPs set."""

    holding: frozenset[str]


class Send(NamedTuple):
    instance: str
    ifname: str
    address: IPAddress


class Wake(NamedTuple):
    """Feed a Tick at `at` (the earliest pending next time); None = nothing pending."""

    at: float | None


Output = Send | Wake


@dataclass
class _Line:
    """One interface and family: keepalived's garp_next_time / gna_next_time."""

    interval: float = 0.0
    next_time: float | None = None  # None: nothing sent yet (keepalived's tv_sec == 0)
    # (instance, address) -> None: an ordered set, keepalived's garp_gna_pending flags
    pending: dict[tuple[str, IPAddress], None] = field(default_factory=dict)


class GarpPacer:
    """All interfaces' GARP/NA lines; `handle(now, input) -> outputs`."""

    def __init__(self) -> None:
        self._lines: dict[tuple[str, int], _Line] = {}
        # instance -> (its place among the instances, its addresses in list order): the
        # order vrrp_arp_thread() walks the pending addresses in
        self._order: dict[str, tuple[int, tuple[IPAddress, ...]]] = {}

    def handle(self, now: float, event: Announce | Tick) -> list[Output]:
        outputs: list[Output] = []
        if isinstance(event, Announce):
            self._announce(now, event, outputs)
        else:
            self._tick(now, event.holding, outputs)
        outputs.append(Wake(self.next_wake()))
        return outputs

    def _announce(self, now: float, event: Announce, outputs: list[Output]) -> None:
        # This runs between the VIP add and the first GARP of a takeover, on code that has
        # not run for a while: each address's line and Send are looked up and made once,
        # not once per round (a burst is `repeat` rounds over the same addresses).
        order = self._order.get(event.instance)
        seq = len(self._order) if order is None else order[0]
        self._order[event.instance] = (seq, event.addresses)
        instance, ifname = event.instance, event.ifname
        offers = []
        for address in event.addresses:
            version = address.version
            line = self._lines.get((ifname, version))
            if line is None:
                line = self._lines[(ifname, version)] = _Line()
            line.interval = event.garp_interval if version == 4 else event.gna_interval
            offers.append((line, address, Send(instance, ifname, address)))
        for _ in range(event.repeat):
            for line, address, send in offers:
                # keepalived send_gratuitous_arp(): delay only with an interval, after a
                # first send, and while the gap has not passed.
                if line.interval > 0 and line.next_time is not None and now < line.next_time:
                    line.pending[(instance, address)] = None
                else:
                    outputs.append(send)
                    line.next_time = now + line.interval if line.interval > 0 else None

    def next_wake(self) -> float | None:
        times = [line.next_time for line in self._lines.values()
                 if line.next_time is not None and line.pending]
        return min(times) if times else None

    def pending(self) -> int:
        return sum(len(line.pending) for line in self._lines.values())

    def _send(self, now: float, line: _Line, instance: str, ifname: str,
              address: IPAddress, outputs: list[Output]) -> None:
        outputs.append(Send(instance, ifname, address))
        line.next_time = now + line.interval if line.interval > 0 else None

    def _place(self, key: tuple[str, IPAddress]) -> tuple[int, int]:
        instance, address = key
        seq, addresses = self._order.get(instance, (len(self._order), ()))
        return seq, addresses.index(address) if address in addresses else len(addresses)

    def _tick(self, now: float, holding: frozenset[str], outputs: list[Output]) -> None:
        for (ifname, _family), line in self._lines.items():
            for key in sorted(line.pending, key=self._place):
                instance, address = key
                if instance not in holding:
                    # vrrp_arp_thread(): not MASTER with VIPs set any more
                    del line.pending[key]
                    continue
                if line.next_time is None or now >= line.next_time:
                    del line.pending[key]
                    self._send(now, line, instance, ifname, address, outputs)
