"""`haipvs lab up/status/failover/down` end to end, as a user runs it: the lab comes up with
one MASTER and answers through the VIP, failover is taken over within Master_Down_Interval
(+100 ms), and down leaves no lab namespace and no lab process behind."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from haipvs.lab.lab import Lab, _is_ours, master_down_interval

pytestmark = pytest.mark.netns


def haipvs_lab(lab_dir: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "haipvs", "lab", *args, "--lab-dir",
                           str(lab_dir)], capture_output=True, text=True, timeout=timeout)


def lab_namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    # not a bgp lab's (test_lab_bgp.py, "hl-bgp<hex>-"), which may be running alongside
    return {line.split()[0] for line in out.splitlines()
            if line.startswith("hl-") and not line.startswith("hl-bgp")}


def test_lab_up_status_failover_down(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.skip("needs root for network namespaces")
    lab_dir = tmp_path / "lab"
    before = lab_namespaces()
    recorded: Lab | None = None
    try:
        started = haipvs_lab(lab_dir, "up", "--mode", "nat")
        assert started.returncode == 0, started.stdout + started.stderr
        recorded = Lab.load(lab_dir)
        assert recorded is not None and len(recorded.namespaces) == 6
        assert set(recorded.namespaces) <= lab_namespaces()

        def status() -> dict:
            proc = haipvs_lab(lab_dir, "status", "--json", "--responses", "20")
            assert proc.returncode == 0, proc.stderr
            return json.loads(proc.stdout)

        deadline = time.monotonic() + 10
        data = status()
        while not any(text.startswith("ok") for _, text in data["responses"]):
            assert time.monotonic() < deadline, data["responses"]
            time.sleep(0.3)
            data = status()
        assert data["master"] == "lvs1"
        assert data["directors"]["lvs2"]["instances"]["VI_FRONT"]["state"] == "BACKUP"
        assert "203.0.113.100:80" in data["ipvs_table"]
        if "no IPVS" in data["traffic"]:
            assert "DESIRED" in data["ipvs_table"] or "desired" in data["ipvs_table"]
        assert {"ok rs1", "ok rs2"} <= {text for _, text in data["responses"]}
        assert all(info["probe"].startswith("up") for info in data["real_servers"].values())
        text = haipvs_lab(lab_dir, "status")
        assert "MASTER: lvs1" in text.stdout

        proc = haipvs_lab(lab_dir, "failover", "--json")
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["new_master"] == "lvs2"
        assert result["master_down_interval"] == round(master_down_interval(100), 3)
        assert 0 < result["takeover_seconds"] <= result["master_down_interval"] + 0.1
        # VI_FRONT's own Master_Down timer, or VI_BACK's firing first and the sync group
        # taking VI_FRONT along: the two timers expire within the same few milliseconds.
        assert result["reason"] in ("master_down_timer",
                                    "sync group VG_LAB: VI_BACK became MASTER")
        assert result["first_ok_after"] is not None
        after = status()
        assert after["master"] == "lvs2" and not after["directors"]["lvs1"]["running"]
    finally:
        stopped = haipvs_lab(lab_dir, "down")
    assert stopped.returncode == 0, stopped.stderr
    assert lab_namespaces() <= before
    assert not lab_dir.exists()
    assert recorded is not None
    for entry in recorded.processes:
        assert not _is_ours(entry), f"{entry['name']} (pid {entry['pid']}) is still alive"
