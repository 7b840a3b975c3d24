"""Benchmark: program 1,000 services x 10 real servers into an empty IPVS table.

Runs inside the qemu guest (real IPVS):

    integration/qemu/run-in-guest -- .venv/bin/python bench/ipvs_program.py

Compares haipvs' reconciler (batched fast path, and one request per op) with `ipvsadm -R` of
the same rules, each in a fresh network namespace, and times a no-op reconcile of the full
table. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import subprocess
import sys
import time

import structlog
import trio

from haipvs.ipvs.model import Destination, ForwardMethod, IpvsTable, Service, ServiceKey
from haipvs.ipvs.netlink import NetlinkIpvs
from haipvs.ipvs.reconcile import Reconciler


def build_table(services: int, per_service: int) -> IpvsTable:
    out = []
    base = int(ipaddress.ip_address("10.0.0.0"))  # VIPs need no route; only real servers do
    for i in range(services):
        vip = str(ipaddress.ip_address(base + i))
        out.append(Service(
            ServiceKey.inet("tcp", vip, 80), "wrr",
            destinations=tuple(Destination(f"198.51.100.{10 + j}", 8000 + i % 1000,
                                           ForwardMethod.NAT, 1 + j % 3)
                               for j in range(per_service)),
        ))
    return IpvsTable(tuple(out))


def ipvsadm_rules(table: IpvsTable) -> str:
    lines = []
    for svc in table:
        vip = f"{svc.key.address}:{svc.key.port}"
        lines.append(f"-A -t {vip} -s {svc.scheduler}")
        lines += [f"-a -t {vip} -r {d.address}:{d.port} -m -w {d.weight}"
                  for d in svc.destinations]
    return "\n".join(lines) + "\n"


def new_director() -> str:
    name = f"hvbench-{secrets.token_hex(3)}"
    for cmd in (["ip", "netns", "add", name],
                ["ip", "-n", name, "link", "set", "lo", "up"],
                ["ip", "-n", name, "link", "add", "rs0", "type", "dummy"],
                ["ip", "-n", name, "link", "set", "rs0", "up"],
                ["ip", "-n", name, "addr", "add", "198.51.100.1/24", "dev", "rs0"]):
        subprocess.run(cmd, check=True)
    return name


def delete(name: str) -> None:
    subprocess.run(["ip", "netns", "del", name], capture_output=True)


async def run_haipvs(table: IpvsTable, batched: bool) -> tuple[float, int, float]:
    ns = new_director()
    rec = Reconciler(netns=ns, batch_threshold=200 if batched else 10**9, ops_log_size=10)
    try:
        rec.set_desired(table)
        await rec.call(NetlinkIpvs.get_info)  # open the socket outside the timing
        start = time.perf_counter()
        result = await rec.reconcile()
        elapsed = time.perf_counter() - start
        assert rec.state == "ok", rec.error
        assert await rec.call(NetlinkIpvs.dump) == table
        start = time.perf_counter()
        assert not await rec.reconcile()
        noop = time.perf_counter() - start
        return elapsed, len(result), noop
    finally:
        rec.close()
        delete(ns)


def run_ipvsadm(table: IpvsTable) -> float:
    ns = new_director()
    try:
        rules = ipvsadm_rules(table)
        start = time.perf_counter()
        subprocess.run(["ip", "netns", "exec", ns, "ipvsadm", "-R"], input=rules, text=True,
                       check=True)
        elapsed = time.perf_counter() - start
        out = subprocess.run(["ip", "netns", "exec", ns, "ipvsadm", "-Ln"], capture_output=True,
                             text=True, check=True).stdout
        assert out.count("  -> ") - 1 == sum(len(s.destinations) for s in table)  # minus header
        return elapsed
    finally:
        delete(ns)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--per-service", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="best of N")
    args = parser.parse_args()
    if os.environ.get("HAIPVS_GUEST") != "1":
        print("note: not in the qemu guest; this needs a kernel with IPVS", file=sys.stderr)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    table = build_table(args.services, args.per_service)
    ops = args.services * (1 + args.per_service)

    fast, slow, noops, admin = [], [], [], []
    for _ in range(args.rounds):
        elapsed, count, noop = await run_haipvs(table, batched=True)
        assert count == ops
        fast.append(elapsed)
        noops.append(noop)
        slow.append((await run_haipvs(table, batched=False))[0])
        admin.append(run_ipvsadm(table))
        print(f"round: fast {fast[-1]:.3f} slow {slow[-1]:.3f} noop {noops[-1]:.3f}"
              f" ipvsadm {admin[-1]:.3f}", file=sys.stderr)
    best = {name: min(v) for name, v in
            (("fast", fast), ("slow", slow), ("noop", noops), ("admin", admin))}

    print(f"Programming {args.services} services x {args.per_service} real servers "
          f"({ops} ops) into an empty table, best of {args.rounds}, "
          f"{os.cpu_count()} vCPU guest:\n")
    print("| method | time (s) | ops/s | ratio to ipvsadm -R |")
    print("|---|---:|---:|---:|")
    for label, key in (("`ipvsadm -R`", "admin"),
                       ("haipvs reconcile (batched writes)", "fast"),
                       ("haipvs reconcile (one request per op)", "slow")):
        t = best[key]
        print(f"| {label} | {t:.3f} | {ops / t:,.0f} | {t / best['admin']:.2f} |")
    print(f"| haipvs no-op reconcile (dump + plan, {ops} objects) | {best['noop']:.3f} | "
          f"- | - |")


if __name__ == "__main__":
    trio.run(main)
