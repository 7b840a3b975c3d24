"""IPVS counters and rates, as `ipvsadm -Ln --stats` and `--rate` print them.

Pure: decoding the kernel's nested stats attribute, and the text/JSON layouts. The netlink
dump that fetches them is haipvs/ipvs/netlink.py (NetlinkIpvs.dump_stats).

The kernel sends each service and destination's counters twice: IPVS_*_ATTR_STATS (conns and
packets u32, bytes u64, rates u32) and, since Linux 4.1, IPVS_*_ATTR_STATS64 (all u64).
ipvsadm 1.31 prints the 64-bit set when present; so does this. Each nested attribute is read
by its length, 4 or 8 bytes (uapi linux/ip_vs.h, enum IPVS_STATS_ATTR_*).

Layout (ipvsadm.c print_title, print_service_entry and print_largenum): the service name in
33 columns (the `-Ln` name, IPv4 names cut to 33), a destination as "  -> " and 28 columns,
then five numbers of 9 columns each. A number over 8 digits is shown in thousands (K),
millions (M), billions (G) or trillions (T) of 8 digits and the letter, unless --exact. On a
destination line of --rate, CPS, InPPS and OutPPS are printed "%8u" after a space, exactly
(ipvsadm does not shorten those three).
"""

from __future__ import annotations

import struct
import sys
from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from haipvs.dataclass_lean import dataclass
from haipvs.ipvs.model import AF_INET6, DestKey, IpvsInfo, ServiceKey, format_endpoint

# uapi linux/ip_vs.h enum IPVS_STATS_ATTR_*, in order
FIELDS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes",
          "cps", "inpps", "outpps", "inbps", "outbps")
_NLA = struct.Struct("=HH")
_NLA_TYPE_MASK = 0x3FFF


@dataclass(frozen=True, slots=True)
class IpvsStats:
    """One service's or destination's counters (since it was added) and rates (per second,
    the kernel's 2-second estimator)."""

    conns: int = 0
    inpkts: int = 0
    outpkts: int = 0
    inbytes: int = 0
    outbytes: int = 0
    cps: int = 0
    inpps: int = 0
    outpps: int = 0
    inbps: int = 0
    outbps: int = 0


@dataclass(frozen=True, slots=True)
class ServiceStats:
    key: ServiceKey
    stats: IpvsStats
    dests: tuple[tuple[DestKey, IpvsStats], ...] = ()


def decode_stats(raw: bytes | None) -> IpvsStats:
    """The nested IPVS_*_ATTR_STATS or _STATS64 attribute; fields it lacks are 0."""
    values: dict[str, int] = {}
    offset = 0
    data = raw or b""
    while offset + 4 <= len(data):
        length, kind = _NLA.unpack_from(data, offset)
        if length < 4:
            break
        kind &= _NLA_TYPE_MASK
        payload = data[offset + 4:offset + length]
        if 1 <= kind <= len(FIELDS) and len(payload) in (4, 8):
            values[FIELDS[kind - 1]] = int.from_bytes(payload, sys.byteorder)  # host order
        offset += (length + 3) & ~3
    return IpvsStats(**values)



def sorted_stats(services: Iterable[ServiceStats]) -> list[ServiceStats]:
    """ipvsadm's order: services by libipvs ipvs_cmp_services, destinations by
    ipvs_cmp_dests."""
    return [ServiceStats(s.key, s.stats, tuple(sorted(s.dests, key=lambda d: d[0].sort_key)))
            for s in sorted(services, key=lambda s: s.key.sort_key)]


def largenum(value: int, exact: bool = False) -> str:
    """ipvsadm.c print_largenum."""
    if exact:
        digits = str(value)
        return f"{value:>{9 if len(digits) <= 8 else len(digits) + 1}}"
    if value < 100_000_000:
        return f"{value:9d}"
    for limit, divisor, unit in ((1_000_000_000, 1_000, "K"),
                                 (100_000_000_000, 1_000_000, "M"),
                                 (100_000_000_000_000, 1_000_000_000, "G")):
        if value < limit:
            return f"{value // divisor:8d}{unit}"
    return f"{value // 1_000_000_000_000:8d}T"


def service_name(key: ServiceKey) -> str:
    """The `ipvsadm -Ln` name of a service (print_service_entry's svc_name)."""
    if key.is_fwmark:
        return f"FWM  {key.fwmark}" + (" IPv6" if key.family == AF_INET6 else "")
    name = f"{key.protocol_name:<4} {format_endpoint(key.address, key.port)}"
    return name if key.family == AF_INET6 else name[:33]


def _dest_name(service: ServiceKey, key: DestKey) -> str:
    name = str(key)
    return name if service.family == AF_INET6 else name[:28]


STATS_COLUMNS = ("Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
RATE_COLUMNS = ("CPS", "InPPS", "OutPPS", "InBPS", "OutBPS")


def render_stats(services: Iterable[ServiceStats], info: IpvsInfo | None = None, *,
                 rate: bool = False, exact: bool = False) -> str:
    """`ipvsadm -Ln --stats` (or `--rate`; `--exact` for whole numbers) text."""
    columns = RATE_COLUMNS if rate else STATS_COLUMNS
    fields = FIELDS[5:] if rate else FIELDS[:5]
    lines = []
    if info is not None:
        lines.append(f"IP Virtual Server version {info.version} (size={info.conn_table_size})")
    lines.append(f"{'Prot LocalAddress:Port':<33} " + " ".join(f"{c:>8}" for c in columns))
    lines.append("  -> RemoteAddress:Port")
    for svc in sorted_stats(services):
        values = [getattr(svc.stats, f) for f in fields]
        lines.append(f"{service_name(svc.key):<33}"
                     + "".join(largenum(v, exact) for v in values))
        for dest, stats in svc.dests:
            values = [getattr(stats, f) for f in fields]
            head = f"  -> {_dest_name(svc.key, dest):<28}"
            if rate:  # ipvsadm: "%8u" for the three rates, largenum for the byte rates
                lines.append(head + "".join(f" {v:8d}" for v in values[:3])
                             + "".join(largenum(v, exact) for v in values[3:]))
            else:
                lines.append(head + "".join(largenum(v, exact) for v in values))
    return "\n".join(lines) + "\n"


def stats_json(services: Iterable[ServiceStats]) -> list[dict[str, Any]]:
    """The same numbers, whole: [{"service", "stats": {...}, "real_servers": [{"address",
    "port", "stats"}]}] in ipvsadm's order (docs/operations.md)."""
    return [{"service": str(svc.key), "stats": asdict(svc.stats),
             "real_servers": [{"address": dest.address, "port": dest.port,
                               "stats": asdict(stats)} for dest, stats in svc.dests]}
            for svc in sorted_stats(services)]

