"""`haipvs director-setup`: the kernel settings an LVS director needs, set idempotently.

- NAT directors route the real servers' replies back through themselves:
  net.ipv4.ip_forward=1 (net.ipv6.conf.all.forwarding=1 for IPv6 NAT services).
- `--bgp` (scale-out, issue 17): the bgp VIPs sit on `lo` of every director, so none may
  answer ARP for them: arp_ignore=1 and arp_announce=2 on all and lo, as on a DR real server
  (haipvs/realserver.py).
- `--conntrack` sets net.ipv4.vs.conntrack=1 (keep netfilter conntrack entries for IPVS
  connections, needed when NAT/filter rules must see them) when the kernel has IPVS.

With a config file the settings follow its virtual servers; without one, `--nat` is assumed.
Each setting is reported as changed (old -> new), already set, or skipped (and why).
Settings are not persisted: put them in /etc/sysctl.d/ to survive a reboot.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from haipvs.dataclass_lean import dataclass
from haipvs.realserver import PROC_SYS, sysctl_path


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # "changed" | "already" | "skipped" | "would change"
    detail: str

    def __str__(self) -> str:
        return f"{self.status}: {self.name} {self.detail}"


BGP_ARP = "bgp VIPs on lo: no director may answer ARP for them"
BGP_SLOPPY = "ECMP may move a flow mid-connection to a director without its IPVS entry"


def wanted_settings(nat_v4: bool, nat_v6: bool, conntrack: bool,
                    bgp: bool = False) -> list[tuple[str, str, str]]:
    """(sysctl, value, why) for the requested features."""
    wanted = []
    if bgp:
        for name, value in (("arp_ignore", "1"), ("arp_announce", "2")):
            for scope in ("all", "lo"):
                wanted.append((f"net.ipv4.conf.{scope}.{name}", value, BGP_ARP))
        # ECMP can move a flow to another director mid-connection: sloppy TCP/SCTP lets IPVS
        # create a connection entry from a non-SYN/INIT packet (ip_vs_proto_tcp.c
        # tcp_conn_schedule), so the new director forwards it (by mh, to the same server).
        # Skipped, as the other .vs. settings, where the kernel has no IPVS.
        for name in ("sloppy_tcp", "sloppy_sctp"):
            wanted.append((f"net.ipv4.vs.{name}", "1", BGP_SLOPPY))
    if nat_v4:
        wanted.append(("net.ipv4.ip_forward", "1", "NAT replies are routed through the director"))
    if nat_v6:
        wanted.append(("net.ipv6.conf.all.forwarding", "1", "IPv6 NAT replies are routed "
                       "through the director"))
    if conntrack:
        wanted.append(("net.ipv4.vs.conntrack", "1", "netfilter sees IPVS connections"))
    return wanted


def nat_families(config_path: str) -> tuple[bool, bool]:
    from haipvs.config import load_config

    config = load_config(config_path)
    v4 = v6 = False
    for vs in config.virtual_servers:
        kinds = {vs.effective_lb_kind(rs) for rs in vs.real_servers} or {vs.lb_kind}
        if "NAT" in kinds:
            v4 |= vs.ip_family == 4
            v6 |= vs.ip_family == 6
    return v4, v6


def apply_settings(wanted: list[tuple[str, str, str]], dry_run: bool,
                   root: Path = PROC_SYS) -> list[Outcome]:
    outcomes = []
    for name, value, why in wanted:
        path = sysctl_path(name, root)
        if not path.exists():
            reason = "this kernel has no IPVS" if ".vs." in name else "not in this kernel"
            outcomes.append(Outcome(name, "skipped", f"({reason})"))
            continue
        current = path.read_text().strip()
        if current == value:
            outcomes.append(Outcome(name, "already", f"= {value}"))
            continue
        if not dry_run:
            path.write_text(f"{value}\n")
        outcomes.append(Outcome(name, "would change" if dry_run else "changed",
                                f"{current} -> {value} ({why})"))
    return outcomes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", metavar="CONFIG",
                        help="haipvs config: forwarding is enabled for the families of its NAT "
                        "services (default: act as --nat)")
    parser.add_argument("--nat", action="store_true", help="enable IPv4 forwarding")
    parser.add_argument("--bgp", action="store_true",
                        help="scale-out directors (bgp VIPs on lo): arp_ignore=1, "
                        "arp_announce=2 on all and lo")
    parser.add_argument("--conntrack", action="store_true",
                        help="net.ipv4.vs.conntrack=1 (when the kernel has IPVS)")
    parser.add_argument("--dry-run", action="store_true", help="report only, change nothing")


def run(args: argparse.Namespace) -> int:
    from haipvs.config import ConfigError

    nat_v4, nat_v6 = args.nat, False
    if args.file:
        try:
            file_v4, nat_v6 = nat_families(args.file)
        except ConfigError as exc:
            for issue in exc.issues:
                print(issue, file=sys.stderr)
            return 1
        nat_v4 = nat_v4 or file_v4
    elif not args.conntrack and not args.bgp:
        nat_v4 = True
    wanted = wanted_settings(nat_v4, nat_v6, args.conntrack, args.bgp)
    if not wanted:
        print("nothing to do: the config has no NAT services (DR/TUN directors need no "
              "forwarding)")
        return 0
    try:
        outcomes = apply_settings(wanted, args.dry_run)
    except OSError as exc:
        print(f"haipvs director-setup: {exc}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        print(outcome)
    return 0
