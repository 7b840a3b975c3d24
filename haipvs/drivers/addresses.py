"""VIP addresses via rtnetlink, reconciled rather than toggled.

Each VIP haipvs adds carries IFA_PROTO = HAIPVS_ADDR_PROTO. Only addresses with that mark
are ever removed, so an address an operator configured by hand is never touched, and after
a crash the kernel itself still tells which addresses are haipvs'.

The `sync_*` functions run inside the rtnetlink owner thread (see netlink_thread.py) and
take the IPRoute object as their first argument.
"""

from __future__ import annotations

import errno
import ipaddress

from pyroute2.netlink import NLM_F_REQUEST
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_GETLINK

from haipvs.dataclass_lean import dataclass

HAIPVS_ADDR_PROTO = 0x4B
# RTM_GETLINK without NLM_F_ACK. pyroute2 0.9's "get" (get_links(index), link_lookup) asks
# for an ACK but stops reading at the reply, so every ACK stayed in its unread queue: about
# 2 KiB of RSS per link check, which the soak measured as steady growth.
_GET_LINK = (RTM_GETLINK, NLM_F_REQUEST)

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


def _ifindex(ipr, ifname: str, fresh: bool = False) -> int | None:
    """Interface index by name, cached on the IPRoute object (which lives in its one owner
    thread): a lookup is a netlink round-trip, and becoming MASTER should not wait for it.
    `fresh` bypasses the cache after the kernel said the device is gone."""
    cache = ipr.__dict__.setdefault("_haipvs_ifindex", {})
    if fresh or ifname not in cache:
        link = get_link(ipr, ifname=ifname)
        if link is None:
            cache.pop(ifname, None)
            return None
        cache[ifname] = link["index"]
    return cache[ifname]


def get_link(ipr, **match: object):
    """The RTM_NEWLINK message for `index=` or `ifname=`, or None when there is no such
    link."""
    try:
        (link,) = ipr.link(_GET_LINK, **match)
    except NetlinkError as exc:
        if exc.code == errno.ENODEV:
            return None
        raise
    return link


def owned_addresses(ipr, ifname: str) -> set[IPInterface]:
    """The addresses on `ifname` that carry haipvs' mark."""
    index = _ifindex(ipr, ifname)
    if index is None:
        return set()
    owned = set()
    for msg in ipr.get_addr(index=index):
        if msg.get_attr("IFA_PROTO") == HAIPVS_ADDR_PROTO:
            address = msg.get_attr("IFA_ADDRESS") or msg.get_attr("IFA_LOCAL")
            owned.add(ipaddress.ip_interface(f"{address}/{msg['prefixlen']}"))
    return owned


def _present(ipr, index: int, vip: Vip) -> tuple[bool, bool]:
    """(present at all, present with our mark) for this exact address/prefix."""
    for msg in ipr.get_addr(index=index):
        address = msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS")
        if address == str(vip.address) and msg["prefixlen"] == vip.interface.network.prefixlen:
            return True, msg.get_attr("IFA_PROTO") == HAIPVS_ADDR_PROTO
    return False, False


def sync_add(ipr, vips: list[Vip]) -> list[AddressChange]:
    changes = []
    for vip in vips:
        index = _ifindex(ipr, vip.ifname)
        if index is None:
            changes.append(AddressChange("failed", vip, f"interface {vip.ifname} not found"))
            continue
        kwargs = {
            "index": index,
            "address": str(vip.address),
            "prefixlen": vip.interface.network.prefixlen,
            "IFA_PROTO": HAIPVS_ADDR_PROTO,
        }
        if vip.label and vip.address.version == 4:
            kwargs["label"] = vip.label
        if vip.address.version == 6:
            kwargs["flags"] = 0x80 | 0x02  # IFA_F_PERMANENT | IFA_F_NODAD: usable at once
        try:
            try:
                ipr.addr("add", **kwargs)
            except NetlinkError as exc:
                if exc.code != errno.ENODEV:
                    raise
                # The cached index is stale (interface re-created): look it up again.
                fresh = _ifindex(ipr, vip.ifname, fresh=True)
                if fresh is None:
                    raise
                index = kwargs["index"] = fresh
                ipr.addr("add", **kwargs)
            changes.append(AddressChange("add", vip))
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                changes.append(AddressChange("failed", vip, exc.args[1] if exc.args else str(exc)))
                continue
            _, ours = _present(ipr, index, vip)
            if not ours:
                note = "already configured by someone else"
                changes.append(AddressChange("kept-foreign", vip, note))
    return changes


def sync_remove(ipr, vips: list[Vip]) -> list[AddressChange]:
    changes = []
    for vip in vips:
        index = _ifindex(ipr, vip.ifname)
        if index is None:
            continue  # interface gone: so is the address
        present, ours = _present(ipr, index, vip)
        if not present:
            continue
        if not ours:
            changes.append(AddressChange("kept-foreign", vip, "not added by haipvs"))
            continue
        try:
            ipr.addr(
                "del",
                index=index,
                address=str(vip.address),
                prefixlen=vip.interface.network.prefixlen,
            )
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


def sync_link_state(ipr, ifname: str) -> LinkState:
    """Operational state and primary addresses of an interface, ignoring haipvs' VIPs."""
    index = _ifindex(ipr, ifname)
    if index is None:
        return LinkState(ifname, None, False, b"", None, None)
    link = get_link(ipr, index=index)
    if link is None:  # the cached index is stale (interface re-created or gone)
        index = _ifindex(ipr, ifname, fresh=True)
        link = None if index is None else get_link(ipr, index=index)
        if link is None:
            return LinkState(ifname, None, False, b"", None, None)
    up = bool(link["flags"] & 0x1) and link.get_attr("IFLA_OPERSTATE") in ("UP", "UNKNOWN")
    mac_text = link.get_attr("IFLA_ADDRESS") or "00:00:00:00:00:00"
    mac = bytes(int(part, 16) for part in mac_text.split(":"))
    primary_v4 = None
    primary_v6 = None
    for msg in ipr.get_addr(index=index):
        if msg.get_attr("IFA_PROTO") == HAIPVS_ADDR_PROTO:
            continue
        address = ipaddress.ip_address(msg.get_attr("IFA_LOCAL") or msg.get_attr("IFA_ADDRESS"))
        secondary = msg["flags"] & 0x01  # IFA_F_SECONDARY
        if address.version == 4 and primary_v4 is None and not secondary:
            primary_v4 = address
        elif address.version == 6 and address.is_link_local and primary_v6 is None:
            tentative = msg["flags"] & 0x40  # IFA_F_TENTATIVE: not usable as a source yet
            if not tentative:
                primary_v6 = address
    return LinkState(ifname, index, up, mac, primary_v4, primary_v6)
