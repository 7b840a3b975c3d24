"""Draw bench/soak.py's samples: fds, threads, trio tasks and RSS over time for each daemon.

    .venv/bin/python bench/plot_soak.py [--csv docs/soak/soak.csv] [--out docs/soak.png]

Needs matplotlib (`pip install -e '.[bench]'`). The warm-up (the reference for growth) is
read from summary.json next to the CSV and shaded.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from collections import defaultdict
from pathlib import Path

# (title, [(CSV column, label suffix, line style)], y label); one panel each.
PANELS = [
    ("open fds", [("fds", "all", "-"), ("genl_sockets", "NETLINK_GENERIC sockets", "--")],
     "fds"),
    ("OS threads", [("os_threads", "", "-")], "threads"),
    ("trio tasks", [("main_loop_tasks", "main loop", "-"), ("vrrp_loop_tasks", "VRRP loop",
                                                            "--")], "tasks"),
    ("RSS", [("rss_kib", "", "-")], "MiB"),
]
COLOURS = {"d1": "tab:blue", "d2": "tab:orange"}


def read_samples(csv_path: Path) -> dict[str, dict[str, list[float]]]:
    """daemon -> column -> values (numeric columns only), in file order."""
    series: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    with open(csv_path, newline="") as handle:
        for row in csv.DictReader(handle):
            for column, value in row.items():
                try:
                    series[row["daemon"]][column].append(float(value))
                except ValueError:
                    continue
    return series


def plot(csv_path: Path, out: Path, warmup: float | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary_path = csv_path.with_name("summary.json")
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    if warmup is None:
        warmup = summary.get("warmup_s")
    series = read_samples(csv_path)
    figure, axes = plt.subplots(len(PANELS), 1, figsize=(10, 11), sharex=True)
    for axis, (title, columns, unit) in zip(axes, PANELS, strict=True):
        for daemon, values in sorted(series.items()):
            minutes = [t / 60 for t in values["elapsed_s"]]
            for column, suffix, style in columns:
                if column not in values:  # older soak CSVs lack some columns
                    continue
                ys = values[column]
                if column == "rss_kib":
                    ys = [v / 1024 for v in ys]
                label = f"{daemon} {suffix}".strip()
                # d1 wide underneath, d2 thin on top: equal values stay visible as two lines.
                axis.plot(minutes, ys, style, color=COLOURS.get(daemon), label=label,
                          linewidth=2.6 if daemon == "d1" else 1.1,
                          drawstyle="steps-post" if unit != "MiB" else "default")
        if warmup:
            axis.axvspan(0, warmup / 60, color="grey", alpha=0.15, linewidth=0)
        axis.set_title(title, fontsize=10, loc="left")
        axis.set_ylabel(unit)
        axis.grid(alpha=0.3)
        axis.legend(fontsize=8, loc="upper right", ncol=2)
        low, high = axis.get_ylim()
        if unit != "MiB":
            axis.set_ylim(0, high * 1.25)  # counts from zero: flat lines look flat
        else:
            # At least an 8 MiB window, so noise is not blown up and 1 MiB of growth shows.
            axis.set_ylim(low - 0.5, max(high + 0.5, low + 8))
    axes[-1].set_xlabel("minutes of flapping (grey: warm-up)")
    flaps = summary.get("flaps")
    heading = "haipvs soak: two directors, one flap per second"
    if flaps:
        heading += (f" ({flaps} flaps: {summary.get('mastership_flaps')} mastership, "
                    f"{summary.get('health_flaps')} real-server health; "
                    f"reloads: {summary.get('reloads')})")
    figure.suptitle(heading, fontsize=11)
    figure.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--csv", type=Path, default=Path("docs/soak/soak.csv"))
    parser.add_argument("--out", type=Path, default=Path("docs/soak.png"))
    parser.add_argument("--warmup", type=float, default=None,
                        help="seconds to shade as warm-up (default: from summary.json)")
    args = parser.parse_args(argv)
    plot(args.csv, args.out, args.warmup)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
