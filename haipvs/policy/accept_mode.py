"""Accept mode (RFC 5798 §6.1 Accept_Mode; keepalived's `accept` / `no_accept`): which VIPs a
non-owner MASTER must not accept packets for, and so which addresses haipvs' nftables table
drops now.

keepalived 2.2.7's rules, followed here (the effective accept mode of an instance, from
`accept`, `strict_mode` and `vrrp_strict`, is haipvs/config/strict_mode.py accept_mode()):

- The drop rules matter only to a non-owner without accept mode
  (vrrp.c vrrp_handle_accept_mode() returns at once for the owner or with accept).
- They are set when the instance becomes MASTER, before its VIPs are added
  (vrrp_state_become_master()), and removed when it leaves MASTER, after its VIPs are
  removed (vrrp_restore_interface()). A BACKUP holds no VIP, so the kernel does not take
  packets for it anyway; its set is empty, as keepalived's is.
- The VIPs and the excluded VIPs (evips) are both blocked (vrrp_nftables.c
  nft_update_addresses() walks vrrp->vip then vrrp->evip).
- The table exists only while some instance may need it; a leftover one is replaced at start
  (vrrp_nftables.c check_and_delete_tables()) and it is deleted on stop (nft_end()).

Pure: driven as `AcceptMode.handle(input) -> outputs`; the driver
(haipvs/drivers/nft_accept.py) turns `Setup`/`Update`/`Teardown` into `nft -f` transactions.
"""

from __future__ import annotations

import ipaddress
from dataclasses import field

from haipvs.dataclass_lean import dataclass
from haipvs.limits import OWNER_PRIORITY

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def drops(accept: bool, priority: int) -> bool:
    """Whether the instance needs drop rules at all (vrrp.c vrrp_handle_accept_mode())."""
    return priority != OWNER_PRIORITY and not accept


@dataclass(frozen=True)
class Guarded:
    """An instance in no_accept mode and the addresses its drop rules cover: the VIPs and
    excluded VIPs, with their devices (an IPv6 link-local address is only itself on its
    device, so it is matched with the interface: vrrp_nftables.c vips_link_local)."""

    name: str
    addresses: tuple[tuple[IPAddress, str], ...]


@dataclass(frozen=True)
class Blocked:
    """What the table drops now: global addresses per family, link-local IPv6 with device."""

    v4: frozenset[ipaddress.IPv4Address] = frozenset()
    v6: frozenset[ipaddress.IPv6Address] = frozenset()
    v6_link_local: frozenset[tuple[ipaddress.IPv6Address, str]] = frozenset()


NOTHING_BLOCKED = Blocked()


# Inputs
@dataclass(frozen=True)
class Start:
    """The instances at start (only the no_accept ones), none of them MASTER yet."""

    guarded: tuple[Guarded, ...]


@dataclass(frozen=True)
class Held:
    """An instance took (held=True, before its VIPs) or let go of (after them) its VIPs."""

    name: str
    held: bool


@dataclass(frozen=True)
class Reconfigure:
    """A reload: the no_accept instances now; held ones keep their state by name."""

    guarded: tuple[Guarded, ...]


@dataclass(frozen=True)
class Stop:
    pass


Input = Start | Held | Reconfigure | Stop


# Outputs
@dataclass(frozen=True)
class Setup:
    """Create the table (replacing a leftover one) with these addresses, in one transaction."""

    blocked: Blocked


@dataclass(frozen=True)
class Update:
    """Replace the sets' contents, in one transaction."""

    blocked: Blocked


@dataclass(frozen=True)
class Teardown:
    """Delete the table (also a leftover one when no instance needs it)."""


Output = Setup | Update | Teardown


@dataclass
class AcceptMode:
    guarded: dict[str, Guarded] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)
    table: bool = False
    blocked: Blocked = NOTHING_BLOCKED

    def handle(self, event: Input) -> list[Output]:
        match event:
            case Start(guarded=guarded):
                self.guarded = {g.name: g for g in guarded}
                self.held = set()
                self.blocked = NOTHING_BLOCKED
                # A table left by a crashed run goes in any case (no duplicates, nothing
                # stale); it is re-created only if some instance may need it.
                self.table = bool(self.guarded)
                return [Setup(self.blocked)] if self.table else [Teardown()]
            case Held(name=name, held=held):
                if held:
                    self.held.add(name)
                else:
                    self.held.discard(name)
                return self._update()
            case Reconfigure(guarded=guarded):
                self.guarded = {g.name: g for g in guarded}
                if self.guarded and not self.table:
                    self.table = True
                    self.blocked = self._wanted()
                    return [Setup(self.blocked)]
                return self._update()
            case Stop():
                self.held = set()
                self.blocked = NOTHING_BLOCKED
                was, self.table = self.table, False
                return [Teardown()] if was else []
        return []

    def _wanted(self) -> Blocked:
        v4: set[ipaddress.IPv4Address] = set()
        v6: set[ipaddress.IPv6Address] = set()
        link_local: set[tuple[ipaddress.IPv6Address, str]] = set()
        for name in self.held:
            guarded = self.guarded.get(name)
            for address, dev in guarded.addresses if guarded is not None else ():
                if isinstance(address, ipaddress.IPv4Address):
                    v4.add(address)
                elif address.is_link_local:
                    link_local.add((address, dev))
                else:
                    v6.add(address)
        return Blocked(frozenset(v4), frozenset(v6), frozenset(link_local))

    def _update(self) -> list[Output]:
        if not self.table:
            return []
        wanted = self._wanted()
        if wanted == self.blocked:
            return []
        self.blocked = wanted
        return [Update(wanted)]
