"""`haipvs status`: the live IPVS table in `ipvsadm -Ln` layout, joined with each real
server's health and reason from the running daemon's state dump.

Where this kernel has no IPVS, the daemon's desired table is shown instead and marked as such:
it is what haipvs would program, not what the kernel holds.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from haipvs.statedump import JSON_NAME

UNAVAILABLE_BANNER = (
    "IPVS is not available in this kernel (ip_vs module not loaded?).\n"
    "Showing the daemon's DESIRED table (what haipvs would program), not the kernel's:\n"
)


def _read_dump(state_dir: str) -> dict[str, Any] | None:
    path = Path(state_dir) / JSON_NAME
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def refresh_dump(state_dir: str, pid_file: str, timeout: float = 3.0) -> bool:
    """Ask the running daemon for a fresh dump (SIGUSR1) and wait for it. False when no
    daemon answers in time; the last dump, if any, is then used as it is."""
    try:
        pid = int(Path(pid_file).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return False
    path = Path(state_dir) / JSON_NAME
    before = path.stat().st_mtime_ns if path.exists() else 0
    try:
        os.kill(pid, signal.SIGUSR1)
    except OSError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.stat().st_mtime_ns != before:
            return True
        time.sleep(0.05)
    return False


def _kernel_table():
    """(table, info) from the kernel, or raises IpvsUnavailable."""
    from haipvs.drivers.netlink_thread import NetlinkThread
    from haipvs.ipvs.netlink import NetlinkIpvs

    # The backend's socket belongs to its owner thread, as in the daemon.
    with NetlinkThread(NetlinkIpvs, name="ipvs-status") as nl:
        table = nl.call_blocking(NetlinkIpvs.dump)
        info = nl.call_blocking(NetlinkIpvs.get_info)
    return table, info


def _kernel_stats():
    """(per-service stats, info) from the kernel, or raises IpvsUnavailable."""
    from haipvs.drivers.netlink_thread import NetlinkThread
    from haipvs.ipvs.netlink import NetlinkIpvs

    with NetlinkThread(NetlinkIpvs, name="ipvs-stats") as nl:
        stats = nl.call_blocking(NetlinkIpvs.dump_stats)
        info = nl.call_blocking(NetlinkIpvs.get_info)
    return stats, info


def counters(rate: bool = False, exact: bool = False, as_json: bool = False,
             out: TextIO = sys.stdout) -> int:
    """`haipvs status --stats` / `--rate`: the kernel's counters in `ipvsadm -Ln --stats` /
    `--rate` layout (haipvs/ipvs/stats.py), or as JSON. Read over netlink, no daemon needed."""
    from haipvs.ipvs.errors import IpvsUnavailable
    from haipvs.ipvs.stats import render_stats, stats_json

    try:
        services, info = _kernel_stats()
    except IpvsUnavailable as exc:
        out.write(f"{exc}: no counters to show\n")
        return 1
    if as_json:
        json.dump({"ipvs": "available", "version": info.version,
                   "conn_table_size": info.conn_table_size,
                   "services": stats_json(services)}, out, indent=2, sort_keys=True)
        out.write("\n")
    else:
        out.write(render_stats(services, info, rate=rate, exact=exact))
    return 0


def watch(show, interval: float, count: int | None, out: TextIO = sys.stdout) -> int:
    """Run `show(out)` every `interval` seconds, `count` times (None: until Ctrl-C), each
    time on a cleared screen when `out` is a terminal, else after a time-stamped rule."""
    shown = 0
    status = 0
    try:
        while count is None or shown < count:
            if shown:
                time.sleep(interval)
            if out.isatty():
                out.write("\x1b[H\x1b[2J")
            elif shown:
                out.write("\n")
            out.write(f"Every {interval:g}s: haipvs status    {time.strftime('%c')}\n\n")
            status = show(out)
            out.flush()
            shown += 1
    except KeyboardInterrupt:
        return 0
    return status


def status(state_dir: str, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    from haipvs.ipvs.errors import IpvsUnavailable
    from haipvs.ipvs.status import health_from_dump, render_status, status_json

    dump = _read_dump(state_dir)
    ipvs_dump = (dump or {}).get("ipvs", {})
    health = health_from_dump(ipvs_dump.get("health", [])) if dump else None
    foreign = set(ipvs_dump.get("foreign_services", []))
    try:
        table, info = _kernel_table()
    except IpvsUnavailable:
        table = info = None

    if as_json:
        document: dict[str, Any] = {
            "ipvs": "available" if table is not None else "unavailable",
            "daemon_dump": str(Path(state_dir) / JSON_NAME) if dump else None,
        }
        if table is not None:
            foreign_keys = [svc.key for svc in table if str(svc.key) in foreign]
            document["kernel"] = status_json(table, health, info, foreign=foreign_keys)
        else:
            document["desired"] = ipvs_dump.get("desired", [])
        document["real_servers"] = ipvs_dump.get("real_servers", [])
        json.dump(document, out, indent=2, sort_keys=True)
        out.write("\n")
        return 0

    if dump is None:
        out.write(f"(no state dump in {state_dir}: is the daemon running? health not shown)\n")
    if table is not None:
        foreign_keys = [svc.key for svc in table if str(svc.key) in foreign]
        out.write(render_status(table, health, info, foreign=foreign_keys))
        return 0
    out.write(UNAVAILABLE_BANNER)
    text = ipvs_dump.get("desired_text")
    out.write(text if text else "(no desired table: the daemon's state dump is missing)\n")
    return 0 if text else 1
