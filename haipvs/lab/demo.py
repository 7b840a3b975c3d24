"""`haipvs lab demo`: the whole lab story in one run, for a machine where the lab cannot stay
up between commands (`make lab VM=1` runs it in the qemu guest, which lives for one command).

up -> wait for the client's answers from both real servers -> status, IPVS counters ->
failover (SIGKILL the MASTER) -> answers again, now through the new MASTER -> status,
counters -> down. Exit 0 only if the client got answers from both real servers before and
after the failover; the output says which traffic path carried them (real IPVS in a kernel
that has it, else the nftables stand-in, haipvs/lab/lab.py).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from haipvs.lab.lab import (
    LabError,
    down,
    failover,
    master_of,
    render_status,
    responses,
    status_data,
    up,
)

ANSWER_WAIT = 180.0  # seconds; the qemu guest runs 15-20x slower than the host
EXPECTED = frozenset({"rs1", "rs2"})


def answered_by(lab, since: float) -> Counter:
    """Which real server answered the client's requests logged at or after `since`."""
    seen: Counter = Counter()
    for stamp, text in responses(lab, 1000):
        words = text.split()
        if stamp >= since and len(words) >= 2 and words[0] == "ok":
            seen[words[1]] += 1
    return seen


def wait_for_answers(lab, since: float, timeout: float = ANSWER_WAIT) -> Counter:
    end = time.monotonic() + timeout
    seen: Counter = Counter()
    while time.monotonic() < end:
        seen = answered_by(lab, since)
        if set(seen) >= EXPECTED:
            return seen
        time.sleep(1.0)
    return seen


def counters(lab, director: str) -> str:
    """`haipvs status --stats` in the director's namespace (real IPVS only)."""
    proc = subprocess.run(["ip", "netns", "exec", lab.ns(director), sys.executable, "-m",
                           "haipvs", "status", "--stats"], capture_output=True, text=True,
                          check=False)
    return (proc.stdout + proc.stderr).rstrip()


def demo(directory: Path, mode: str, out: Callable[[str], None] = print) -> int:
    lab = up(directory, mode, out)
    try:
        out(f"\ntraffic path: {lab.traffic}")
        started = time.time()
        before = wait_for_answers(lab, started)
        out("\n== before failover ==")
        out(render_status(status_data(lab, 10)))
        master = master_of(lab)
        if master is not None and lab.traffic.startswith("IPVS"):
            out(f"\nIPVS counters on {master} (`haipvs status --stats`):")
            out(counters(lab, master))
        out("\n== failover ==")
        result = failover(lab, out)
        after = wait_for_answers(lab, result["killed_at"] + result["takeover_seconds"])
        out("\n== after failover ==")
        out(render_status(status_data(lab, 10)))
        if lab.traffic.startswith("IPVS"):
            out(f"\nIPVS counters on {result['new_master']} (`haipvs status --stats`):")
            out(counters(lab, result["new_master"]))
        ok = set(before) >= EXPECTED and set(after) >= EXPECTED
        out("")
        out(f"client answers before failover: {dict(sorted(before.items())) or 'none'}; "
            f"after: {dict(sorted(after.items())) or 'none'} "
            f"({'through ' + lab.traffic if ok else 'MISSING answers'})")
        return 0 if ok else 1
    except LabError as exc:
        out(f"haipvs lab demo: {exc}")
        return 1
    finally:
        down(directory)
