"""`haipvs realserver up|down`: the real-server side of LVS-DR and LVS-TUN.

With DR and TUN the director forwards packets still addressed to the VIP, so each real server
must accept them (the VIP on `lo` as /32, or on the `tunl0` IP-in-IP device for TUN) without
ever answering ARP for the VIP (arp_ignore=1, arp_announce=2), or clients would reach the real
server directly. TUN also needs reverse-path filtering off for the decapsulated packets.

`up` works out what differs from that, changes only that, and records every change with the
value it replaced in a state file; `down` undoes exactly those changes, in reverse order, so a
machine goes back byte for byte to how it was. `up` is idempotent: a second run changes
nothing and keeps the original values recorded.
"""

from __future__ import annotations

import argparse
import contextlib
import ipaddress
import json
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from haipvs.dataclass_lean import dataclass

DEFAULT_STATE_FILE = "/run/haipvs/realserver.json"
PROC_SYS = Path("/proc/sys")
TUNNEL = "tunl0"
STATE_FORMAT = 1


def sysctl_path(name: str, root: Path = PROC_SYS) -> Path:
    return root / name.replace(".", "/")


def arp_sysctls(tun: bool) -> list[tuple[str, str]]:
    """(sysctl, wanted value) for a DR/TUN real server (IPv4)."""
    wanted = [
        ("net.ipv4.conf.all.arp_ignore", "1"),
        ("net.ipv4.conf.lo.arp_ignore", "1"),
        ("net.ipv4.conf.all.arp_announce", "2"),
        ("net.ipv4.conf.lo.arp_announce", "2"),
    ]
    if tun:
        wanted += [("net.ipv4.conf.all.rp_filter", "0"), (f"net.ipv4.conf.{TUNNEL}.rp_filter", "0")]
    return wanted


@dataclass(frozen=True)
class Change:
    """One change `up` makes. kind: sysctl | address | link_up | link_create."""

    kind: str
    target: str  # sysctl name, interface name
    old: str | None = None  # sysctl: the value replaced
    new: str | None = None  # sysctl: the value set; address: "addr/prefix"

    def describe(self) -> str:
        if self.kind == "sysctl":
            return f"set {self.target} {self.old} -> {self.new}"
        if self.kind == "address":
            return f"add {self.new} to {self.target}"
        if self.kind == "link_up":
            return f"bring {self.target} up"
        return f"create {self.target} (ipip)"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "target": self.target, "old": self.old, "new": self.new}


class Links:
    """The rtnetlink operations realserver needs (pyroute2), in this process's netns."""

    def __init__(self) -> None:
        from pyroute2 import IPRoute

        self.ipr = IPRoute()

    def close(self) -> None:
        self.ipr.close()

    def index(self, ifname: str) -> int | None:
        from haipvs.drivers.addresses import get_link

        link = get_link(self.ipr, ifname=ifname)
        return None if link is None else link["index"]

    def is_up(self, ifname: str) -> bool:
        from haipvs.drivers.addresses import get_link

        link = get_link(self.ipr, ifname=ifname)
        return link is not None and bool(link["flags"] & 1)

    def has_address(self, ifname: str, address: str, prefixlen: int) -> bool:
        index = self.index(ifname)
        if index is None:
            return False
        for entry in self.ipr.get_addr(index=index):
            if entry.get_attr("IFA_ADDRESS") == address and entry["prefixlen"] == prefixlen:
                return True
        return False

    def add_address(self, ifname: str, address: str, prefixlen: int) -> None:
        self.ipr.addr("add", index=self.index(ifname), address=address, prefixlen=prefixlen)

    def del_address(self, ifname: str, address: str, prefixlen: int) -> None:
        self.ipr.addr("del", index=self.index(ifname), address=address, prefixlen=prefixlen)

    def set_up(self, ifname: str, up: bool) -> None:
        self.ipr.link("set", index=self.index(ifname), state="up" if up else "down")

    def create_ipip(self, ifname: str) -> None:
        self.ipr.link("add", ifname=ifname, kind="ipip")

    def delete(self, ifname: str) -> None:
        self.ipr.link("del", index=self.index(ifname))


class RealServerError(RuntimeError):
    pass


def plan_up(vips: Iterable[str], tun: bool, links: Links, root: Path = PROC_SYS) -> tuple[
        list[Change], list[str]]:
    """(changes to make, things already as wanted)."""
    changes: list[Change] = []
    already: list[str] = []
    addresses = [ipaddress.ip_address(v) for v in vips]
    device = TUNNEL if tun else "lo"
    if tun:
        if any(a.version == 6 for a in addresses):
            raise RealServerError("--tun supports IPv4 VIPs only (IPv6 tunnels use ip6tnl0)")
        if links.index(TUNNEL) is None:
            changes.append(Change("link_create", TUNNEL))
    if links.index("lo") is not None and not links.is_up("lo"):
        changes.append(Change("link_up", "lo"))
    else:
        already.append("lo is up")
    if tun:
        if links.index(TUNNEL) is None or not links.is_up(TUNNEL):
            changes.append(Change("link_up", TUNNEL))
        else:
            already.append(f"{TUNNEL} is up")
    for address in addresses:
        prefix = 32 if address.version == 4 else 128
        if links.has_address(device, str(address), prefix):
            already.append(f"{address}/{prefix} is on {device}")
        else:
            changes.append(Change("address", device, new=f"{address}/{prefix}"))
    if any(a.version == 4 for a in addresses):
        for name, wanted in arp_sysctls(tun):
            path = sysctl_path(name, root)
            current = path.read_text().strip() if path.exists() else None
            if current == wanted:
                already.append(f"{name} = {wanted}")
            else:
                # tunl0's own sysctls appear only once the device exists.
                changes.append(Change("sysctl", name, old=current, new=wanted))
    return changes, already


