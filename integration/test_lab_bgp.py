"""`haipvs lab --mode bgp` end to end, as a user runs it (issue 17 acceptance 4): the router's
BIRD merges the three directors' BGP paths into one ECMP route with 3 nexthops, the client's
flows are served, `lab drain` and `lab failover` measure a reroute in the router's FIB and
count the flows, and `lab down` leaves no lab namespace and no lab process behind.

The real pieces: haipvs in scale_out mode on each director, BIRD 2 on each director and on the
router, BFD 100 ms x 3. The bounds below are the lab's sanity bounds on a loaded 2-core host,
not the acceptance-1 numbers (those are measured by the scale-out netns tests).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from haipvs.lab.bgp import DIRECTORS, FLOWS
from haipvs.lab.lab import Lab, _is_ours

pytestmark = pytest.mark.netns

# BFD 100 ms x 3 detects the hang in 200-300 ms (the last packet before it came up to one
# interval earlier); BIRD and the kernel add a few ms. 1 s leaves room for a loaded host.
HANG_REROUTE_MAX = 1.0
# drain: `haipvs drain` is a Python process start (~0.2 s) plus the withdraw; SIGTERM goes
# straight to the daemon.
DRAIN_REROUTE_MAX = 2.0
SIGTERM_REROUTE_MAX = 1.0


def haipvs_lab(lab_dir: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "haipvs", "lab", *args, "--lab-dir",
                           str(lab_dir)], capture_output=True, text=True, timeout=timeout)


def lab_namespaces(prefix: str) -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.startswith(prefix)}


def check_measurement(result: dict, bound: float, nexthops: int) -> None:
    assert 0 <= result["reroute_seconds"] <= bound, result
    assert result["reroute_seconds"] <= result["settled_seconds"], result
    assert len(result["nexthops_after"]) == nexthops, result
    flows = result["flows"]
    assert flows["flows"] == FLOWS, flows  # every flow answered before the event
    assert flows["ok_requests"] > 0, flows
    assert sum(flows["served_after"].values()) == FLOWS, flows  # and answers again after it
    # a flow the event took away from its director answers from another one afterwards
    assert flows["moved"] >= flows["on_target"], flows
    assert flows["moved"] == flows["moved_kept_connection"] + flows["moved_reconnected"]
    assert flows["failed_requests"] >= flows["failed"], flows


def check_printed(stdout: str, results: list[dict]) -> None:
    """Each event printed its reroute time and its flow counts, as recorded."""
    printed = re.findall(r"router's FIB rerouted (\d+) ms later", stdout)
    assert [int(ms) for ms in printed] == [round(r["reroute_seconds"] * 1000) for r in results]
    counts = re.findall(r"flows: (\d+) running, (\d+) were on \w+; (\d+) moved .*?; "
                        r"(\d+) flows failed \((\d+) failed requests", stdout)
    assert [tuple(map(int, c)) for c in counts] == [
        (r["flows"]["flows"], r["flows"]["on_target"], r["flows"]["moved"],
         r["flows"]["failed"], r["flows"]["failed_requests"]) for r in results], stdout


def test_bgp_lab_up_status_drain_failover_down(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("needs root for network namespaces")
    if shutil.which("bird", path="/usr/sbin:/sbin:" + os.environ.get("PATH", "")) is None:
        pytest.skip("BIRD 2 is not installed (Debian bird2)")
    lab_dir = tmp_path / "lab"
    recorded: Lab | None = None
    prefix = "hl-bgp"  # a NAT/DR lab's id is 4 hex digits: never "bgp..."
    before = lab_namespaces(prefix)
    try:
        started = haipvs_lab(lab_dir, "up", "--mode", "bgp")
        assert started.returncode == 0, started.stdout + started.stderr
        recorded = Lab.load(lab_dir)
        assert recorded is not None and recorded.mode == "bgp"
        assert len(recorded.namespaces) == 8
        assert all(name.startswith(prefix) for name in recorded.namespaces)

        proc = haipvs_lab(lab_dir, "status", "--json")
        assert proc.returncode == 0, proc.stderr
        status = json.loads(proc.stdout)
        # The router's one ECMP route to the VIP, a nexthop per director.
        assert status["router_nexthops"] == sorted(own for _, own, _ in DIRECTORS.values())
        for director, info in status["directors"].items():
            assert info["vips"]["192.0.2.200"]["phase"] == "announced", (director, info)
            assert info["table_routes"] == ["192.0.2.200"], (director, info)
            assert info["bgp_from_router"].startswith("up Established"), (director, info)
            assert any(s.endswith("Up") for s in info["bfd"]), (director, info)
        text = haipvs_lab(lab_dir, "status").stdout
        assert "has 3 nexthops" in text and "traffic path:" in text

        # As a user runs them: the printed lines, and the same numbers in LAB_DIR/*.json.
        proc = haipvs_lab(lab_dir, "drain")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        drained = json.loads((lab_dir / "drain.json").read_text())
        check_printed(proc.stdout, [drained["drain"], drained["undrain"]])
        check_measurement(drained["drain"], DRAIN_REROUTE_MAX, 2)
        # haipvs withdrew in the director's table before the router's FIB changed
        changed = drained["drain"]["director_route_change_seconds"]
        assert changed is not None and changed <= drained["drain"]["reroute_seconds"]
        assert drained["drain"]["flows"]["served_after"].get(drained["drain"]["director"], 0) == 0
        check_measurement(drained["undrain"], DRAIN_REROUTE_MAX + 5, 3)  # + hold_down, rise

        proc = haipvs_lab(lab_dir, "failover")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        failed_over = json.loads((lab_dir / "failover.json").read_text())
        hang, sigterm = failed_over["hang"], failed_over["sigterm"]
        check_printed(proc.stdout, [hang, sigterm])
        check_measurement(hang, HANG_REROUTE_MAX, 2)
        # A hang is silent: the director still announces, only BFD at the router notices.
        assert hang["director_route_change_seconds"] is None
        check_measurement(sigterm, SIGTERM_REROUTE_MAX, 1)
        assert sigterm["director_route_change_seconds"] is not None  # withdrawn first
        assert hang["director"] != sigterm["director"]
        for result in (hang, sigterm):
            assert result["flows"]["served_after"].get(result["director"], 0) == 0, result
        print(f"\nbgp lab: drain reroute {drained['drain']['reroute_seconds']} s, "
              f"hang {hang['reroute_seconds']} s, SIGTERM {sigterm['reroute_seconds']} s")
        status = json.loads(haipvs_lab(lab_dir, "status", "--json").stdout)
        assert len(status["router_nexthops"]) == 1
        assert status["directors"][hang["director"]]["uplink_hung"]
        assert not status["directors"][sigterm["director"]]["haipvs_running"]
        # With one director left a second failover would leave none: refused, nothing done.
        again = haipvs_lab(lab_dir, "failover")
        assert again.returncode == 1 and "needs three announcing" in again.stderr, again
        assert len(json.loads(haipvs_lab(lab_dir, "status", "--json").stdout)
                   ["router_nexthops"]) == 1
    finally:
        stopped = haipvs_lab(lab_dir, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert lab_namespaces(prefix) <= before
    assert not lab_dir.exists()
    assert recorded is not None
    for entry in recorded.processes:
        assert not _is_ours(entry), f"{entry['name']} (pid {entry['pid']}) is still alive"
