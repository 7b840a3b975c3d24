"""Failover timing on the wire: keepalived 2.2.7 vs haipvs, same netns set-up.

    .venv/bin/python bench/failover.py [--repeat 5] [--version 2] [--kinds keepalived,haipvs]

Each trial builds a fresh LAN (bridge netns + two node netns), starts a priority-150 master
and a priority-100 backup (advert_int 1 s), and times from kernel timestamps taken by an
AF_PACKET sniffer on the bridge:

- silent:  SIGKILL the master; from its last advert to the backup's first advert,
           divided by Master_Down_Interval (3 + Skew_Time; 3.609 s for priority 100).
- prio0:   SIGTERM the master; from its priority-0 advert to the backup's first advert,
           minus Skew_Time (0.609 s).
- garp:    from the new master's first advert to its first gratuitous ARP for the VIP
           (both scenarios pooled).

Prints a markdown table with haipvs/keepalived ratios. Needs root; haipvs is skipped with a
message until its daemon is built. Traffic stays inside the namespaces it creates.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:  # run as a script: bench/ is on sys.path, the repo is not
    sys.path.insert(0, str(REPO_ROOT))

from integration.harness import cleanup  # noqa: E402
from integration.harness.haipvs import HaipvsNode, haipvs_unavailable_reason  # noqa: E402
from integration.harness.instance import VrrpInstance  # noqa: E402
from integration.harness.keepalived import KeepalivedNode, keepalived_binary  # noqa: E402
from integration.harness.measure import (  # noqa: E402
    Takeover,
    priority_zero_takeover,
    silent_master_takeover,
)
from integration.harness.requirements import netns_unavailable_reason  # noqa: E402
from integration.harness.sniffer import Sniffer  # noqa: E402
from integration.harness.topology import Lan  # noqa: E402
from integration.harness.vrrp import master_down_interval, skew_time  # noqa: E402

NODE_CLASSES = {"keepalived": KeepalivedNode, "haipvs": HaipvsNode}
VIP = "192.0.2.100/24"
HIGH, LOW = 150, 100


def unavailable(kind: str) -> str | None:
    if kind == "haipvs":
        return haipvs_unavailable_reason()
    return None if keepalived_binary() else "keepalived is not installed"


def run_trial(kind: str, scenario: str, version: int, workdir: Path) -> Takeover:
    """One fresh topology, one failover; the measurement comes from the bridge sniffer."""
    base = VrrpInstance(version=version, password="1111" if version == 2 else None,
                        advert_int=1.0, vips=(VIP,))
    node_class = NODE_CLASSES[kind]
    with Lan(prefix="hvb") as lan, Sniffer(lan.bridge_ns.name, lan.bridge) as sniffer:
        node_a, node_b = lan.add_node("a"), lan.add_node("b")
        master = node_class(node_a, workdir, [base.but(priority=HIGH, state="MASTER")])
        backup = node_class(node_b, workdir, [base.but(priority=LOW)])
        try:
            master.start().wait_started()
            master.wait_state("MASTER", 8)
            backup.start().wait_started()
            backup.wait_state("BACKUP", 5)
            if scenario == "silent":
                result = silent_master_takeover(sniffer, node_a, node_b, VIP, master.kill)
            else:
                result = priority_zero_takeover(sniffer, node_a, node_b, VIP,
                                                lambda: master.stop(timeout=5))
            backup.wait_state("MASTER", 3)
            return result
        finally:
            for daemon in (backup, master):
                if daemon.proc is not None:
                    daemon.proc.stop(timeout=3)


def measure(kind: str, repeat: int, version: int) -> dict[str, list[float]]:
    mdi = master_down_interval(LOW, 1.0, version)
    skew = skew_time(LOW, 1.0, version)
    samples: dict[str, list[float]] = {key: [] for key, _label, _fmt in ROWS}
    with tempfile.TemporaryDirectory(prefix=f"failover-{kind}-") as tmp:
        for trial in range(repeat):
            for scenario in ("silent", "prio0"):
                result = run_trial(kind, scenario, version, Path(tmp) / f"{scenario}{trial}")
                if scenario == "silent":
                    samples["silent_s"].append(result.takeover)
                    samples["silent_ratio"].append(result.takeover / mdi)
                else:
                    samples["prio0_s"].append(result.takeover)
                    samples["prio0_minus_skew_ms"].append((result.takeover - skew) * 1000)
                if result.garp_delay is not None:
                    samples["garp_ms"].append(result.garp_delay * 1000)
                print(f"  {kind} {scenario} #{trial + 1}: takeover {result.takeover:.4f} s, "
                      f"GARP +{(result.garp_delay or float('nan')) * 1000:.1f} ms",
                      file=sys.stderr)
    return samples


ROWS = [
    ("silent_ratio", "silent takeover ÷ Master_Down_Interval", "{:.4f}"),
    ("silent_s", "silent takeover (s)", "{:.4f}"),
    ("prio0_minus_skew_ms", "prio-0 takeover − Skew_Time (ms)", "{:.1f}"),
    ("prio0_s", "prio-0 takeover (s)", "{:.4f}"),
    ("garp_ms", "first GARP after first advert (ms)", "{:.2f}"),
]


# Issue 18's goals, judged on haipvs's samples: (text, test on the samples)
GOALS = {
    "silent_ratio": ("median ≤ 1.0002, never early",
                     lambda v: statistics.median(v) <= 1.0002 and min(v) >= 1.0),
    "prio0_minus_skew_ms": ("median ≤ 0.5", lambda v: statistics.median(v) <= 0.5),
    "garp_ms": ("median ≤ 0.3, max ≤ 0.6",
                lambda v: statistics.median(v) <= 0.3 and max(v) <= 0.6),
}


def goal_cell(key: str, values: list[float], fmt: str) -> str:
    """The goal, haipvs's median and ✓/✗ (empty for a row without a goal)."""
    if key not in GOALS or not values:
        return ""
    text, met = GOALS[key]
    return (f"{text}: median {fmt.format(statistics.median(values))} "
            f"{'✓' if met(values) else '✗'}")


