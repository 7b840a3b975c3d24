"""keepalived's `use_vmac`: which macvlan links should exist, with which properties, and what
to do about the links the kernel already has.

Pure: the driver (haipvs/drivers/vmac.py) reads the links, calls `plan()` and carries out
the ops; nothing here touches the kernel.

keepalived 2.2.7 facts followed here:
- vrrp.c create_vmac_name(): the default name is "<prefix>.<VRID>" (prefix "vrrp"); if
  another instance already uses it, "<prefix><n>.<VRID>" with n = 1, 2, ... (IPv6 tries
  n = 6 first, so an IPv4 and an IPv6 instance of one VRID get vrrp.N and vrrp6.N), cut to
  IFNAMSIZ - 1 characters by shortening the prefix.
- vrrp_parser.c vrrp_vmac_handler(): a configured name another instance already uses is
  ignored (the default is generated instead).
- vrrp_vmac.c netlink_link_add_vmac(): the MAC is 00:00:5e:00:01:VRID (IPv6 00:00:5e:00:02:
  VRID), mode private; an existing macvlan of the name on another parent is deleted and
  re-created, one with the wrong MAC or mode is updated in place, a matching one reused; a
  link of the name that is not a macvlan is a conflict and left alone. The link is set up
  at once and stays up in every state (2.2.7 never sets it down); netlink_link_del_vmac()
  deletes it when the instance stops.
- vrrp_if_config.c: on the vmac (IPv4 instances) arp_ignore=1, accept_local=1, rp_filter=0,
  promote_secondaries=1; on the parent arp_ignore=1 and arp_filter=1, the old values kept
  and put back when the parent's last vmac goes (reset_arp_config is a count).
- haipvs marks its links (IFLA_IFALIAS "haipvs:vmac ...", see `owner_alias`) and never
  changes or deletes a link without the mark, so a macvlan an operator made is safe.
"""

from __future__ import annotations

from collections.abc import Iterable

from haipvs.dataclass_lean import dataclass

IFNAMSIZ = 16
DEFAULT_PREFIX = "vrrp"
VRRP_MAC_PREFIX = bytes((0x00, 0x00, 0x5E, 0x00))  # RFC 5798 section 7.3
MACVLAN_MODE_PRIVATE = 1  # <linux/if_link.h>
OWNER_ALIAS_PREFIX = "haipvs:vmac"

# (sysctl name, value) under net/ipv4/conf/<vmac>/ (vrrp_if_config.c vmac_sysctl)
VMAC_SYSCTLS: tuple[tuple[str, int], ...] = (
    ("arp_ignore", 1),       # never answer ARP for the parent's addresses
    ("accept_local", 1),     # hear the other instance's multicast from a local MAC
    ("rp_filter", 0),        # receive on the vmac while it holds no address
    ("promote_secondaries", 1),
)
# (sysctl name, value) under net/ipv4/conf/<parent>/ (vrrp_if_config.c parent_sysctl)
PARENT_SYSCTLS: tuple[tuple[str, int], ...] = (
    ("arp_ignore", 1),       # the parent must not answer ARP for VIPs on the vmac
    ("arp_filter", 1),
)


def virtual_mac(vrid: int, family: int) -> bytes:
    """RFC 5798 section 7.3: 00-00-5E-00-01-{VRID} for IPv4, 00-00-5E-00-02-{VRID} for IPv6."""
    return VRRP_MAC_PREFIX + bytes((0x01 if family == 4 else 0x02, vrid))


def mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def _fit(prefix: str, suffix: str) -> str:
    """keepalived shortens the prefix, not the VRID, when the name is too long."""
    room = IFNAMSIZ - 1 - len(suffix)
    return prefix[:max(room, 0)] + suffix


