"""Which interface each address's GARP/NA goes out on, pure (keepalived vrrp.c
vrrp_send_link_update() / vrrp_send_update(), vrrp_arp.c send_gratuitous_arp_immediate()).

keepalived announces every VIP, then every excluded VIP (`virtual_ipaddress_excluded`),
`rep` times, each on the address's own interface (`ipaddress->ifp`) with that interface's
hardware address as the source, and paces each interface on its own (`ifp->garp_next_time`).
The instance's interface only matters for the addresses without a `dev` (and for a use_vmac
instance those are on the vmac, its ifp).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def by_interface(
    addresses: Iterable[tuple[str, IPAddress]],
) -> list[tuple[str, tuple[IPAddress, ...]]]:
    """(interface, addresses) in the order the interfaces first appear, each interface's
    addresses in list order (VIPs before excluded ones, as vrrp_send_link_update() walks
    them). An address listed twice on one interface is announced once per round."""
    lines: dict[str, dict[IPAddress, None]] = {}
    for ifname, address in addresses:
        lines.setdefault(ifname, {})[address] = None
    return [(ifname, tuple(line)) for ifname, line in lines.items()]


def extra_interfaces(instance_ifname: str, devices: Iterable[str]) -> tuple[str, ...]:
    """The interfaces other than the instance's own that its addresses live on: each needs
    an announcer of its own (the instance's interface has the group's)."""
    return tuple(dict.fromkeys(d for d in devices if d != instance_ifname))
