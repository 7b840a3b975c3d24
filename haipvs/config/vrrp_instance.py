"""VRRP instances (keepalived's `vrrp_instance`) and what they are built from: VIPs,
authentication, gratuitous ARP timing and references to tracked interfaces, scripts and files."""

# setting() returns a dataclasses.field (see settings.py); ruff only knows field() itself.

from __future__ import annotations

from typing import Any

from haipvs import limits
from haipvs.config.bfd import BFD_REF, BfdRef
from haipvs.config.common import (
    IFNAME,
    SCRIPT_NAME,
    SECONDS_LONG,
    TRACKER_WEIGHT,
    IPAddress,
    IPInterface,
)
from haipvs.config.compound import ListOf, Nested, ScalarOr
from haipvs.config.kinds import Bool, Choice, Float, Int, IPAddr, IPInterfaceKind, Text
from haipvs.config.notify_script import NotifyScript, ScriptCommand
from haipvs.config.routes import ROUTES, RULES, RouteEntry, RuleEntry, check_excluded
from haipvs.config.settings import derived, model_section, setting
from haipvs.config.spec import REQUIRED, Values
from haipvs.config.track_process import PROCESS_REF, ProcessRef
from haipvs.dataclass_lean import dataclass


@dataclass(frozen=True)
class Authentication:
    """VRRPv2 simple-text authentication (RFC 2338). `password` is at most 8 octets (UTF-8);
    on the wire it is zero-padded to 8."""

    # AH: see AH_REFUSED (docs/migration.md section 7, `auth_type`).
    type: str = setting(Choice(("PASS",), refused=(("AH", limits.AH_REFUSED),)), "PASS",
                        "only simple-text `PASS` is supported (not IPsec `AH`)",
                        model_default=REQUIRED)
    password: str = setting(
        Text(limits.AUTH_PASS_MAX_OCTETS, octets=True),
        doc=f"at most {limits.AUTH_PASS_MAX_OCTETS} octets (longer is an error, not silently "
        "truncated); quote it",
    )


AUTHENTICATION = model_section(
    Authentication,
    "authentication",
    "VRRPv2 authentication",
    "VRRPv2 simple-text authentication (RFC 2338). Not available with version 3.",
    renamed={"auth_type": "use type", "auth_pass": "use password"},
)


@dataclass(frozen=True)
class VirtualAddress:
    """A VIP. `address` carries the prefix (bare addresses are /32 or /128). `dev` None means
    the instance's interface. `label` (IPv4 only) starts with the device name and ':'."""

    address: IPInterface = setting(IPInterfaceKind(), doc="the virtual address and prefix length")
    dev: str | None = setting(IFNAME, None, "interface to add it to",
                              doc_default="the instance's interface")
    label: str | None = setting(
        Text(15), None,
        "IPv4 address label; must start with the device name and ':', e.g. `eth0:1`",
    )


def _check_vip(v: Values) -> None:
    if v.ok("address", "label") and v["label"] is not None and v["address"].version == 6:
        v.error("label", "labels exist only for IPv4 addresses")


VIRTUAL_ADDRESS = model_section(
    VirtualAddress,
    "virtual_address",
    "Virtual IP address",
    "A VIP: `192.0.2.100/24`, bare `192.0.2.100` (= /32, /128 for IPv6), or the mapping form.",
    check=_check_vip,
    rules=("`label` only for IPv4.",),
)


