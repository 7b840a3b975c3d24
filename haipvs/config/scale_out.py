"""`scale_out`: N active directors behind ECMP, each VIP announced by a route in a kernel table
that the routing daemon (BIRD) learns and exports over BGP (issue 17; keepalived has no
counterpart, so the importer never writes this section).

A VIP listed here is in `bgp` announce mode: it sits on `lo` of every director and is
announced while it is fit (haipvs/policy/announce.py decides, haipvs/drivers/route_table.py
adds and deletes the route). VIPs of `vrrp_instances` stay in `vrrp` mode. The rules between
this section and the rest of the file are `check_config`, called from the file's check.
"""

# setting() returns a dataclasses.field (see settings.py); ruff only knows field() itself.

from __future__ import annotations

import ipaddress
from typing import Any

from haipvs import limits
from haipvs.config.common import IFNAME, IPAddress
from haipvs.config.compound import ListOf, Nested
from haipvs.config.kinds import Bool, Float, Int, IPAddr
from haipvs.config.settings import model_section, setting
from haipvs.config.spec import REQUIRED, Values
from haipvs.dataclass_lean import dataclass

COUNT = Int(1, limits.SCALE_OUT_COUNT_MAX)
SECONDS = Float(0, 86400)
# Why NAT cannot work with N directors, in the words `haipvs check` uses.
NAT_REFUSED = ("lb_kind NAT is refused on a bgp VIP: with N active directors the real "
               "server's replies go to its default gateway, not necessarily the director "
               "that holds the connection's state; use DR or TUN")


@dataclass(frozen=True)
class ScaleOutVip:
    address: IPAddress = setting(IPAddr(), doc="the VIP; announced as a /32 (IPv6: /128) route")
    metric: int | None = setting(
        Int(0, limits.SCALE_OUT_TABLE_MAX), None,
        "priority (metric) of its kernel route; the routing daemon maps it to MED, for "
        "active/backup over BGP", doc_default=f"{limits.SCALE_OUT_DEFAULT_METRIC}")

    @property
    def network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(self.address)

    @property
    def route_metric(self) -> int:
        return limits.SCALE_OUT_DEFAULT_METRIC if self.metric is None else self.metric


SCALE_OUT_VIP = model_section(
    ScaleOutVip,
    "scale_out_vip",
    "A bgp-mode VIP",
    "One VIP announced by this director while it is fit.",
)


def _check(v: Values) -> None:
    if v.ok("table") and v["table"] in limits.SCALE_OUT_TABLE_RESERVED:
        v.error("table", f"table {v['table']} is reserved (0 unspec, 253 default, 254 main, "
                "255 local); use a table of its own, e.g. 201")
    seen: dict[Any, int] = {}
    for j, vip in v.items("vips"):
        first = seen.setdefault(vip.address, j)
        if first != j:
            v.error(("vips", j, "address"), f"{vip.address} is already listed at line "
                    f"{v.line('vips', first)}")


@dataclass(frozen=True)
class ScaleOut:
    """Scale-out: VIPs announced over BGP by the routing daemon while this director is fit
    (docs/scale-out.md)."""

    table: int = setting(Int(0, limits.SCALE_OUT_TABLE_MAX), limits.SCALE_OUT_DEFAULT_TABLE,
                         "kernel routing table holding the announced VIP routes; the routing "
                         "daemon learns it (BIRD: protocol kernel { kernel table T; learn; })")
    uplink: str | None = setting(IFNAME, None, "this link going down withdraws every VIP",
                                 doc_default="none: no link is watched")
    rise: int = setting(COUNT, limits.SCALE_OUT_DEFAULT_RISE,
                        "consecutive fit evaluations before a VIP is announced")
    fall: int = setting(COUNT, limits.SCALE_OUT_DEFAULT_FALL,
                        "consecutive unfit evaluations before a VIP is withdrawn")
    hold_down: float = setting(SECONDS, limits.SCALE_OUT_DEFAULT_HOLD_DOWN,
                               "seconds: a withdrawn VIP is announced again only after it has "
                               "been fit this long without a break (a flapping check gives at "
                               "most one update per hold_down)")
    drain_timeout: float = setting(SECONDS, limits.SCALE_OUT_DEFAULT_DRAIN_TIMEOUT,
                                   "seconds: on drain or stop, after the withdraw, keep serving "
                                   "until the VIP's active connections reach 0 or this long")
    graceful_shutdown: bool = setting(Bool(), False,
                                      "on drain or stop, first re-announce the route marked for "
                                      "the GRACEFUL_SHUTDOWN community (RFC 8326; realm "
                                      f"{limits.GRACEFUL_SHUTDOWN_REALM}, see docs/scale-out.md)")
    vips: tuple[ScaleOutVip, ...] = setting(ListOf(Nested(SCALE_OUT_VIP), min_items=1),
                                            REQUIRED, "the bgp-mode VIPs", model_default=())

    def vip(self, address: IPAddress) -> ScaleOutVip | None:
        return next((vip for vip in self.vips if vip.address == address), None)


SCALE_OUT = model_section(
    ScaleOut,
    "scale_out",
    "Scale-out (bgp-mode VIPs)",
    "N active directors behind ECMP: each VIP here sits on `lo` and is announced as a route "
    "in `table`, which the routing daemon exports over BGP, while every virtual service on it "
    "has a live real server (or its quorum), its IPVS service is present and `uplink` is up. "
    "keepalived has no counterpart (docs/scale-out.md).",
    check=_check,
    rules=("`table` is not 0, 253, 254 or 255.", "A VIP is listed once."),
)


def check_config(v: Values) -> None:
    """The rules between `scale_out` and the rest of the file (called by the file's check):
    a VIP is in one announce mode, a bgp VIP has a virtual server that decides its health,
    and no such virtual server forwards by NAT."""
    if not v.ok("scale_out") or v["scale_out"] is None:
        return
    vips = {vip.address: j for j, vip in enumerate(v["scale_out"].vips)}
    for i, instance in v.items("vrrp_instances"):
        for k, address in enumerate(instance.virtual_ipaddress):
            j = vips.get(address.address.ip)
            if j is not None:
                v.error(("scale_out", "vips", j, "address"),
                        f"{address.address.ip} is also a VIP of vrrp instance "
                        f"{instance.name!r} at line "
                        f"{v.line('vrrp_instances', i, 'virtual_ipaddress', k)}; a VIP is "
                        "announced either by VRRP or over BGP")
    served: set[Any] = set()
    for i, vs in v.items("virtual_servers"):
        if vs.address not in vips:
            continue
        served.add(vs.address)
        kinds = {vs.effective_lb_kind(rs) for rs in vs.real_servers} or {vs.lb_kind}
        if "NAT" in kinds:
            v.error(("virtual_servers", i, "lb_kind"), f"{vs.address} is a bgp VIP (scale_out "
                    f"at line {v.line('scale_out', 'vips', vips[vs.address])}): "
                    + NAT_REFUSED)
    if v.ok("virtual_servers"):
        for address, j in vips.items():
            if address not in served:
                v.error(("scale_out", "vips", j, "address"),
                        f"no virtual server has address {address}: nothing would decide "
                        "when to announce it")


__all__ = ["NAT_REFUSED", "SCALE_OUT", "ScaleOut", "ScaleOutVip", "check_config"]
