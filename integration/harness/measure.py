"""Failover measurements from the sniffer's kernel timestamps (shared by tests and bench/)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from integration.harness.sniffer import Advert, Announcement, Sniffer
from integration.harness.topology import Node


@dataclass(frozen=True)
class Takeover:
    """The old master's last word on the wire, the new master's first advert and GARP."""

    old_last: Advert  # the dead master's last advert, or its priority-0 advert
    new_first: Advert
    garp: Announcement | None

    @property
    def takeover(self) -> float:
        return self.new_first.ts - self.old_last.ts

    @property
    def garp_delay(self) -> float | None:
        """From the new master's first advert to its first GARP/NA for the VIP."""
        return None if self.garp is None else self.garp.ts - self.new_first.ts

    @property
    def garp_after_old(self) -> float | None:
        """From the old master's last advert to the new master's first GARP/NA."""
        return None if self.garp is None else self.garp.ts - self.old_last.ts


def _finish(sniffer: Sniffer, old_last: Advert, new: Node, vip: str, timeout: float,
            vrid: int) -> Takeover:
    new_first = sniffer.wait_advert(timeout, since=old_last.ts, src_ip=new.ip, vrid=vrid)
    garp = sniffer.wait_announcement(max(2.0, timeout / 4), since=old_last.ts,
                                     src_mac=new.mac, ip=vip.split("/")[0])
    return Takeover(old_last, new_first, garp)


def silent_master_takeover(sniffer: Sniffer, old: Node, new: Node, vip: str,
                           kill: Callable[[], None], timeout: float = 8.0,
                           vrid: int = 51) -> Takeover:
    """Kill the master without a goodbye (`kill`), then time the backup's takeover."""
    sniffer.wait_advert(3.0, src_ip=old.ip, vrid=vrid)
    # Kill just after an advert so the measured gap is not shortened by a half-sent one.
    mark = time.time()
    sniffer.wait_advert(3.0, since=mark, src_ip=old.ip, vrid=vrid)
    kill()
    killed_at = time.time()
    old_last = [a for a in sniffer.adverts(src_ip=old.ip, vrid=vrid) if a.ts <= killed_at][-1]
    return _finish(sniffer, old_last, new, vip, timeout, vrid)


def priority_zero_takeover(sniffer: Sniffer, old: Node, new: Node, vip: str,
                           stop: Callable[[], object], timeout: float = 5.0,
                           vrid: int = 51) -> Takeover:
    """Stop the master gracefully (`stop`, e.g. SIGTERM) and time the takeover from its
    priority-0 advert."""
    sniffer.wait_advert(3.0, src_ip=old.ip, vrid=vrid)
    stop()
    goodbye = sniffer.wait_advert(2.0, src_ip=old.ip, vrid=vrid, priority=0)
    return _finish(sniffer, goodbye, new, vip, timeout, vrid)