@dataclass(frozen=True)
class GarpSettings:
    """Gratuitous ARP / unsolicited NA timing, keepalived's garp_* settings (seconds, counts)."""

    master_delay: float = setting(
        SECONDS_LONG, limits.GARP_MASTER_DELAY,
        "seconds after becoming MASTER before the second burst; 0 = no second burst",
    )
    master_repeat: int = setting(Int(1, limits.GARP_REPEAT_MAX), limits.GARP_MASTER_REPEAT,
                                 "gratuitous ARPs / NAs per burst")
    master_refresh: float = setting(SECONDS_LONG, limits.GARP_MASTER_REFRESH,
                                    "repeat a burst this often while MASTER; 0 = off")
    # keepalived vrrp_parser.c vrrp_garp_refresh_rep_handler(): at least 1.
    master_refresh_repeat: int = setting(Int(1, limits.GARP_REPEAT_MAX),
                                         limits.GARP_MASTER_REFRESH_REPEAT,
                                         "gratuitous ARPs / NAs per refresh")
    lower_prio_repeat: int = setting(
        Int(0, limits.GARP_REPEAT_MAX), limits.GARP_LOWER_PRIO_REPEAT,
        "burst size when a lower-priority advert is seen while MASTER",
        doc_default="master_repeat",
    )
    lower_prio_delay: float = setting(SECONDS_LONG, limits.GARP_LOWER_PRIO_DELAY,
                                      "delay before a second such burst; 0 = none",
                                      doc_default="master_delay")
    # keepalived vrrp_garp_interval / vrrp_gna_interval and garp_group (vrrp_arp.c
    # send_gratuitous_arp(), vrrp_ndisc.c): paced per interface (haipvs/vrrp/garp_pacing.py).
    interval: float = setting(
        Float(0, limits.GARP_DELAY_MAX), limits.GARP_INTERVAL_DEFAULT,
        "least gap in seconds between two gratuitous ARPs on the interface; 0 = back to back")
    gna_interval: float = setting(
        Float(0, limits.GARP_DELAY_MAX), limits.GARP_INTERVAL_DEFAULT,
        "least gap in seconds between two unsolicited NAs on the interface; 0 = back to back")
    # keepalived garp_extra_if <delay> [all] / vrrp_garp_extra_if (vrrp_parser.c
    # vrrp_garp_extra_if_handler(): whole seconds 0..86400; haipvs/vrrp/garp_extra_if.py).
    extra_if: int = setting(
        Int(0, limits.GARP_DELAY_MAX), 0,
        "while MASTER, one GARP / NA every this many seconds (rounded up to an advert) on "
        "each other interface holding a VIP: the vmacs haipvs made, or all with "
        "`extra_if_all`; 0 = off")
    extra_if_all: bool = setting(Bool(), False, "`extra_if` also on interfaces that are not "
                                 "vmacs haipvs made (keepalived's `all`)")


def _derive_garp(v: Values) -> dict[str, Any]:
    # keepalived vrrp.c vrrp_complete_init(): an unset lower-priority repeat/delay is the
    # master one.
    derived: dict[str, Any] = {}
    for lower, master in (("lower_prio_repeat", "master_repeat"),
                          ("lower_prio_delay", "master_delay")):
        if not v.given(lower) and v.ok(master):
            derived[lower] = v[master]
    return derived


GARP = model_section(
    GarpSettings,
    "garp",
    "Gratuitous ARP timing",
    "When the MASTER announces its VIPs (keepalived's `garp_*` settings). Without "
    "`lower_prio_repeat` / `lower_prio_delay`, the lower-priority bursts follow "
    "`master_repeat` / `master_delay`, as keepalived's do.",
    derive=_derive_garp,
)


@dataclass(frozen=True)
class TrackInterface:
    """An interface an instance depends on. weight 0: down puts the instance into FAULT;
    negative: subtracted from the priority while down; positive: added while up."""

    name: str = setting(IFNAME, doc="the tracked interface")
    weight: int = setting(
        TRACKER_WEIGHT, 0,
        "0: down = FAULT; negative: subtracted while down; positive: added while up",
    )
    # keepalived `weight W reverse` (vrrp_track.c; haipvs.policy.priority.weighted)
    reverse: bool = setting(Bool(), False, "apply the weight the other way: positive is "
                            "subtracted while up, negative added while down, 0: up = FAULT")


TRACK_INTERFACE = model_section(
    TrackInterface,
    "track_interface",
    "Tracked interface",
    "An interface the instance depends on (keepalived `track_interface`); `eth1` or the "
    "mapping form.",
)


@dataclass(frozen=True)
class TrackRef:
    """An instance's use of a `vrrp_scripts` / `vrrp_track_files` entry; `weight` None means
    the entry's own weight."""

    name: str = setting(SCRIPT_NAME, doc="name of the `vrrp_scripts` / `vrrp_track_files` entry")
    weight: int | None = setting(TRACKER_WEIGHT, None, "overrides the entry's weight",
                                 doc_default="the entry's weight")


TRACK_REF = model_section(
    TrackRef,
    "track_ref",
    "Tracker reference",
    "An instance's use of a tracking script or file, by name (keepalived `track_script` / "
    "`track_file`); `chk_web` or the mapping form.",
)

# The advert_int rule, as the field doc and the section rule state it.
ADVERT_INT_RULE = (
    f"whole seconds {limits.ADVERT_INT_V2_MIN}..{limits.ADVERT_INT_V2_MAX} with version 2, "
    f"{limits.ADVERT_INT_V3_MIN:g}..{limits.ADVERT_INT_V3_MAX:g} in {limits.ADVERT_INT_V3_STEP:g}"
    " steps with version 3"
)
VRRP_VERSION = Int(min(limits.VRRP_VERSIONS), max(limits.VRRP_VERSIONS), limits.VRRP_VERSIONS)