def _cell(values: list[float], fmt: str) -> str:
    if not values:
        return "n/a"
    return (f"{fmt.format(statistics.mean(values))} "
            f"({fmt.format(min(values))}–{fmt.format(max(values))})")


def render_table(results: dict[str, dict[str, list[float]]], repeat: int, version: int) -> str:
    kinds = list(results)
    header = ["metric", *(f"{k} mean (min–max)" for k in kinds)]
    if len(kinds) == 2:
        header.append(f"{kinds[1]}/{kinds[0]}")
    judged = "haipvs" in kinds
    if judged:
        header.append("goal (haipvs)")
    lines = [f"Failover, VRRPv{version}, advert_int 1 s, priorities {HIGH}/{LOW}, "
             f"{repeat} trials each (Master_Down_Interval "
             f"{master_down_interval(LOW, 1.0, version):.3f} s, Skew_Time "
             f"{skew_time(LOW, 1.0, version):.3f} s)", "",
             "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for key, label, fmt in ROWS:
        row = [label, *(_cell(results[k][key], fmt) for k in kinds)]
        if len(kinds) == 2:
            a, b = results[kinds[0]][key], results[kinds[1]][key]
            mean_a = statistics.mean(a) if a else 0.0
            row.append(f"{statistics.mean(b) / mean_a:.3f}" if a and b and mean_a > 0
                       else "n/a")
        if judged:
            row.append(goal_cell(key, results["haipvs"][key], fmt))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="trials per scenario (default 5)")
    parser.add_argument("--version", type=int, choices=(2, 3), default=2)
    parser.add_argument("--kinds", default="keepalived,haipvs",
                        help="comma-separated: keepalived, haipvs")
    parser.add_argument("--json", type=Path, help="also write the raw samples here")
    args = parser.parse_args(argv)
    if not 1 <= args.repeat <= 50:
        parser.error("--repeat must be between 1 and 50")
    reason = netns_unavailable_reason()
    if reason:
        print(f"failover bench skipped: {reason}", file=sys.stderr)
        return 0
    results: dict[str, dict[str, list[float]]] = {}
    try:
        for kind in args.kinds.split(","):
            if kind not in NODE_CLASSES:
                parser.error(f"unknown kind {kind!r}")
            why = unavailable(kind)
            if why:
                print(f"skipping {kind}: {why}", file=sys.stderr)
                continue
            results[kind] = measure(kind, args.repeat, args.version)
    finally:
        cleanup.run_all()
    if not results:
        return 0
    print(render_table(results, args.repeat, args.version))
    if args.json:
        with contextlib.suppress(OSError):
            args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
