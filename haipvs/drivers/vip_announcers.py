"""Announcers for the interfaces an instance's VIPs live on besides its own (keepalived
sends each VIP's GARP/NA on `ipaddress->ifp`, haipvs.vrrp.garp_ifaces). One Announcer per
interface, shared by the instances that use it and closed with the last one. The
instance's own interface keeps using its InterfaceGroup's announcer (a vmac's MAC for a
use_vmac instance)."""

from __future__ import annotations

import structlog

from haipvs.drivers.announce import Announcer

log = structlog.get_logger("haipvs.vrrp")


class VipAnnouncers:
    def __init__(self) -> None:
        self._announcers: dict[str, Announcer] = {}
        self._users: dict[str, set[str]] = {}  # ifname -> instances using it

    async def open(self, instance: str,
                   links: dict[str, tuple[int | None, bytes | None]]) -> None:
        """Async only to run as a queued runtime step (it never waits). `links`: ifname ->
        (ifindex, MAC), read by the caller outside the VRRP loop. An interface
        that is missing now gets no announcer (its VIP cannot be added either)."""
        for ifname, (index, mac) in links.items():
            if ifname not in self._announcers:
                if index is None or not mac:
                    log.warning("garp_interface_missing", instance=instance, dev=ifname)
                    continue
                try:
                    self._announcers[ifname] = Announcer(ifname, index, mac)
                except OSError as exc:
                    log.warning("garp_interface_failed", instance=instance, dev=ifname,
                                error=str(exc))
                    continue
            self._users.setdefault(ifname, set()).add(instance)

    def close(self, instance: str) -> None:
        for ifname in [i for i, users in self._users.items() if instance in users]:
            users = self._users[ifname]
            users.discard(instance)
            if not users:
                del self._users[ifname]
                self._announcers.pop(ifname).close()

    def get(self, ifname: str) -> Announcer | None:
        return self._announcers.get(ifname)

    def close_all(self) -> None:
        for announcer in self._announcers.values():
            announcer.close()
        self._announcers.clear()
        self._users.clear()
