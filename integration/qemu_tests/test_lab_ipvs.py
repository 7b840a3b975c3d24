"""`haipvs lab` on a kernel with IPVS (the qemu guest): client traffic to the VIP really goes
through IPVS to both real servers, keeps flowing after the MASTER dies, and `lab down`
leaves nothing behind. (On the CI host, without IPVS, integration/test_lab.py covers the
rest of the lab with its nftables stand-in.)"""

from __future__ import annotations

import re
import subprocess
import sys
import time


def lab(*args: str, timeout: float = 300) -> str:
    out = subprocess.run([sys.executable, "-m", "haipvs", "lab", *args, "--lab-dir",
                          "/run/haipvs-lab-test"], capture_output=True, text=True,
                         timeout=timeout)
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def answers(status: str, since: float = 0.0) -> list[str]:
    """The client's logged answers (local HH:MM:SS.mmm) at or after `since`."""
    day = time.strftime("%Y-%m-%d ", time.localtime(since or time.time()))
    found = []
    logged = re.findall(r"^\s+(\d\d:\d\d:\d\d)(\.\d+)?\s+(.*)$", status, re.M)
    for clock, _fraction, answer in logged:
        at = time.mktime(time.strptime(day + clock, "%Y-%m-%d %H:%M:%S"))
        if at + 1 >= since:
            found.append(answer)
    return found


def wait_for_answers(want: set[str], since: float = 0.0, timeout: float = 120) -> str:
    end = time.monotonic() + timeout
    status = ""
    while time.monotonic() < end:
        status = lab("status", "--responses", "10")
        if want <= set(answers(status, since)):
            return status
        time.sleep(2)
    raise AssertionError(f"client never got {want}; last status:\n{status}")


def test_lab_traffic_goes_through_ipvs_and_survives_failover():
    lab("up", "--mode", "nat")
    try:
        status = wait_for_answers({"ok rs1", "ok rs2"})
        assert "traffic path: IPVS (kernel)" in status
        assert re.search(r"TCP\s+203\.0\.113\.100:80 rr", status), status
        assert "Masq" in status
        failed_over_at = time.time()
        failover = lab("failover")
        assert re.search(r"lvs2 became MASTER [\d.]+ s later", failover), failover
        # Answers from both real servers logged after the old MASTER died.
        status = wait_for_answers({"ok rs1", "ok rs2"}, since=failed_over_at + 5)
        assert "MASTER: lvs2" in status
    finally:
        lab("down")
    leftover = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "hl-" not in leftover, leftover