@dataclass(frozen=True, kw_only=True)
class VrrpInstance:
    """One virtual router. Keyword-only: its attributes are in file order (the order of the
    reference and of `haipvs schema`), not in an order fit for positional arguments."""

    name: str = setting(Text(64, r"[A-Za-z0-9_.:-]+", "letters, digits, '_', '.', ':', '-'"),
                        doc="unique instance name")
    state: str = setting(Choice(("BACKUP", "MASTER")), "BACKUP",
                         "initial state; MASTER only takes effect at once with priority 255")
    interface: str = setting(IFNAME, doc="interface the adverts are sent and received on")
    # keepalived use_vmac [name] / vmac_xmit_base (vrrp_parser.c vrrp_vmac_handler,
    # vrrp_vmac_xmit_base_handler; haipvs/policy/vmac.py, haipvs/drivers/vmac.py).
    use_vmac: bool = setting(Bool(), False, "a macvlan with the virtual MAC 00:00:5e:00:01:VRID "
                             "(IPv6 :02:VRID) on `interface` sends the adverts and holds the VIPs")
    vmac_name: str | None = setting(IFNAME, None, "name of the `use_vmac` macvlan",
                                    doc_default="vrrp.VRID (keepalived's name)")
    vmac_xmit_base: bool = setting(Bool(), False, "with `use_vmac`, send the adverts over "
                                   "`interface` (its MAC) instead of the macvlan")
    virtual_router_id: int = setting(Int(limits.VRID_MIN, limits.VRID_MAX),
                                     doc="VRID, shared by the directors of a pair")
    priority: int = setting(Int(limits.PRIORITY_MIN, limits.PRIORITY_MAX),
                            limits.DEFAULT_PRIORITY,
                            f"higher wins; {limits.OWNER_PRIORITY} = address owner")
    advert_int: float = setting(Float(limits.ADVERT_INT_MIN, limits.ADVERT_INT_MAX),
                                limits.DEFAULT_ADVERT_INT,
                                f"seconds between adverts: {ADVERT_INT_RULE}")
    # 2 or 3; always 3 for IPv6 (absent in the file: derived from the VIPs)
    version: int = setting(VRRP_VERSION, None, "VRRP version",
                           doc_default=f"{limits.DEFAULT_VRRP_VERSION} (3 for IPv6)",
                           model_default=limits.DEFAULT_VRRP_VERSION)
    family: int = derived(4)  # 4 or 6, from the VIPs
    preempt: bool = setting(Bool(), True, "take over from a lower-priority MASTER")
    preempt_delay: float = setting(Float(0, limits.PREEMPT_DELAY_MAX), 0.0,
                                   "seconds to wait before preempting")
    # keepalived vrrp_parser.c accept/no_accept/strict_mode; defaults as vrrp.c
    # vrrp_complete_instance() (haipvs/policy/accept_mode.py, haipvs/config/strict_mode.py).
    accept: bool | None = setting(
        Bool(), None, "a non-owner MASTER accepts packets to its VIPs; false (keepalived "
        "`no_accept`) drops them with nftables", doc_default="true, but false in strict mode "
        "unless priority is 255")
    strict_mode: bool | None = setting(Bool(), None, "strict RFC compliance for this instance",
                                       doc_default="global.vrrp_strict")
    authentication: Authentication | None = setting(Nested(AUTHENTICATION), None, "VRRPv2 only")
    # set whenever unicast_peers is non-empty
    unicast_src_ip: IPAddress | None = setting(
        IPAddr(), None, "source address of the adverts; required with unicast_peers"
    )
    unicast_peers: tuple[IPAddress, ...] = setting(ListOf(IPAddr()), (),
                                                   "send adverts unicast to these peers")
    # only with unicast_peers
    unicast_min_ttl: int | None = setting(Int(0, limits.TTL_MAX), None,
                                          "drop unicast adverts with a lower TTL")
    unicast_max_ttl: int | None = setting(Int(0, limits.TTL_MAX), None,
                                          "drop unicast adverts with a higher TTL")
    # keepalived unicast_ttl (vrrp_parser.c vrrp_ttl_handler(), vrrp.c vrrp_build_ip4())
    unicast_ttl: int | None = setting(Int(0, limits.TTL_MAX), None,
                                      "TTL (IPv6 hop limit) of the unicast adverts sent",
                                      doc_default=f"{limits.UNICAST_TTL_DEFAULT}")
    # keepalived mcast_dst_ip (vrrp_parser.c vrrp_mcast_dstip_handler())
    mcast_dst_ip: IPAddress | None = setting(
        IPAddr(), None, "multicast group the adverts are sent to and received on",
        doc_default=f"global.vrrp_mcast_group4 / 6 ({limits.VRRP_MCAST_GROUP4} / "
        f"{limits.VRRP_MCAST_GROUP6})")
    # keepalived dont_track_primary (vrrp_if.c: the interface is tracked with
    # VRRP_NOT_TRACK_IF)
    dont_track_primary: bool = setting(Bool(), False, "`interface` going down does not put "
                                       "the instance into FAULT")
    # at least one, all of `family`
    virtual_ipaddress: tuple[VirtualAddress, ...] = setting(
        ListOf(ScalarOr(VIRTUAL_ADDRESS, "address"), 1), doc="the VIPs (all of one family)"
    )
    # Held with the VIPs, not in the advert (haipvs/config/routes.py, haipvs/policy/routes.py).
    virtual_ipaddress_excluded: tuple[VirtualAddress, ...] = setting(
        ListOf(ScalarOr(VIRTUAL_ADDRESS, "address")), (),
        "addresses held while MASTER but not advertised (any number, either family)")
    virtual_routes: tuple[RouteEntry, ...] = setting(ROUTES, (), "routes held while MASTER")
    virtual_rules: tuple[RuleEntry, ...] = setting(RULES, (), "rules held while MASTER")
    garp: GarpSettings = setting(Nested(GARP), GarpSettings(), "gratuitous ARP timing",
                                 doc_default="see [garp](#garp)")
    track_interface: tuple[TrackInterface, ...] = setting(
        ListOf(ScalarOr(TRACK_INTERFACE, "name")), (), "tracked interfaces"
    )
    track_script: tuple[TrackRef, ...] = setting(ListOf(ScalarOr(TRACK_REF, "name")), (),
                                                 "tracking scripts, by name")
    track_file: tuple[TrackRef, ...] = setting(ListOf(ScalarOr(TRACK_REF, "name")), (),
                                               "tracking files, by name")
    # keepalived track_process (vrrp_track.c; haipvs/config/track_process.py)
    track_process: tuple[ProcessRef, ...] = setting(
        ListOf(ScalarOr(PROCESS_REF, "name")), (), "tracked processes, by name")
    # keepalived track_bfd, the session read from BIRD (issue 17; haipvs/config/bfd.py)
    track_bfd: tuple[BfdRef, ...] = setting(ListOf(ScalarOr(BFD_REF, "name")), (),
                                            "tracked BFD sessions (`bfd.sessions`), by name")
    # Notify scripts (argv, no shell; each may have its own user: config/notify_script.py).
    # `notify` also gets: INSTANCE <name> <state> <priority>.
    notify_master: ScriptCommand | None = setting(NotifyScript(), None, "run on becoming MASTER")
    notify_backup: ScriptCommand | None = setting(NotifyScript(), None, "run on becoming BACKUP")
    notify_fault: ScriptCommand | None = setting(NotifyScript(), None, "run on entering FAULT")
    notify_stop: ScriptCommand | None = setting(NotifyScript(), None, "run when the instance stops")
    notify: ScriptCommand | None = setting(
        NotifyScript(), None,
        "run on every transition with arguments `INSTANCE <name> <state> <priority>` appended",
    )
    # keepalived notify_deleted [script], notify_master_rx_lower_pri, notify_priority_changes
    # (vrrp_parser.c; what they send: vrrp_notify.c, haipvs/policy/notify_scripts.py).
    notify_deleted: bool = setting(
        Bool(), False, "an instance a reload removes is told DELETED (FIFO line, `notify` "
        "argument, notify_deleted_script), not FAULT as by default")
    notify_deleted_script: ScriptCommand | None = setting(
        NotifyScript(), None, "run when a reload removes the instance (needs notify_deleted)")
    notify_master_rx_lower_pri: ScriptCommand | None = setting(
        NotifyScript(), None, "run when, as MASTER, it receives an advert with a lower priority "
        "(also a MASTER_RX_LOWER_PRI FIFO line)")
    notify_priority_changes: bool | None = setting(
        Bool(), None, "write MASTER_PRIORITY / BACKUP_PRIORITY FIFO lines when the effective "
        "priority changes", doc_default="the sync group's, else "
        "global.vrrp_notify_priority_changes")
    # keepalived vrrp_instance smtp_alert (vrrp_parser.c; default vrrp.c vrrp_complete_instance)
    smtp_alert: bool | None = setting(Bool(), None, "send an e-mail on each state change "
                                      "(global.smtp)", doc_default="global.smtp.alert_vrrp, "
                                      "else global.smtp.alert, else off")

    @property
    def unicast(self) -> bool:
        return bool(self.unicast_peers)


