"""track_process: proc connector vs polling /proc (issue 15; results in docs/benchmarks.md).

    sudo .venv/bin/python bench/track_process.py [--extra 0,300,1000] [--repeat 10]

1. Cost of one /proc walk (what a poll costs, and what haipvs does at start and after lost
   events) with the machine's processes plus N extra sleepers, comm only and with cmdline.
2. Latency of a tracked process's exit being told (SIGKILL -> set_tracker call), with the
   proc connector and with 1 s polling.
3. Cost per process event on the connector path (decode + ProcessTable.handle), for the
   fork/exec/exit of one untracked short-lived process (what a busy host pays).

Every process it starts is its own (by PID) and is killed before it exits.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import struct
import subprocess
import tempfile
import time
from pathlib import Path

import trio

from haipvs.config.loader import load_config_text
from haipvs.drivers import proc_watch
from haipvs.drivers.proc_watch import ProcWatch, decode, scan_proc
from haipvs.policy.process_track import ProcessSpec, ProcessTable, Scan


def sleepers(binary: Path, n: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([str(binary), "600"]) for _ in range(n)]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        if p.poll() is None:
            p.kill()
    for p in procs:
        p.wait(10)


def walk_cost(extra: list[int], repeat: int, binary: Path) -> None:
    print("| processes in /proc | walk, comm only (ms) | walk, with cmdline (ms) |")
    print("|---|---|---|")
    for n in extra:
        procs = sleepers(binary, n)
        try:
            time.sleep(0.5)
            count = len(scan_proc(False))
            costs = {}
            for cmdline in (False, True):
                samples = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    scan_proc(cmdline)
                    samples.append((time.perf_counter() - t0) * 1000)
                costs[cmdline] = statistics.median(samples)
            print(f"| {count} | {costs[False]:.2f} | {costs[True]:.2f} |")
        finally:
            stop(procs)


CONFIG = """
global: {{}}
vrrp_track_processes: [{{name: p, process: {comm}, weight: 0}}]
vrrp_instances:
  - {{name: VI_1, interface: eth0, virtual_router_id: 51, priority: 100,
     virtual_ipaddress: [192.0.2.1/24], track_process: [p]}}
"""


def exit_latency(mode: str, repeat: int, binary: Path) -> list[float]:
    if mode == "poll":
        def refused():
            raise OSError(111, "polling measured")
        proc_watch.open_connector = refused  # type: ignore[assignment]
    config = load_config_text(CONFIG.format(comm=binary.name), "bench.yaml")
    out: list[float] = []

    async def main() -> None:
        told: list[tuple[float, str | None]] = []

        def publish(instance, source, *, delta=0, fault=None):
            told.append((time.monotonic(), fault))

        for _ in range(repeat):
            proc = subprocess.Popen([str(binary), "600"])
            try:
                time.sleep(0.05)
                watch = ProcWatch(config, publish)
                watch.preset(publish)
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(watch.run)
                    while watch.mode != mode:
                        await trio.sleep(0.01)
                    await trio.sleep(0.3 + (len(out) % 10) / 10)  # spread over the poll period
                    told.clear()
                    killed = time.monotonic()
                    proc.kill()
                    while not told:
                        await trio.sleep(0.0005)
                    out.append((told[0][0] - killed) * 1000)
                    nursery.cancel_scope.cancel()
            finally:
                stop([proc])

    trio.run(main)
    return out


def event_cost(repeat: int) -> float:
    """µs per fork+exec+exit of an untracked process through decode + handle."""
    table = ProcessTable((ProcessSpec("p", "no-such-comm"),))
    table.handle(0.0, Scan(scan_proc(False)))
    pid = os.getpid()

    def message(what: int, data: bytes) -> bytes:
        head = struct.pack("=IHHII", 52 + len(data), 3, 0, 0, 0)
        return (head + struct.pack("=IIIIHH", 1, 1, 0, 0, 16 + len(data), 0)
                + struct.pack("=IIQ", what, 0, 0) + data)

    fork = message(proc_watch.PROC_EVENT_FORK, struct.pack("=iiii", 1, 1, pid, pid))
    exe = message(proc_watch.PROC_EVENT_EXEC, struct.pack("=ii", pid, pid))
    ext = message(proc_watch.PROC_EVENT_EXIT, struct.pack("=iiII", pid + 1, pid + 1, 0, 9))
    t0 = time.perf_counter()
    for _ in range(repeat):
        for msg in (fork, exe, ext):
            event = decode(msg, False)
            if event is not None:
                table.handle(1.0, event)
    return (time.perf_counter() - t0) / repeat * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--extra", default="0,300,1000")
    parser.add_argument("--repeat", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        binary = Path(tmp) / f"bnch{os.getpid() % 100000}"
        shutil.copy(shutil.which("sleep") or "/bin/sleep", binary)
        walk_cost([int(n) for n in args.extra.split(",")], args.repeat, binary)
        print()
        events = exit_latency("events", args.repeat, binary)
        polls = exit_latency("poll", args.repeat, binary)
        print("| exit told after SIGKILL (ms) | median | min | max |")
        print("|---|---|---|---|")
        for name, xs in (("proc connector", events), ("polling /proc every 1 s", polls)):
            print(f"| {name} | {statistics.median(xs):.2f} | {min(xs):.2f} | {max(xs):.2f} |")
        print()
        print(f"connector path: {event_cost(20000):.1f} µs per fork+exec+exit of an "
              "untracked process (decode + ProcessTable.handle, exec reads /proc/PID/stat)")


if __name__ == "__main__":
    main()