def apply(change: Change, links: Links, root: Path) -> Change:
    """Make one change; returns it with `old` filled in where it is known only now."""
    if change.kind == "link_create":
        try:
            links.create_ipip(change.target)
        except Exception as exc:
            raise RealServerError(f"cannot create {change.target}: {exc} (does this kernel "
                                  "have ipip tunnels?)") from exc
    elif change.kind == "link_up":
        links.set_up(change.target, True)
    elif change.kind == "address":
        address, prefix = change.new.split("/")
        links.add_address(change.target, address, int(prefix))
    elif change.kind == "sysctl":
        path = sysctl_path(change.target, root)
        old = path.read_text().strip()
        if old == change.new:
            return Change("sysctl", change.target, old=None, new=None)  # nothing to undo
        path.write_text(f"{change.new}\n")
        return Change("sysctl", change.target, old=old, new=change.new)
    return change


def revert(change: Change, links: Links, root: Path) -> None:
    if change.kind == "sysctl":
        if change.old is not None:
            path = sysctl_path(change.target, root)
            if path.exists():
                path.write_text(f"{change.old}\n")
    elif change.kind == "address":
        address, prefix = change.new.split("/")
        if links.has_address(change.target, address, int(prefix)):
            links.del_address(change.target, address, int(prefix))
    elif change.kind == "link_up":
        if links.index(change.target) is not None:
            links.set_up(change.target, False)
    elif change.kind == "link_create" and links.index(change.target) is not None:
        links.delete(change.target)


def load_state(path: Path) -> list[Change]:
    if not path.exists():
        return []
    data = json.loads(path.read_text())
    return [Change(**entry) for entry in data.get("changes", [])]


def save_state(path: Path, changes: list[Change]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps({"format": STATE_FORMAT,
                               "changes": [c.as_dict() for c in changes]}, indent=2) + "\n")
    os.replace(tmp, path)


def up(vips: list[str], tun: bool, state_file: Path, dry_run: bool,
       out: Callable[[str], None] = print, root: Path = PROC_SYS) -> int:
    links = Links()
    try:
        changes, already = plan_up(vips, tun, links, root)
        for line in already:
            out(f"already: {line}")
        for change in changes:
            out(f"{'would ' if dry_run else ''}{change.describe()}")
        if dry_run or not changes:
            return 0
        done = load_state(state_file)
        made: list[Change] = []
        try:
            for change in changes:
                made.append(apply(change, links, root))
        except Exception:
            for change in reversed(made):
                with contextlib.suppress(Exception):
                    revert(change, links, root)
            raise
        # Keep the first recorded old value of a sysctl: that is the one to restore.
        recorded = {(c.kind, c.target) for c in done if c.kind == "sysctl"}
        done += [c for c in made if not (c.kind == "sysctl" and (
            c.old is None or (c.kind, c.target) in recorded))]
        save_state(state_file, done)
        return 0
    finally:
        links.close()


def down(state_file: Path, dry_run: bool, out: Callable[[str], None] = print,
         root: Path = PROC_SYS) -> int:
    changes = load_state(state_file)
    if not changes:
        out(f"nothing to undo ({state_file} records no changes)")
        return 0
    links = Links()
    try:
        for change in reversed(changes):
            if change.kind == "sysctl":
                text = f"restore {change.target} {change.new} -> {change.old}"
            elif change.kind == "address":
                text = f"remove {change.new} from {change.target}"
            elif change.kind == "link_up":
                text = f"bring {change.target} down"
            else:
                text = f"delete {change.target}"
            out(f"{'would ' if dry_run else ''}{text}")
            if not dry_run:
                revert(change, links, root)
        if not dry_run:
            state_file.unlink()
        return 0
    finally:
        links.close()


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=("up", "down"))
    parser.add_argument("--vip", action="append", default=[], metavar="VIP",
                        help="virtual IP (repeat for several); needed with up")
    parser.add_argument("--tun", action="store_true",
                        help="LVS-TUN: put the VIPs on tunl0 (ipip) and turn rp_filter off")
    parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    parser.add_argument("--state-file", default=DEFAULT_STATE_FILE, metavar="FILE",
                        help=f"where up records what it changed (default {DEFAULT_STATE_FILE})")


def run(args: argparse.Namespace) -> int:
    state_file = Path(args.state_file)
    try:
        if args.action == "up":
            if not args.vip:
                print("haipvs realserver up: give at least one --vip", file=sys.stderr)
                return 2
            for vip in args.vip:
                ipaddress.ip_address(vip)
            return up(args.vip, args.tun, state_file, args.dry_run)
        return down(state_file, args.dry_run)
    except (RealServerError, OSError, ValueError) as exc:
        print(f"haipvs realserver {args.action}: {exc}", file=sys.stderr)
        return 1
