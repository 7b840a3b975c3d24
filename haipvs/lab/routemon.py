"""The bgp lab's view of the router's FIB: the VIP's ECMP nexthops now, and the timestamped
changes `ip -ts monitor route` logged (the reroute time is the first change after an event)."""

from __future__ import annotations

import json
import re
import subprocess
from datetime import datetime

STAMP = re.compile(r"^\[(?P<ts>[^\]]+)\]\s*(?P<rest>.*)$")
VIA = re.compile(r"\bvia (?:inet )?(?P<gw>[0-9.]+)")


def nexthops(namespace: str, vip: str) -> list[str]:
    """The gateways of `namespace`'s main-table route to vip/32, sorted; [] without one."""
    proc = subprocess.run(["ip", "-n", namespace, "-j", "route", "show", "exact", f"{vip}/32"],
                          capture_output=True, text=True, timeout=10, check=False)
    try:
        routes = json.loads(proc.stdout or "[]")
    except ValueError:
        return []
    hops: list[str] = []
    for route in routes:
        if "nexthops" in route:
            hops += [hop["gateway"] for hop in route["nexthops"] if "gateway" in hop]
        elif "gateway" in route:
            hops.append(route["gateway"])
    return sorted(hops)


def route_events(text: str, vip: str) -> list[tuple[float, list[str]]]:
    """`ip -ts monitor route` output -> (time, gateways after it; [] for a delete) for every
    message about vip/32, in order. A multipath route's nexthops are continuation lines."""
    messages: list[tuple[float, list[str]]] = []
    current: tuple[float, list[str]] | None = None
    for line in text.splitlines():
        match = STAMP.match(line)
        if match:
            current = None
            rest = match["rest"]
            fields = rest.split()
            deleted = bool(fields) and fields[0] == "Deleted"
            if deleted:
                fields = fields[1:]
            if fields and fields[0] in (vip, f"{vip}/32"):
                # ip prints local time without a zone; fromisoformat + timestamp() reads it so
                stamp = datetime.fromisoformat(match["ts"]).timestamp()
                current = (stamp, [] if deleted else VIA.findall(rest))
                messages.append(current)
                if deleted:  # the nexthops it lists are what was removed
                    current = None
        elif current is not None and line.startswith((" ", "\t")) and "nexthop" in line:
            current[1].extend(VIA.findall(line))
    return [(stamp, sorted(hops)) for stamp, hops in messages]
