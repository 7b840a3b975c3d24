"""`global.lvs_sync_daemon`: the IPVS connection synchronisation daemon (keepalived's
`lvs_sync_daemon`, core/global_parser.c lvs_syncd_handler).

Which daemon runs when is decided in haipvs/ipvs/desired.py (desired_sync_daemons); this
module only holds the settings and their checks."""

# setting() returns a dataclasses.field (see settings.py); ruff only knows field() itself.

from __future__ import annotations

import ipaddress

from haipvs.config.common import IFNAME, PORT
from haipvs.config.kinds import Int, IPAddr, Text
from haipvs.config.settings import model_section, setting
from haipvs.config.spec import Values
from haipvs.dataclass_lean import dataclass

# global_parser.c lvs_syncd_handler(): maxlen is read as 1 .. 65535 - 20 - 8 (the largest
# UDP payload in an IPv4 datagram); ttl as 1 .. 255.
SYNC_MAXLEN_MAX = 65535 - 20 - 8
# The kernel's defaults (net/netfilter/ipvs/ip_vs_sync.c start_sync_thread(), the values
# `ipvsadm -L --daemon` then shows): IP_VS_SYNC_GROUP, IP_VS_SYNC_PORT, ttl 1. The kernel
# also clamps maxlen to at least 1024 for a backup daemon (haipvs/ipvs/planner.py).
KERNEL_SYNC_GROUP = "224.0.0.81"
KERNEL_SYNC_PORT = 8848
KERNEL_SYNC_TTL = 1


@dataclass(frozen=True)
class LvsSyncDaemon:
    """IPVS connection synchronisation daemon. With `vrrp_instance` it is the master daemon
    while that instance is MASTER and the backup one otherwise (keepalived vrrp.c
    vrrp_state_become_master / vrrp_state_leave_master); without, both run all the time
    (keepalived check_daemon.c start_check)."""

    interface: str = setting(IFNAME, doc="interface the sync daemon multicasts on")
    vrrp_instance: str | None = setting(
        Text(64), None,
        "the sync daemon is master while this instance is MASTER, backup otherwise",
        doc_default="none: the master and the backup daemon both run",
    )
    # keepalived vrrp.c vrrp_complete_init(): "If no syncid configured, use vrid"; without
    # an instance check_daemon.c start_check() uses 0.
    sync_id: int | None = setting(Int(0, 255), None,
                                  "sync id shared by the pair (ipvsadm --syncid)",
                                  doc_default="the instance's virtual_router_id, else 0")
    maxlen: int | None = setting(Int(1, SYNC_MAXLEN_MAX), None,
                                 "largest sync message payload, bytes (ipvsadm --sync-maxlen)",
                                 doc_default="the kernel's: 1472 for the master, the "
                                 "interface MTU (at least 1500) less 28 for the backup")
    port: int | None = setting(PORT, None, "UDP port of the sync messages (ipvsadm --mcast-port)",
                               doc_default=f"the kernel's, {KERNEL_SYNC_PORT}")
    ttl: int | None = setting(Int(1, 255), None,
                              "TTL / hop limit of the sync messages (ipvsadm --mcast-ttl)",
                              doc_default=f"the kernel's, {KERNEL_SYNC_TTL}")
    group: ipaddress.IPv4Address | ipaddress.IPv6Address | None = setting(
        IPAddr(), None, "multicast group of the sync messages (ipvsadm --mcast-group)",
        doc_default=f"the kernel's, {KERNEL_SYNC_GROUP}")


def _check(v: Values) -> None:
    # global_parser.c lvs_syncd_handler(): "lvs_sync_daemon group address %s is not
    # multicast"; keepalived ignores such a group, haipvs refuses it.
    if v.ok("group") and v["group"] is not None and not v["group"].is_multicast:
        v.error("group", f"{v['group']} is not a multicast address")


LVS_SYNC_DAEMON = model_section(
    LvsSyncDaemon,
    "lvs_sync_daemon",
    "IPVS connection sync daemon",
    "Synchronises IPVS connection state to the backup director, following a VRRP instance "
    "(or, without one, running the master and the backup daemon together).",
    check=_check,
    rules=("`vrrp_instance`, when given, must name an instance in `vrrp_instances`.",
           "`group` is a multicast address."),
)
