"""Advert punctuality while the rest of the process burns CPU (the timer-safety claim).

Three senders run side by side in one network namespace, each a VRRPv3 owner (priority 255,
so MASTER at once) with its own VRID, advertising every `--interval` seconds:

  haipvs-thread   haipvs' design: the VRRP runtime in its own thread and trio loop, while
                  the main trio loop burns CPU the way a busy checker load would;
  haipvs-shared   the naive design, for contrast: the same runtime on the busy loop itself;
  keepalived      keepalived 2.2.7 (its checkers live in another process).

Adverts are sniffed on the far end of a veth pair with kernel timestamps. Lateness of an
advert = (gap since the previous advert of that sender) - interval. Also reported: how late
the runtime's own advert timers fired (deadline -> wake-up), from inside the process.

    sudo .venv/bin/python bench/vrrp_timers.py --seconds 20 --interval 0.05
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import gc
import ipaddress
import itertools
import os
import shutil
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from haipvs import limits, thread_priority

VRID_THREAD, VRID_SHARED, VRID_KEEPALIVED = 11, 12, 13
ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35


def sh(*args: str) -> None:
    subprocess.run(args, check=True)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summarise(name: str, values_s: list[float]) -> str:
    if not values_s:
        return f"| {name} | 0 | - | - | - |"
    ms = [v * 1000 for v in values_s]
    return (
        f"| {name} | {len(ms)} | {statistics.median(ms):.2f} | "
        f"{percentile(ms, 0.99):.2f} | {max(ms):.2f} |"
    )


class Sniffer(threading.Thread):
    """Kernel-timestamped VRRP adverts seen on one interface, by VRID."""

    def __init__(self, ifname: str) -> None:
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind((ifname, 0))
        self.sock.settimeout(0.2)
        self.seen: dict[int, list[float]] = {}
        self.stop = False

    def run(self) -> None:
        while not self.stop:
            try:
                data, anc, _flags, _addr = self.sock.recvmsg(2048, 64)
            except TimeoutError:
                continue
            if len(data) < 14 + 20 + 8 or data[12:14] != b"\x08\x00" or data[14 + 9] != 112:
                continue
            stamp = time.time()
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                    sec, nsec = struct.unpack("qq", value[:16])
                    stamp = sec + nsec / 1e9
            ihl = (data[14] & 0x0F) * 4
            vrid = data[14 + ihl + 1]
            self.seen.setdefault(vrid, []).append(stamp)


def gaps_lateness(stamps: list[float], interval: float, skip: int = 5) -> list[float]:
    stamps = stamps[skip:]
    return [max(0.0, (b - a) - interval) for a, b in itertools.pairwise(stamps)]


def burn(chunk_s: float) -> int:
    """CPU work for about `chunk_s` without yielding, like a CPU-heavy checker batch."""
    end = time.perf_counter() + chunk_s
    acc = 0
    while time.perf_counter() < end:
        for i in range(2000):
            acc = (acc * 31 + i) % 1_000_003
    return acc


def keepalived_config(ifname: str, interval: float) -> str:
    return f"""