def default_name(prefix: str, vrid: int, family: int, taken: set[str]) -> str:
    """vrrp.c create_vmac_name(): the first free name of keepalived's sequence."""
    name = _fit(prefix, f".{vrid}")
    num = 0
    while name in taken:
        if family == 6:  # IPv6 tries "vrrp6" second, then 1, 2, ... skipping 6
            if num == 0:
                num = 6
            elif num == 6:
                num = 1
            else:
                num += 1
                if num == 6:
                    num += 1
        else:
            num += 1
        name = _fit(prefix, f"{num}.{vrid}")
    return name


@dataclass(frozen=True)
class VmacRequest:
    """One instance's `use_vmac`, as configured."""

    instance: str
    vrid: int
    family: int
    parent: str
    name: str | None = None  # configured name, else keepalived's default
    xmit_base: bool = False


@dataclass(frozen=True)
class VmacSpec:
    """One macvlan as it should be in the kernel."""

    instance: str
    name: str
    parent: str
    mac: bytes
    family: int
    xmit_base: bool = False


def owner_alias(instance: str, saved: dict[str, int]) -> str:
    """The mark: the instance and the parent's sysctls as they were before haipvs' first
    vmac on it, so a restart after a crash can still put them back."""
    values = " ".join(f"{key}={value}" for key, value in sorted(saved.items()))
    return f"{OWNER_ALIAS_PREFIX} {instance} {values}".rstrip()


def is_owned(alias: str | None) -> bool:
    return alias is not None and (alias == OWNER_ALIAS_PREFIX
                                  or alias.startswith(OWNER_ALIAS_PREFIX + " "))


def saved_sysctls(alias: str | None) -> dict[str, int]:
    """The parent's saved sysctls from a mark (empty if none or unreadable)."""
    if not is_owned(alias):
        return {}
    assert alias is not None
    saved = {}
    for word in alias.split()[2:]:
        key, sep, value = word.partition("=")
        if sep and key in dict(PARENT_SYSCTLS) and value.isdigit():
            saved[key] = int(value)
    return saved


def alias_instance(alias: str | None) -> str | None:
    if not is_owned(alias):
        return None
    assert alias is not None
    words = alias.split()
    return words[1] if len(words) > 1 else None


def resolve(requests: Iterable[VmacRequest], prefix: str = DEFAULT_PREFIX) -> list[VmacSpec]:
    """Names and MACs for every instance with use_vmac, in config order as keepalived
    completes its instances (configured names first: vrrp_parser.c reads them while parsing,
    create_vmac_name() runs later)."""
    requests = list(requests)
    taken: set[str] = set()
    named: dict[str, str] = {}
    for req in requests:
        if req.name is not None and req.name not in taken:
            taken.add(req.name)
            named[req.instance] = req.name
    specs = []
    for req in requests:
        name = named.get(req.instance)
        if name is None:
            name = default_name(prefix, req.vrid, req.family, taken)
            taken.add(name)
        specs.append(VmacSpec(req.instance, name, req.parent, virtual_mac(req.vrid, req.family),
                              req.family, req.xmit_base))
    return specs


@dataclass(frozen=True)
class ObservedLink:
    """A link of a wanted name, or a haipvs-marked macvlan, as the kernel has it."""

    name: str
    index: int
    kind: str | None        # IFLA_INFO_KIND: "macvlan", "veth", ... (None: a plain device)
    parent: str | None      # the IFLA_LINK device's name
    mac: bytes
    mode: int | None        # IFLA_MACVLAN_MODE
    alias: str | None       # IFLA_IFALIAS


@dataclass(frozen=True)
class Create:
    spec: VmacSpec


@dataclass(frozen=True)
class Update:
    """Ours, right parent, wrong MAC or mode: changed in place (netlink_link_add_vmac)."""

    spec: VmacSpec
    index: int


@dataclass(frozen=True)
class Reuse:
    """Ours and as wanted (a restart after a crash): kept, only its settings re-applied."""

    spec: VmacSpec
    index: int


@dataclass(frozen=True)
class Delete:
    name: str
    index: int
    reason: str


@dataclass(frozen=True)
class Conflict:
    """A link of the wanted name that haipvs does not own: never touched."""

    spec: VmacSpec
    reason: str


Op = Create | Update | Reuse | Delete | Conflict


