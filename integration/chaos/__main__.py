"""`python -m integration.chaos --faults 200 --seed 1`: a chaos run with a printed summary;
exit 1 when the invariant was violated (root needed: network namespaces)."""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from integration.chaos.invariant import KINDS
from integration.chaos.runner import run_chaos
from integration.harness.requirements import haipvs_unavailable_reason, netns_unavailable_reason


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", default=",".join(KINDS),
                        help=f"comma-separated subset of {','.join(KINDS)}")
    parser.add_argument("--check-load", type=int, default=0, metavar="N",
                        help="every director also health-checks N distinct TCP real servers "
                        "at delay_loop 1 s (N checks/s nominal) and the summary reports the "
                        "rate achieved (default 0: no health checks)")
    parser.add_argument("--workdir", type=Path, default=None,
                        help="keep configs and daemon logs here (default: a temporary dir)")
    args = parser.parse_args()
    reason = netns_unavailable_reason() or haipvs_unavailable_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2
    kinds = tuple(k for k in args.kinds.split(",") if k)
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown fault kinds {sorted(unknown)}")
    if args.check_load < 0:
        parser.error("--check-load must be >= 0")
    with tempfile.TemporaryDirectory(prefix="haipvs-chaos-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        summary = run_chaos(workdir, args.faults, args.seed, kinds,
                            progress=lambda line: print(line, flush=True),
                            check_load=args.check_load)
    print(summary.render())
    return 1 if summary.violations else 0


if __name__ == "__main__":
    sys.exit(main())