global_defs {{
    router_id bench
    enable_script_security
}}
vrrp_instance BENCH {{
    state MASTER
    interface {ifname}
    virtual_router_id {VRID_KEEPALIVED}
    priority 255
    advert_int {interval}
    version 3
    virtual_ipaddress {{
        192.0.2.213/32
    }}
}}
"""


def inside(args: argparse.Namespace) -> None:
    """Runs inside the benchmark namespace."""
    import trio

    from haipvs.drivers.addresses import Vip
    from haipvs.drivers.netlink_thread import NetlinkThread
    from haipvs.drivers.vrrp_runtime import InstanceBinding, VrrpRuntime
    from haipvs.vrrp.params import GarpParams, InstanceParams

    def binding(vrid: int, vip: str) -> InstanceBinding:
        params = InstanceParams(
            name=f"bench{vrid}",
            vrid=vrid,
            vips=(ipaddress.ip_address(vip),),
            base_priority=255,
            advert_int=args.interval,
            version=3,
            garp=GarpParams(master_delay=0, master_repeat=1),
        )
        vip_spec = Vip(ipaddress.ip_interface(f"{vip}/32"), "eth0")
        return InstanceBinding(params=params, ifname="eth0", vips=(vip_spec,))

    def make_rtnl():  # the daemon's rtnetlink owner object (haipvs/daemon.py)
        from haipvs.drivers.rtnl_socket import RtnlSocket

        return RtnlSocket()

    sniffer = Sniffer("eth1")
    sniffer.start()
    workdir = Path(tempfile.mkdtemp(prefix="haipvs-bench-"))
    keepalived = None
    if shutil.which("keepalived"):
        conf = workdir / "keepalived.conf"
        conf.write_text(keepalived_config("eth0", args.interval))
        keepalived = subprocess.Popen(
            [
                "keepalived",
                "-n",
                "-l",
                "-P",
                "-f",
                str(conf),
                "-p",
                str(workdir / "k.pid"),
                "-r",
                str(workdir / "v.pid"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:  # a failed set-up must not leave keepalived running (the finally below is later)
        rtnl = NetlinkThread(make_rtnl, name="rtnl")
        rtnl.start()
        threaded = VrrpRuntime([binding(VRID_THREAD, "192.0.2.211")], rtnl, lambda e: None)
        # The daemon keeps the last TIMER_LATENESS_KEPT; the benchmark wants every timer.
        threaded.timer_lateness = collections.deque(maxlen=None)
        shared = VrrpRuntime([binding(VRID_SHARED, "192.0.2.212")], rtnl, lambda e: None)
        threaded.start()
        # as the daemon does (haipvs/thread_priority.py): the VRRP thread's nice, main at 0
        thread_priority.apply(args.vrrp_priority, limits.CHECKER_PRIORITY_DEFAULT,
                              threaded.thread_id)
    except BaseException:
        if keepalived is not None:
            keepalived.terminate()
            keepalived.wait(10)
        sniffer.stop = True
        shutil.rmtree(workdir, ignore_errors=True)
        raise

    checks_done = [0]

    async def checker_load(stop_at: float) -> None:
        """The real health engine probing `--servers` TCP real servers every second."""
        import resource

        import checkers as checker_bench  # bench/checkers.py

        from haipvs.health import HealthEngine

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
        listeners, ports = checker_bench.deferred_listeners()
        if not args.no_gc_freeze:
            gc.disable()  # as the daemon does while it starts (haipvs/daemon.py)
        plan = checker_bench.make_plan("tcp", args.servers, 1.0, ports)
        engine = HealthEngine(plan, max_spread=1.0)
        try:
            async with trio.open_nursery() as nursery:
                await nursery.start(engine.run)
                if not args.no_gc_freeze:
                    gc.freeze()  # as the daemon does once started (haipvs/daemon.py)
                    gc.enable()
                await trio.sleep_until(trio.current_time() + (stop_at - time.monotonic()))
                checks_done[0] = sum(c["runs"] for s in engine.snapshot() for c in s["checks"])
                nursery.cancel_scope.cancel()
        finally:
            for listener in listeners:
                listener.close()

    async def main() -> None:
        stop_at = time.monotonic() + args.seconds
        async with trio.open_nursery() as nursery:
            nursery.start_soon(shared._main)
            if args.load == "checkers":
                await checker_load(stop_at)
            else:
                while time.monotonic() < stop_at:
                    burn(args.chunk)
                    await trio.sleep(0)  # a checkpoint between chunks, as checker tasks have
            shared.request_shutdown()

    try:
        trio.run(main)
    finally:
        threaded.request_shutdown()
        threaded.join(5)
        rtnl.close()
        if keepalived is not None:
            keepalived.terminate()
            keepalived.wait(10)
        sniffer.stop = True
        sniffer.join(2)
        shutil.rmtree(workdir, ignore_errors=True)

    lateness_timer = [v for name, v in threaded.timer_lateness if name == "advert"]
    if args.load == "checkers":
        load = (
            f"main loop running {args.servers} TCP health checks at delay_loop 1 s "
            f"({checks_done[0] / args.seconds:.0f} checks/s done)"
        )
    else:
        load = f"main loop burning CPU in {args.chunk * 1000:.0f} ms chunks"
    thread_wire = gaps_lateness(sniffer.seen.get(VRID_THREAD, []), args.interval)
    keepalived_wire = gaps_lateness(sniffer.seen.get(VRID_KEEPALIVED, []), args.interval)
    lines = [
        f"Advert lateness, interval {args.interval * 1000:.0f} ms, {args.seconds:.0f} s, "
        f"{load} (ms):",
        "",
        "| sender | adverts | p50 | p99 | max |",
        "|---|---|---|---|---|",
        summarise(
            "haipvs, VRRP thread (wire)",
            gaps_lateness(sniffer.seen.get(VRID_THREAD, []), args.interval),
        ),
        summarise("haipvs, VRRP thread (timer wake-up)", lateness_timer[5:]),
        summarise(
            "haipvs, VRRP on the busy loop (wire)",
            gaps_lateness(sniffer.seen.get(VRID_SHARED, []), args.interval),
        ),
        summarise(
            "keepalived 2.2.7, own process (wire)",
            gaps_lateness(sniffer.seen.get(VRID_KEEPALIVED, []), args.interval),
        ),
    ]
    if args.load == "checkers":  # issue 18 sets goals for checker load and for none
        lines += ["", goal_line(args.servers == 0, thread_wire, keepalived_wire)]
    else:
        lines += ["", "goal: none for a CPU burn (issue 18 judges checker load and no load)"]
    print("\n".join(lines))


def goal_line(no_load: bool, haipvs: list[float], keepalived: list[float]) -> str:
    """Issue 18's goals for the VRRP thread on the wire: p50 <= 0.1 ms, and p99 <= 1 ms with
    no load, else p99 <= keepalived's p99 in the same run."""
    if not haipvs or (not no_load and not keepalived):
        return "goal: not judged (no samples)"
    p50, p99 = statistics.median(haipvs) * 1000, percentile(haipvs, 0.99) * 1000
    if no_load:
        bound, what = 1.0, "the no-load bound"
    else:
        bound, what = percentile(keepalived, 0.99) * 1000, "keepalived's p99"
    return (f"goal (haipvs VRRP thread, wire): p50 {p50:.2f} ≤ 0.1 ms "
            f"{'✓' if p50 <= 0.1 else '✗'}; p99 {p99:.2f} ≤ {what} {bound:.2f} ms "
            f"{'✓' if p99 <= bound else '✗'}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=0.05)
    parser.add_argument("--chunk", type=float, default=0.02, help="CPU burn chunk, seconds")
    parser.add_argument(
        "--load",
        choices=("burn", "checkers"),
        default="burn",
        help="what the main loop does: burn CPU, or run real health checks",
    )
    parser.add_argument(
        "--servers", type=int, default=10_000, help="real servers checked with --load checkers"
    )
    parser.add_argument("--no-gc-freeze", action="store_true",
                        help="collect garbage while the checkers start and do not freeze "
                        "their objects out of the GC after (the daemon does both)")
    parser.add_argument("--vrrp-priority", type=int, default=limits.VRRP_PRIORITY_DEFAULT,
                        help="nice value of the VRRP thread, global.vrrp_priority (default: "
                        "the daemon's)")
    parser.add_argument("--inside", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside:
        inside(args)
        return 0
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    ns = f"hb-timers-{uuid.uuid4().hex[:6]}"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", "eth1")
        sh("ip", "-n", ns, "addr", "add", "192.0.2.1/24", "dev", "eth0")
        for ifname in ("lo", "eth0", "eth1"):
            sh("ip", "-n", ns, "link", "set", ifname, "up")
        options = [
            "--seconds", str(args.seconds), "--interval", str(args.interval),
            "--chunk", str(args.chunk), "--load", args.load, "--servers", str(args.servers),
            *(["--no-gc-freeze"] if args.no_gc_freeze else []),
            "--vrrp-priority", str(args.vrrp_priority),
        ]  # fmt: skip
        cmd = ["ip", "netns", "exec", ns, sys.executable, __file__, "--inside", *options]
        print("command: sudo .venv/bin/python bench/vrrp_timers.py " + " ".join(options))
        return subprocess.run(cmd).returncode
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            sh("ip", "netns", "del", ns)


if __name__ == "__main__":
    raise SystemExit(main())