VRRP_RULES = (
    "All VIPs of an instance are of one family; IPv6 instances use version 3.",
    f"`advert_int`: {ADVERT_INT_RULE.replace(', ', '; ')}.",
    "`authentication` only with version 2.",
    "`unicast_src_ip` is required with `unicast_peers` (haipvs must know which local address "
    "the peers expect); peers are of its family, differ from it, and it is not a VIP.",
    "`unicast_min_ttl` / `unicast_max_ttl` only with `unicast_peers`; min <= max.",
    "`unicast_ttl` only with `unicast_peers`; `mcast_dst_ip` is a multicast address of the "
    "instance's family, not with `unicast_peers`.",
    "A VIP `label` starts with its device name (`dev`, else `interface`) and ':'.",
    "A VIP appears once per instance and in one instance only.",
    "`virtual_router_id` is unique per interface and family.",
    "`vmac_name` and `vmac_xmit_base` only with `use_vmac`; `vmac_xmit_base` not in strict mode.",
)


def _vip_families(v: Values) -> set[int]:
    return {vip.address.version for _, vip in v.items("virtual_ipaddress")}


def _vip_family(v: Values) -> int | None:
    families = _vip_families(v)
    return families.pop() if len(families) == 1 else None


def _vrrp_version(v: Values) -> int | None:
    if not v.ok("version"):
        return None
    if v["version"] is not None:
        return v["version"]
    return 3 if _vip_family(v) == 6 else 2


