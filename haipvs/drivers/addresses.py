"""VIP addresses via rtnetlink, reconciled rather than toggled.

Each VIP haipvs adds carries IFA_PROTO = HAIPVS_ADDR_PROTO. Only addresses with that mark
are ever removed, so an address an operator configured by hand is never touched, and after
a crash the kernel itself still tells which addresses are haipvs'.

The `sync_*` functions run inside the rtnetlink owner thread (see netlink_thread.py) and
take its rtnl_socket.RtnlSocket as their first argument.
"""

from __future__ import annotations

import errno
import ipaddress
from typing import TYPE_CHECKING

from pyroute2.netlink.exceptions import NetlinkError

from haipvs.dataclass_lean import dataclass

if TYPE_CHECKING:
    from haipvs.drivers.rtnl_socket import RtnlSocket

HAIPVS_ADDR_PROTO = 0x4B
# RTM_GETLINK, NLM_F_REQUEST: without NLM_F_ACK. pyroute2 0.9's "get" (get_links(index),
# link_lookup) asks for an ACK but stops reading at the reply, so every ACK stayed in its
# unread queue: about 2 KiB of RSS per link check, which the soak measured as steady growth.
_GET_LINK = (18, 0x1)

IPInterface = ipaddress.IPv4Interface | ipaddress.IPv6Interface


@dataclass(frozen=True)
class Vip:
    interface: IPInterface  # address with prefix, e.g. 192.0.2.100/24
    ifname: str
    label: str | None = None

    @property
    def address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        return self.interface.ip


@dataclass(frozen=True)
class AddressChange:
    action: str  # "add" | "remove" | "kept-foreign"
    vip: Vip
    detail: str = ""


def _ifindex(rt: RtnlSocket, ifname: str, fresh: bool = False) -> int | None:
    """Interface index by name, cached on the socket (which lives in its one owner thread):
    a lookup is a netlink round-trip, and becoming MASTER should not wait for it. `fresh`
    bypasses the cache after the kernel said the device is gone."""
    cache = rt.ifindexes
    if fresh or ifname not in cache:
        link = rt.find_link(ifname=ifname)
        if link is None:
            cache.pop(ifname, None)
            return None
        cache[ifname] = link.index
    return cache[ifname]


def forget_ifindexes(rt: RtnlSocket) -> None:
    """Links were re-created (new indexes): the next lookup of each asks the kernel."""
    rt.ifindexes.clear()


def get_link(ipr, **match: object):
    """pyroute2's RTM_NEWLINK message for `index=` or `ifname=` (all its attributes, for the
    VMAC driver and the lab's real servers), or None when there is no such link."""
    try:
        (link,) = ipr.link(_GET_LINK, **match)
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            return None
        raise
    return link


def owned_addresses(rt: RtnlSocket, ifname: str) -> set[IPInterface]:
    """The addresses on `ifname` that carry haipvs' mark."""
    index = _ifindex(rt, ifname)
    if index is None:
        return set()
    return {ipaddress.ip_interface(f"{entry.address}/{entry.prefixlen}")
            for entry in rt.list_addresses(index) if entry.proto == HAIPVS_ADDR_PROTO}


def _present(rt: RtnlSocket, index: int, vip: Vip) -> tuple[bool, bool]:
    """(present at all, present with our mark) for this exact address/prefix."""
    for entry in rt.list_addresses(index):
        if entry.local == vip.address and entry.prefixlen == vip.interface.network.prefixlen:
            return True, entry.proto == HAIPVS_ADDR_PROTO
    return False, False


def sync_add(rt: RtnlSocket, vips: list[Vip]) -> list[AddressChange]:
    changes = []
    for vip in vips:
        index = _ifindex(rt, vip.ifname)
        if index is None:
            changes.append(AddressChange("failed", vip, f"interface {vip.ifname} not found"))
            continue
        try:
            try:
                rt.add_address(vip, index)
            except NetlinkError as exc:
                if exc.code != errno.ENODEV:
                    raise
                # The cached index is stale (interface re-created): look it up again.
                fresh = _ifindex(rt, vip.ifname, fresh=True)
                if fresh is None:
                    raise
                index = fresh
                rt.add_address(vip, index)
            changes.append(AddressChange("add", vip))
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                changes.append(AddressChange("failed", vip, exc.args[1] if exc.args else str(exc)))
                continue
            _, ours = _present(rt, index, vip)
            if not ours:
                note = "already configured by someone else"
                changes.append(AddressChange("kept-foreign", vip, note))
    return changes


def sync_remove(rt: RtnlSocket, vips: list[Vip]) -> list[AddressChange]:
    changes = []
    for vip in vips:
        index = _ifindex(rt, vip.ifname)
        if index is None:
            continue  # interface gone: so is the address
        present, ours = _present(rt, index, vip)
        if not present:
            continue
        if not ours:
            changes.append(AddressChange("kept-foreign", vip, "not added by haipvs"))
            continue
        try:
            rt.remove_address(index, vip.interface)
            changes.append(AddressChange("remove", vip))
        except NetlinkError as exc:
            if exc.code not in (errno.EADDRNOTAVAIL, errno.ENOENT, errno.ENODEV):
                changes.append(AddressChange("failed", vip, str(exc)))
    return changes


def sync_remove_stale(ipr, configured: list[Vip], keep: set[Vip]) -> list[AddressChange]:
    """Remove haipvs-marked copies of configured VIPs that should not be held now.

    Used at start-up (after a crash, a BACKUP must not keep the VIPs it held) and on
    reload (VIPs of removed instances). Only configured VIPs are considered, so another
    haipvs' marked addresses on unrelated interfaces are left alone.
    """
    stale = [vip for vip in configured if vip not in keep]
    return sync_remove(ipr, stale)


@dataclass(frozen=True)
class LinkState:
    ifname: str
    index: int | None
    up: bool
    mac: bytes
    primary_v4: ipaddress.IPv4Address | None
    primary_v6_linklocal: ipaddress.IPv6Address | None


def sync_link_state(rt: RtnlSocket, ifname: str) -> LinkState:
    """Operational state and primary addresses of an interface, ignoring haipvs' VIPs."""
    index = _ifindex(rt, ifname)
    if index is None:
        return LinkState(ifname, None, False, b"", None, None)
    link = rt.find_link(index=index)
    if link is None:  # the cached index is stale (interface re-created or gone)
        index = _ifindex(rt, ifname, fresh=True)
        link = None if index is None else rt.find_link(index=index)
        if link is None:
            return LinkState(ifname, None, False, b"", None, None)
    up = bool(link.flags & 0x1) and link.operstate in ("UP", "UNKNOWN")
    mac = link.mac or bytes(6)
    primary_v4 = None
    primary_v6 = None
    for entry in rt.list_addresses(link.index):
        if entry.proto == HAIPVS_ADDR_PROTO:
            continue
        address = entry.local
        secondary = entry.flags & 0x01  # IFA_F_SECONDARY
        if address.version == 4 and primary_v4 is None and not secondary:
            primary_v4 = address
        elif address.version == 6 and address.is_link_local and primary_v6 is None:
            tentative = entry.flags & 0x40  # IFA_F_TENTATIVE: not usable as a source yet
            if not tentative:
                primary_v6 = address
    return LinkState(ifname, link.index, up, mac, primary_v4, primary_v6)
