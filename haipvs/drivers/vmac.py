"""keepalived's `use_vmac` macvlans in the kernel (pyroute2), nothing decided here.

What should exist and what to do about what exists is haipvs/policy/vmac.py's `plan()`;
this module reads the links, carries out the ops and sets the sysctls keepalived sets
(vrrp_vmac.c netlink_link_add_vmac(), vrrp_if_config.c). The `sync_*` functions run inside
the rtnetlink owner thread (haipvs/drivers/netlink_thread.py) and take the IPRoute object
first. The vmacs this thread manages are remembered on that IPRoute object (it lives in the
one thread), so `sync_link_state` knows which links take their source address from the
parent and which send over the parent (vmac_xmit_base).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import structlog
from pyroute2.netlink.exceptions import NetlinkError

from haipvs.dataclass_lean import dataclass
from haipvs.drivers import addresses
from haipvs.policy import vmac as policy

log = structlog.get_logger("haipvs.vmac")

SYSCTL_ROOT = Path("/proc/sys/net")
IN6_ADDR_GEN_MODE_NONE = 1  # <linux/if_link.h>: no automatic link-local address
IFA_F_NODAD = 0x02
IFA_F_PERMANENT = 0x80


@dataclass(frozen=True)
class VmacLinkState(addresses.LinkState):
    """A vmac's link state: its own index, MAC and up-ness; the parent's primary IPv4
    address as the advert source (keepalived VRRP_PKT_SADDR uses the configured interface);
    `send_*` name the parent when adverts go out over it (vmac_xmit_base)."""

    parent: str | None = None
    send_ifname: str | None = None
    send_ifindex: int | None = None


def _managed(ipr) -> dict[str, policy.VmacSpec]:
    return ipr.__dict__.setdefault("_haipvs_vmacs", {})


def _saved(ipr) -> dict[str, dict[str, int]]:
    """A copy of each vmac's mark (the parent's old sysctls), for a vmac deleted by hand."""
    return ipr.__dict__.setdefault("_haipvs_vmac_saved", {})


def _mac(text: str | None) -> bytes:
    return bytes(int(part, 16) for part in (text or "00:00:00:00:00:00").split(":"))


def _observe(ipr, names: Iterable[str]) -> list[policy.ObservedLink]:
    observed = []
    for name in sorted(set(names)):
        link = addresses.get_link(ipr, ifname=name)
        if link is None:
            continue
        info = link.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
        mode = None
        if kind == "macvlan":
            data = info.get_attr("IFLA_INFO_DATA")
            raw = data.get_attr("IFLA_MACVLAN_MODE") if data is not None else None
            mode = policy.MACVLAN_MODE_PRIVATE if raw in ("private", 1) else -1
        parent = None
        parent_index = link.get_attr("IFLA_LINK")
        if parent_index:
            parent_link = addresses.get_link(ipr, index=parent_index)
            parent = parent_link.get_attr("IFLA_IFNAME") if parent_link is not None else None
        observed.append(policy.ObservedLink(
            name=name, index=link["index"], kind=kind, parent=parent,
            mac=_mac(link.get_attr("IFLA_ADDRESS")), mode=mode,
            alias=link.get_attr("IFLA_IFALIAS"),
        ))
    return observed


def _read_sysctl(family: str, ifname: str, key: str) -> int | None:
    try:
        return int((SYSCTL_ROOT / family / "conf" / ifname / key).read_text().strip())
    except (OSError, ValueError):
        return None


def _write_sysctl(family: str, ifname: str, key: str, value: int) -> None:
    try:
        (SYSCTL_ROOT / family / "conf" / ifname / key).write_text(f"{value}\n")
    except OSError as exc:
        log.warning("vmac_sysctl_failed", interface=ifname, key=key, error=str(exc))


def _delete(ipr, op: policy.Delete, observed: list[policy.ObservedLink]) -> None:
    link = next((o for o in observed if o.name == op.name), None)
    try:
        ipr.link("del", index=op.index)
    except NetlinkError as exc:
        if exc.code != errno.ENODEV:
            raise
    log.info("vmac_removed", interface=op.name, reason=op.reason)
    if link is not None and link.parent is not None:
        remaining = [o for o in observed if o.name != op.name]
        for key, value in policy.parent_sysctls_to_restore(link, remaining).items():
            _write_sysctl("ipv4", link.parent, key, value)


def _create(ipr, spec: policy.VmacSpec, observed: list[policy.ObservedLink]) -> None:
    parent = addresses.get_link(ipr, ifname=spec.parent)
    if parent is None:
        raise RuntimeError(f"interface {spec.parent} does not exist (vmac {spec.name})")
    current = {key: value for key, _ in policy.PARENT_SYSCTLS
               if (value := _read_sysctl("ipv4", spec.parent, key)) is not None}
    saved, to_set = policy.parent_sysctls(spec.parent, current, observed)
    kept = _saved(ipr).get(spec.name)
    if kept:  # made again after a deletion by hand: the parent's values from before ours
        saved = kept
    if spec.family != 4:  # set_interface_parameters() is for IPv4 vmacs only
        saved, to_set = {}, {}
    ipr.link("add", ifname=spec.name, kind="macvlan", link=parent["index"],
             macvlan_mode="private", address=policy.mac_text(spec.mac))
    # The kernel ignores IFLA_IFALIAS in a create request: the mark is a second request.
    ipr.link("set", ifname=spec.name, ifalias=policy.owner_alias(spec.instance, saved))
    for key, value in to_set.items():
        _write_sysctl("ipv4", spec.parent, key, value)
    log.info("vmac_created", interface=spec.name, parent=spec.parent,
             mac=policy.mac_text(spec.mac), instance=spec.instance)


def _update(ipr, op: policy.Update, observed: list[policy.ObservedLink]) -> None:
    link = next(o for o in observed if o.name == op.spec.name)
    ipr.link("set", index=op.index, kind="macvlan", macvlan_mode="private",
             address=policy.mac_text(op.spec.mac),
             ifalias=policy.owner_alias(op.spec.instance, policy.saved_sysctls(link.alias)))
    log.info("vmac_updated", interface=op.spec.name, mac=policy.mac_text(op.spec.mac))


def _configure(ipr, spec: policy.VmacSpec) -> None:
    """Settings keepalived applies after creating or reusing the link: its sysctls, no
    automatic IPv6 link-local address (RFC 5798 section 7.4), IPv6 off on an IPv4 vmac, up."""
    index = addresses.get_link(ipr, ifname=spec.name)["index"]
    if spec.family == 4:
        for key, value in policy.VMAC_SYSCTLS:
            _write_sysctl("ipv4", spec.name, key, value)
        _write_sysctl("ipv6", spec.name, "disable_ipv6", 1)
    else:
        _write_sysctl("ipv6", spec.name, "disable_ipv6", 0)
    try:
        ipr.link("set", index=index, IFLA_AF_SPEC={"attrs": [("AF_INET6", {"attrs": [
            ("IFLA_INET6_ADDR_GEN_MODE", IN6_ADDR_GEN_MODE_NONE)]})]})
    except NetlinkError as exc:  # IPv6 disabled in the kernel: nothing to switch off
        log.info("vmac_addr_gen_mode_failed", interface=spec.name, error=str(exc))
    ipr.link("set", index=index, state="up")
    if spec.family == 6 and not spec.xmit_base:
        _add_link_local(ipr, spec, index)


def _add_link_local(ipr, spec: policy.VmacSpec, index: int) -> None:
    """vrrp_vmac.c set_link_local_address(): the parent's link-local address on the vmac,
    so adverts leave the vmac from a non-VIP source (no DAD: the parent has it already)."""
    state = addresses.sync_link_state(ipr, spec.parent)
    if state.primary_v6_linklocal is None:
        return
    try:
        ipr.addr("add", index=index, address=str(state.primary_v6_linklocal), prefixlen=64,
                 flags=IFA_F_PERMANENT | IFA_F_NODAD)
    except NetlinkError as exc:
        if exc.code != errno.EEXIST:
            log.warning("vmac_link_local_failed", interface=spec.name, error=str(exc))


def sync_ensure(ipr, specs: list[policy.VmacSpec], known: Iterable[str] = ()) -> None:
    """Make the kernel have `specs`; `known` are other names haipvs used for vmacs (a
    reload's old ones), so an owned one no longer wanted is removed. A link of a wanted name
    that haipvs does not own is an error: it is never touched."""
    names = {spec.name for spec in specs} | set(known)
    observed = _observe(ipr, names)
    ops = policy.plan(specs, observed)
    for op in ops:
        if isinstance(op, policy.Conflict):
            # Never use a link haipvs does not own (keepalived: "VMAC %s conflicts with
            # existing interface", the instance does not start). Checked before any change,
            # so a refused start leaves nothing behind.
            log.error("vmac_conflict", interface=op.spec.name, instance=op.spec.instance,
                      reason=op.reason)
            raise RuntimeError(f"vrrp_instance {op.spec.instance}: use_vmac: {op.reason}; "
                               "set vmac_name to another name")
    for op in ops:
        match op:
            case policy.Delete():
                _delete(ipr, op, observed)
                _managed(ipr).pop(op.name, None)
                observed = [o for o in observed if o.name != op.name]
            case policy.Create(spec=spec):
                _create(ipr, spec, observed)
            case policy.Update():
                _update(ipr, op, observed)
            case policy.Reuse(spec=spec):
                log.info("vmac_reused", interface=spec.name, instance=spec.instance)
        if isinstance(op, policy.Create | policy.Update | policy.Reuse):
            _configure(ipr, op.spec)
            _managed(ipr)[op.spec.name] = op.spec
            link = addresses.get_link(ipr, ifname=op.spec.name)
            alias = link.get_attr("IFLA_IFALIAS") if link is not None else None
            _saved(ipr)[op.spec.name] = policy.saved_sysctls(alias)
    addresses.forget_ifindexes(ipr)  # re-created links have new indexes


def sync_remove(ipr, specs: list[policy.VmacSpec]) -> None:
    """Stop: remove our instances' vmacs (netlink_link_del_vmac) and restore the parents'
    sysctls once their last vmac is gone."""
    # The other vmacs too: a parent's sysctls go back only when its last one is gone.
    observed = _observe(ipr, {spec.name for spec in specs} | set(_managed(ipr)))
    present = {o.name for o in observed}
    for op in policy.teardown(specs, observed):
        _delete(ipr, op, observed)
        observed = [o for o in observed if o.name != op.name]
        _managed(ipr).pop(op.name, None)
    for spec in specs:  # deleted by hand: the mark went with it, the copy is here
        saved = _saved(ipr).pop(spec.name, {})
        if spec.name not in present:
            gone = policy.ObservedLink(spec.name, 0, "macvlan", spec.parent, spec.mac,
                                       policy.MACVLAN_MODE_PRIVATE,
                                       policy.owner_alias(spec.instance, saved))
            for key, value in policy.parent_sysctls_to_restore(gone, observed).items():
                _write_sysctl("ipv4", spec.parent, key, value)
        _managed(ipr).pop(spec.name, None)
    addresses.forget_ifindexes(ipr)


async def ensure(rtnl: Any, wanted: Iterable[policy.VmacSpec | None]) -> None:
    """From the VRRP loop: the vmacs of instances about to open, through the rtnetlink
    owner thread (`rtnl` is its NetlinkThread)."""
    specs = [spec for spec in wanted if spec is not None]
    if specs:
        await rtnl.call(sync_ensure, specs)


async def remove(rtnl: Any, stopped: Iterable[policy.VmacSpec | None]) -> None:
    """From the VRRP loop, after the instances released their VIPs."""
    specs = [spec for spec in stopped if spec is not None]
    if specs:
        await rtnl.call(sync_remove, specs)


def sync_link_state(ipr, ifname: str) -> addresses.LinkState:
    """addresses.sync_link_state, and for a vmac haipvs manages: the source address of the
    parent (the vmac itself holds only VIPs) and, with vmac_xmit_base, the parent to send
    over. The vmac is down when its parent is (the kernel's macvlan follows its lower
    device), so the instance faults as keepalived's does with its interface."""
    state = addresses.sync_link_state(ipr, ifname)
    spec = _managed(ipr).get(ifname)
    if spec is None:
        return state
    parent = addresses.sync_link_state(ipr, spec.parent)
    send_ifname = spec.parent if spec.xmit_base else None
    return VmacLinkState(
        ifname=state.ifname, index=state.index, up=state.up and parent.up, mac=state.mac,
        primary_v4=parent.primary_v4,
        primary_v6_linklocal=state.primary_v6_linklocal or parent.primary_v6_linklocal,
        parent=spec.parent, send_ifname=send_ifname,
        send_ifindex=parent.index if spec.xmit_base else None,
    )