def plan(wanted: Iterable[VmacSpec], observed: Iterable[ObservedLink]) -> list[Op]:
    """What to do so the kernel has exactly the wanted vmacs. Deletes come first, so a name
    freed by one instance can be taken by another in the same plan."""
    links = {link.name: link for link in observed}
    wanted = list(wanted)
    names = {spec.name for spec in wanted}
    deletes: list[Op] = []
    ops: list[Op] = []
    for link in links.values():
        if link.name not in names and link.kind == "macvlan" and is_owned(link.alias):
            deletes.append(Delete(link.name, link.index, "no instance uses it"))
    for spec in wanted:
        link = links.get(spec.name)
        if link is None:
            ops.append(Create(spec))
        elif link.kind != "macvlan" or not is_owned(link.alias):
            what = f"a {link.kind}" if link.kind else "a device"
            if link.kind == "macvlan":
                what = "a macvlan haipvs did not create"
            ops.append(Conflict(spec, f"{spec.name} already exists as {what}"))
        elif link.parent != spec.parent:
            deletes.append(Delete(link.name, link.index, f"on {link.parent}, not {spec.parent}"))
            ops.append(Create(spec))
        elif (link.mac != spec.mac or link.mode != MACVLAN_MODE_PRIVATE
              or alias_instance(link.alias) != spec.instance):
            ops.append(Update(spec, link.index))
        else:
            ops.append(Reuse(spec, link.index))
    return deletes + ops


def teardown(specs: Iterable[VmacSpec], observed: Iterable[ObservedLink]) -> list[Delete]:
    """On stop (netlink_link_del_vmac per instance): our instances' marked macvlans go; a
    marked link of another name may belong to another haipvs on this host and stays."""
    names = {spec.name for spec in specs}
    return [Delete(link.name, link.index, "stopping") for link in observed
            if link.name in names and link.kind == "macvlan" and is_owned(link.alias)]


def parent_sysctls(parent: str, current: dict[str, int], others: Iterable[ObservedLink]
                   ) -> tuple[dict[str, int], dict[str, int]]:
    """(values to save in the new vmac's mark, values to set on the parent) when a vmac is
    created on `parent`. vrrp_if_config.c set_interface_parameters(): the first vmac on a
    parent saves its arp_ignore/arp_filter and sets them to 1; later ones only count (here:
    they copy the first one's saved values, since the parent already has 1 and 1)."""
    for link in others:
        if link.parent == parent and link.kind == "macvlan" and is_owned(link.alias):
            saved = saved_sysctls(link.alias)
            if saved:
                return saved, {}
    wanted = dict(PARENT_SYSCTLS)
    saved = {key: current[key] for key in wanted if key in current}
    return saved, {key: value for key, value in wanted.items() if current.get(key) != value}


def parent_sysctls_to_restore(deleted: ObservedLink, remaining: Iterable[ObservedLink]
                              ) -> dict[str, int]:
    """vrrp_if_config.c reset_interface_parameters(): the parent's arp_ignore/arp_filter go
    back to what they were only when its last vmac is gone."""
    for link in remaining:
        if (link.name != deleted.name and link.parent == deleted.parent
                and link.kind == "macvlan" and is_owned(link.alias)):
            return {}
    return saved_sysctls(deleted.alias)


def recreate_lost(spec: VmacSpec | None, link_index: int | None, parent_index: int | None,
                  stopping: bool) -> bool:
    """keepalived_netlink.c netlink_link_filter(), RTM_DELLINK: a vmac keepalived made
    (`ifp->is_ours`) that it is not deleting itself (`!ifp->deleting`) is made again at
    once (vrrp_if.c recreate_vmac_thread() -> setup_interface()), so long as the
    configured interface exists. The instance has gone to FAULT with the link; the new
    link coming up takes it out (keepalived 2.2.7: FAULT, "Success creating VMAC
    interface", BACKUP, then MASTER at the down timer)."""
    return spec is not None and link_index is None and parent_index is not None \
        and not stopping