def _check_vrrp(v: Values) -> None:
    if len(_vip_families(v)) > 1:
        v.error("virtual_ipaddress", "mixes IPv4 and IPv6 addresses; use one instance per family")
    family = _vip_family(v)
    version = _vrrp_version(v)
    if family == 6 and v["version"] == 2:
        v.error("version", "IPv6 instances need VRRP version 3")
    if v.ok("advert_int") and version is not None:
        advert = v["advert_int"]
        v2_range = f"{limits.ADVERT_INT_V2_MIN}..{limits.ADVERT_INT_V2_MAX}"
        v3_range = f"{limits.ADVERT_INT_V3_MIN:g}..{limits.ADVERT_INT_V3_MAX:g}"
        centis = advert * limits.CENTISECONDS_PER_SECOND
        if version == 2 and not advert.is_integer():
            v.error("advert_int", f"{advert:g} is not whole seconds; version 2 needs {v2_range} "
                    "(sub-second adverts need version: 3)")
        if version == 3 and (advert > limits.ADVERT_INT_V3_MAX
                             or abs(centis - round(centis)) > 1e-6):
            v.error("advert_int", f"{advert:g} is not valid for version 3: {v3_range} "
                    f"in steps of {limits.ADVERT_INT_V3_STEP:g}")
    if version == 3 and v["authentication"] is not None:
        v.error("authentication", "authentication exists only in VRRP version 2")
    _check_unicast(v, family)
    _check_vmac(v)
    check_excluded(v)  # virtual_ipaddress_excluded (haipvs/config/routes.py)
    if (v.ok("notify_deleted", "notify_deleted_script") and v["notify_deleted_script"]
            and not v["notify_deleted"]):
        v.error("notify_deleted_script", "runs only with notify_deleted: true (keepalived's "
                "`notify_deleted SCRIPT` sets both)")
    seen: dict[Any, int] = {}
    for i, vip in v.items("virtual_ipaddress"):
        if v.ok("interface"):
            dev = vip.dev or v["interface"]
            if vip.label is not None and not vip.label.startswith(dev + ":"):
                v.error(("virtual_ipaddress", i, "label"),
                        f"label {vip.label!r} must start with the device name: '{dev}:...'")
        if vip.address.ip in seen:
            v.error(("virtual_ipaddress", i),
                    f"{vip.address.ip} is already listed at line "
                    f"{v.line('virtual_ipaddress', seen[vip.address.ip])}")
        seen.setdefault(vip.address.ip, i)


