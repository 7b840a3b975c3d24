"""keepalived's `garp_extra_if <delay> [all]` / `vrrp_garp_extra_if` (deprecated names
`vmac_garp_intvl` / `vrrp_vmac_garp_intvl`), pure. Not wired into the runtime or the config
yet (docs/migration.md: not supported); this is the decision part, following keepalived
2.2.7:

- vrrp.c vrrp_complete_instance(): an instance without its own setting takes the global
  delay and `all` flag; the delay is dropped (0) when no VIP lives on another interface
  than the instance's, or when all of those are plain interfaces and `all` is off (by
  default only the vmacs keepalived created, `ifp->is_ours`, count).
- vrrp.c vrrp_state_become_master(): the timer starts at now + delay;
  vrrp_state_master_tx(): at each advert sent as MASTER with the VIPs set, once now is past
  the timer, one round goes out and the timer restarts (so the period is rounded up to
  an advert).
- vrrp.c vrrp_send_vmac_update(): one round is ONE GARP/NA per interface, for the first
  VIP (then excluded VIP) on it, skipping interfaces that are not ours unless `all`, and
  the instance's own interface unless it sends adverts from the base (vmac_xmit_base).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

# ExtraIf, the setting, is in haipvs/vrrp/params.py: every instance's binding holds one,
# and the rules here load only with a config that has garp_extra_if (issue 18).
from haipvs.vrrp.params import ExtraIf

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def effective(instance: ExtraIf | None, global_default: ExtraIf, instance_ifname: str,
              devices: Iterable[str], ours: frozenset[str]) -> ExtraIf:
    """vrrp_complete_instance(): the instance's setting, else the global one, off when there
    is no interface it would send on."""
    chosen = instance if instance is not None else global_default
    others = {d for d in devices if d != instance_ifname}
    use_extra_vmac = bool(others & ours)
    use_extra_if = bool(others - ours)
    if chosen.delay and ((not use_extra_if and not use_extra_vmac)
                         or (not use_extra_vmac and not chosen.all_if)):
        return ExtraIf(0, chosen.all_if)
    return chosen


def round_addresses(addresses: Iterable[tuple[str, IPAddress]], instance_ifname: str,
                    ours: frozenset[str], all_if: bool,
                    xmit_base: bool = False) -> list[tuple[str, IPAddress]]:
    """vrrp_send_vmac_update(): `addresses` are (interface, address), VIPs then excluded
    ones in list order; one per interface."""
    done: dict[str, IPAddress] = {}
    for ifname, address in addresses:
        if ifname not in ours and not all_if:
            continue
        if ifname == instance_ifname and not xmit_base:
            continue
        done.setdefault(ifname, address)
    return list(done.items())


class ExtraIfTimer:
    """vmac_garp_timer of one instance: `became_master(now)`, then `advert_sent(now)` at
    each MASTER advert returns whether a round is due."""

    def __init__(self, delay: int) -> None:
        self.delay = delay
        self.next_time: float | None = None

    def became_master(self, now: float) -> None:
        self.next_time = now + self.delay if self.delay else None

    def left_master(self) -> None:
        self.next_time = None

    def advert_sent(self, now: float) -> bool:
        # timercmp(&time_now, &vrrp->vmac_garp_timer, >): strictly after
        if self.next_time is None or not now > self.next_time:
            return False
        self.next_time = now + self.delay
        return True
