"""`haipvs status`: the kernel IPVS table in `ipvsadm -Ln` layout, plus health, or as JSON.

Without health information the text is byte-for-byte what `ipvsadm -Ln` prints (same
sort order as libipvs). With it, a Health column is
appended to destination lines, and real servers that health checks removed from the kernel
are listed with empty kernel columns.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from haipvs.dataclass_lean import dataclass
from haipvs.ipvs.model import (
    AF_INET6,
    SVC_F_ONEPACKET,
    Destination,
    DestKey,
    ForwardMethod,
    IpvsInfo,
    IpvsTable,
    Service,
    ServiceKey,
    format_endpoint,
    sched_flag_names,
)

FORWARD_NAMES = {
    ForwardMethod.NAT: "Masq",
    ForwardMethod.LOCAL: "Local",
    ForwardMethod.TUN: "Tunnel",
    ForwardMethod.DR: "Route",
}


@dataclass(frozen=True)
class HealthNote:
    """Health of one real server as the daemon sees it."""

    up: bool
    reason: str = ""

    def text(self) -> str:
        word = "up" if self.up else "down"
        return f"{word} ({self.reason})" if self.reason else word


# Keyed by (str(ServiceKey), str(DestKey)), the form used in the daemon's state dump.
HealthInfo = Mapping[tuple[str, str], HealthNote]


def health_from_dump(entries: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], HealthNote]:
    """Parse the state dump's `ipvs.health` list: {"service", "dest", "up", "reason"}."""
    return {
        (e["service"], e["dest"]): HealthNote(bool(e["up"]), e.get("reason") or "")
        for e in entries
    }


def _netmask_text(svc: Service) -> str | None:
    assert svc.netmask is not None
    if svc.key.family == AF_INET6:
        return None if svc.netmask == 128 else str(svc.netmask)
    if svc.netmask == 32:
        return None
    mask = (0xFFFFFFFF << (32 - svc.netmask)) & 0xFFFFFFFF
    return ".".join(str((mask >> shift) & 0xFF) for shift in (24, 16, 8, 0))


def service_line(svc: Service) -> str:
    key = svc.key
    if key.is_fwmark:
        name = f"FWM  {key.fwmark}" + (" IPv6" if key.family == AF_INET6 else "")
    else:
        name = f"{key.protocol_name:<4} {format_endpoint(key.address, key.port)}"
        if key.family != AF_INET6:
            name = name[:33]  # ipvsadm truncates IPv4 names to 33 characters
    line = f"{name} {svc.scheduler}"
    flags = sched_flag_names(svc.scheduler, svc.flags)
    if flags:
        line += f" ({','.join(flags)})"
    if svc.persistence_timeout is not None:
        line += f" persistent {svc.persistence_timeout}"
        mask = _netmask_text(svc)
        if mask is not None:
            line += f" mask {mask}"
        if svc.pe_name:
            line += f" pe {svc.pe_name}"
    if svc.flags & SVC_F_ONEPACKET:
        line += " ops"
    return line


def _dest_name(svc: Service, key: DestKey) -> str:
    name = str(key)
    return name if svc.key.family == AF_INET6 else name[:28]


def dest_line(svc: Service, dest: Destination) -> str:
    return (
        f"  -> {_dest_name(svc, dest.key):<28} {FORWARD_NAMES[dest.fwd]:<7} "
        f"{dest.weight:<6} {dest.active_conns:<10} {dest.inactive_conns:<10}"
    )


HEADER = (
    "Prot LocalAddress:Port Scheduler Flags",
    "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn",
)


def render_status(
    table: IpvsTable,
    health_info: HealthInfo | None = None,
    info: IpvsInfo | None = None,
    *,
    foreign: Iterable[ServiceKey] = (),
) -> str:
    """`ipvsadm -Ln` text for `table`; with `health_info`, a Health column too."""
    lines = []
    if info is not None:
        lines.append(f"IP Virtual Server version {info.version} (size={info.conn_table_size})")
    lines += HEADER
    if health_info is not None:
        lines[-1] += " Health"
    foreign_keys = set(foreign)
    for svc in table:
        line = service_line(svc)
        if svc.key in foreign_keys:
            line += "  [foreign: not in config]" if health_info is not None else ""
        lines.append(line)
        svc_name = str(svc.key)
        for dest in svc.destinations:
            text = dest_line(svc, dest)
            if health_info is not None:
                note = health_info.get((svc_name, str(dest.key)))
                text += " " + (note.text() if note is not None else "-")
            lines.append(text)
        if health_info is not None:
            # Real servers the checkers removed from the kernel.
            present = {str(d.key) for d in svc.destinations}
            for (service, dest_name), note in sorted(health_info.items()):
                if service == svc_name and dest_name not in present:
                    name = dest_name if svc.key.family == AF_INET6 else dest_name[:28]
                    lines.append(
                        f"  -> {name:<28} {'':<7} {'':<6} {'':<10} {'':<10} {note.text()}"
                        " (not in kernel)"
                    )
    return "\n".join(lines) + "\n"


def _service_json(svc: Service, health_info: HealthInfo | None, foreign: bool) -> dict[str, Any]:
    key = svc.key
    out: dict[str, Any] = {
        "name": str(key),
        "family": "IPv6" if key.family == AF_INET6 else "IPv4",
        "protocol": key.protocol_name,
        "address": key.address or None,
        "port": None if key.is_fwmark else key.port,
        "fwmark": key.fwmark or None,
        "scheduler": svc.scheduler,
        "sched_flags": sched_flag_names(svc.scheduler, svc.flags),
        "persistence_timeout": svc.persistence_timeout,
        "persistence_netmask": svc.netmask if svc.persistence_timeout is not None else None,
        "pe_name": svc.pe_name,
        "ops": bool(svc.flags & SVC_F_ONEPACKET),
        "foreign": foreign,
        "destinations": [],
    }
    for dest in svc.destinations:
        entry: dict[str, Any] = {
            "address": dest.address,
            "port": dest.port,
            "forward": dest.fwd.name,
            "weight": dest.weight,
            "u_threshold": dest.u_threshold,
            "l_threshold": dest.l_threshold,
            "active_conns": dest.active_conns,
            "inactive_conns": dest.inactive_conns,
            "persist_conns": dest.persist_conns,
        }
        if dest.fwd == ForwardMethod.TUN:
            entry.update(tun_type=dest.tun_type.name.lower(), tun_port=dest.tun_port,
                         tun_flags=dest.tun_flags)
        if health_info is not None:
            note = health_info.get((str(key), str(dest.key)))
            entry["health"] = None if note is None else {"up": note.up, "reason": note.reason}
        out["destinations"].append(entry)
    if health_info is not None:
        present = {str(d.key) for d in svc.destinations}
        out["absent_real_servers"] = [
            {"dest": dest_name, "up": note.up, "reason": note.reason}
            for (service, dest_name), note in sorted(health_info.items())
            if service == str(key) and dest_name not in present
        ]
    return out


def status_json(
    table: IpvsTable,
    health_info: HealthInfo | None = None,
    info: IpvsInfo | None = None,
    *,
    foreign: Iterable[ServiceKey] = (),
) -> dict[str, Any]:
    """The same facts as `render_status`, as a JSON-ready dict."""
    foreign_keys = set(foreign)
    return {
        "version": info.version if info is not None else None,
        "conn_table_size": info.conn_table_size if info is not None else None,
        "services": [_service_json(s, health_info, s.key in foreign_keys) for s in table],
    }
