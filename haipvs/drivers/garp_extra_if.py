"""Carries out keepalived's garp_extra_if on the VRRP loop (the rules are
haipvs.vrrp.garp_extra_if): the ActionRunner calls `became_master` / `left_master` with
the VIPs and `advert_sent` after each advert; a due round goes out as one GARP/NA per
interface through the shared per-interface announcers and the GARP pacer, so it never
holds up an advert (keepalived sends it from vrrp_state_master_tx(), on the advert's
thread, through the same send_gratuitous_arp() queue)."""

from __future__ import annotations

from haipvs.drivers.garp_sender import GarpSender
from haipvs.drivers.vip_announcers import VipAnnouncers
from haipvs.drivers.vrrp_instance import Instance
from haipvs.vrrp.garp_extra_if import ExtraIfTimer, round_addresses


class ExtraIfRounds:
    def __init__(self, garp: GarpSender, announcers: VipAnnouncers) -> None:
        self._garp = garp
        self._announcers = announcers
        self._timers: dict[str, ExtraIfTimer] = {}

    def became_master(self, instance: Instance, now: float) -> None:
        """vrrp_state_become_master(): vmac_garp_timer = now + delay."""
        delay = instance.binding.extra_if.delay
        if not delay:
            self._timers.pop(instance.name, None)
            return
        timer = self._timers.get(instance.name)
        if timer is None or timer.delay != delay:
            timer = self._timers[instance.name] = ExtraIfTimer(delay)
        timer.became_master(now)

    def left_master(self, instance: Instance) -> None:
        timer = self._timers.get(instance.name)
        if timer is not None:
            timer.left_master()

    def advert_sent(self, instance: Instance, now: float) -> None:
        """vrrp_state_master_tx(): only while the VIPs are set (VRRP_VIP_ISSET)."""
        timer = self._timers.get(instance.name)
        if timer is None or not instance.vips_held or not timer.advert_sent(now):
            return
        binding = instance.binding
        pairs = [(vip.ifname, vip.address) for vip in binding.vips]
        pairs += [(a.dev, a.interface.ip) for a in binding.entries.addresses]
        xmit_base = binding.vmac is not None and binding.vmac.xmit_base
        for ifname, address in round_addresses(pairs, binding.ifname, binding.vmacs_ours,
                                               binding.extra_if.all_if, xmit_base):
            announcer = (instance.group.announcer if ifname == binding.ifname
                         else self._announcers.get(ifname))
            if announcer is not None:
                self._garp.announce(instance.name, announcer, [address], 1,
                                    binding.garp_interval, binding.gna_interval)

    def forget(self, instance: str) -> None:
        self._timers.pop(instance, None)
