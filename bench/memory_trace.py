"""Diagnosis for bench/memory.py: the same daemon under tracemalloc, one snapshot.

    sudo .venv/bin/python bench/memory_trace.py --servers 10000 --at 200 [--out trace.txt]

The daemon runs under a wrapper that starts tracemalloc (3 frames) and, `--at` seconds after
start (after the first round of checks), writes the live Python allocations grouped by
source line, by source line and two callers for groups of at least servers/2 blocks (the
per-server candidates), by traceback, and the object counts by type. tracemalloc roughly
doubles the memory of what it traces: read the groups, not the VmRSS.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

import memory  # noqa: E402  (bench/memory.py, on sys.path as the script's directory)

from integration.harness.proc import Proc  # noqa: E402
from integration.test_ops_support import OpsNode  # noqa: E402

TRACER = r"""
import gc, sys, threading, time, tracemalloc
from collections import Counter
out_path, at, min_count = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
sys.argv = ["haipvs", *sys.argv[4:]]
tracemalloc.start(3)

def dump():
    time.sleep(at)
    gc.collect()
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__)])
    lines = [f"traced {tracemalloc.get_traced_memory()[0] / 1024:.0f} KiB"]
    lines.append("== by line")
    for stat in snapshot.statistics("lineno")[:40]:
        lines.append(f"{stat.size / 1024:9.1f} KiB {stat.count:8d}  {stat.traceback[0]}")
    lines.append(f"== by line and caller, {min_count}+ blocks (per-server candidates)")
    for stat in snapshot.statistics("traceback"):
        if stat.count >= min_count:
            where = " < ".join(str(frame) for frame in list(stat.traceback)[-1:-4:-1])
            lines.append(f"{stat.size / 1024:9.1f} KiB {stat.count:8d}  {where}")
    lines.append("== by traceback")
    for stat in snapshot.statistics("traceback")[:10]:
        lines.append(f"{stat.size / 1024:9.1f} KiB {stat.count:8d}")
        lines.extend(f"      {frame}" for frame in stat.traceback)
    gc.unfreeze()
    types = Counter(type(o).__name__ for o in gc.get_objects())
    lines.append("== by type (gc-tracked)")
    lines.extend(f"{n:9d}  {name}" for name, n in types.most_common(50))
    with open(out_path, "w") as out:
        out.write("\n".join(lines) + "\n")

threading.Thread(target=dump, name="memtrace", daemon=True).start()
from haipvs.cli import main
sys.exit(main())
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=10000)
    # seconds after the daemon starts; start-up at 10,000 servers takes well over a minute
    # under tracemalloc, so the default (delay_loop + 60 s) is too early there: --at 200
    parser.add_argument("--at", type=float, default=None)
    parser.add_argument("--out", default="memory-trace.txt")
    args = parser.parse_args()
    at = args.at if args.at is not None else memory.delay_loop(args.servers) + 60.0
    out = Path(args.out).resolve()

    def start(self: OpsNode) -> OpsNode:
        argv = [sys.executable, "-c", TRACER, str(out), str(at), str(args.servers // 2),
                "--config",
                str(self.conf_path), "--state-dir", str(self.state_dir), "--pid-file",
                str(self.pid_path), "--log-format", "json"]
        self.runs += 1
        self.proc = Proc(self.node.netns, argv, self.log_path, name=f"haipvs-{self.node.name}")
        return self

    OpsNode.start = start  # type: ignore[method-assign]
    wait_until = memory.wait_until  # start-up under tracemalloc is several times slower
    memory.wait_until = lambda check, timeout, **kw: wait_until(check, timeout * 5, **kw)
    tmp = tempfile.mkdtemp(prefix="haipvs-memtrace-")  # kept: the daemon's log is there
    print(f"work directory {tmp}", flush=True)
    # measure() samples RSS until `at` + 5 s, then stops the daemon: the trace is written by then
    row = memory.measure(args.servers, max(at - memory.delay_loop(args.servers), 0) + 5,
                         Path(tmp))
    deadline = time.monotonic() + 30
    while not out.exists() and time.monotonic() < deadline:
        time.sleep(1)
    print(f"{row['servers']} servers, {row['up']} up; trace in {out}")


if __name__ == "__main__":
    main()