def _check_vmac(v: Values) -> None:
    """keepalived vrrp.c vrrp_complete_instance() reports these and drops the setting;
    haipvs refuses the file instead, so what runs is what is written."""
    if not v.ok("use_vmac", "vmac_name", "vmac_xmit_base"):
        return
    if not v["use_vmac"]:
        for name in ("vmac_name", "vmac_xmit_base"):
            if v[name]:
                v.error(name, f"{name} applies only with use_vmac: true")
    elif v["vmac_name"] is not None and v.ok("interface") and v["vmac_name"] == v["interface"]:
        v.error("vmac_name", "the vmac cannot have the name of `interface`")
    if v["vmac_xmit_base"] and v.ok("strict_mode") and v["strict_mode"]:
        v.error("vmac_xmit_base", "vmac_xmit_base is incompatible with strict mode")


def _check_unicast(v: Values, family: int | None) -> None:
    if not v.ok("unicast_src_ip"):
        return
    src, peers = v["unicast_src_ip"], v.items("unicast_peers")
    if v["unicast_peers"] and src is None:
        v.error("unicast_peers", "unicast_src_ip is required with unicast_peers: "
                "haipvs must know which local address the peers expect")
    if src is not None:
        if family is not None and src.version != family:
            v.error("unicast_src_ip", f"IPv{src.version} source for an IPv{family} instance")
        if any(vip.address.ip == src for _, vip in v.items("virtual_ipaddress")):
            v.error("unicast_src_ip", f"{src} is one of this instance's VIPs; "
                    "use the director's own address")
        seen: set[Any] = set()
        for i, peer in peers:
            if peer.version != src.version:
                v.error(("unicast_peers", i), f"IPv{peer.version} peer with an "
                        f"IPv{src.version} unicast_src_ip")
            elif peer == src:
                v.error(("unicast_peers", i), f"{peer} is unicast_src_ip itself")
            elif peer in seen:
                v.error(("unicast_peers", i), f"{peer} is listed twice")
            seen.add(peer)
    if not v.ok("unicast_min_ttl", "unicast_max_ttl"):
        return
    for name in ("unicast_min_ttl", "unicast_max_ttl"):
        if v[name] is not None and not v["unicast_peers"]:
            v.error(name, f"{name} applies only with unicast_peers")
    low, high = v["unicast_min_ttl"], v["unicast_max_ttl"]
    if low is not None and high is not None and low > high:
        v.error("unicast_min_ttl", f"unicast_min_ttl {low} is above unicast_max_ttl {high}")
    _check_advert_destination(v, family)


def _check_advert_destination(v: Values, family: int | None) -> None:
    """keepalived vrrp_parser.c: unicast_ttl without unicast peers is an error
    (vrrp_end_handler "Cannot use unicast_ttl without unicast peers"); mcast_dst_ip must be
    multicast (vrrp_mcast_dstip_handler) and is unused with unicast peers."""
    if not v.ok("unicast_ttl", "mcast_dst_ip"):
        return
    if v["unicast_ttl"] is not None and not v["unicast_peers"]:
        v.error("unicast_ttl", "unicast_ttl applies only with unicast_peers")
    group = v["mcast_dst_ip"]
    if group is None:
        return
    if not group.is_multicast:
        v.error("mcast_dst_ip", f"{group} is not a multicast address")
    elif family is not None and group.version != family:
        v.error("mcast_dst_ip", f"IPv{group.version} group for an IPv{family} instance")
    elif v["unicast_peers"]:
        v.error("mcast_dst_ip", "mcast_dst_ip applies only without unicast_peers")


def _derive_vrrp(v: Values) -> dict[str, Any]:
    return {"version": _vrrp_version(v), "family": _vip_family(v)}


VRRP_INSTANCE = model_section(
    VrrpInstance,
    "vrrp_instance",
    "VRRP instance",
    "One virtual router: the directors sharing its `virtual_router_id` elect a MASTER, which "
    "holds the VIPs.",
    derive=_derive_vrrp,
    check=_check_vrrp,
    rules=VRRP_RULES,
    renamed={
        "nopreempt": "use preempt: false",
        "auth_type": "use authentication: {type: PASS, password: ...}",
        "auth_pass": "use authentication: {type: PASS, password: ...}",
        "unicast_peer": "use unicast_peers: [...]",
        "vrrp_version": "use version",
        **{old: f"use garp: {{{new}: ...}}" for old, new in limits.GARP_RENAMES.items()},
        "mcast_src_ip": "use unicast_src_ip (it also sets the source of multicast adverts)",
    },
)
