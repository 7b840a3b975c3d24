"""`make lab VM=1` on this IPVS-less host (issue 19, acceptance 4): the NAT lab runs inside the
qemu guest, and the client's answers flow through the guest kernel's real IPVS before and
after `lab failover` (haipvs/lab/demo.py; the IPVS counters are shown on both MASTERs)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from integration.qemu import harness

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.qemu
def test_make_lab_vm_shows_real_ipvs_before_and_after_failover():
    reason = harness.unavailable_reason()
    if reason:
        pytest.skip(reason)
    out = subprocess.run(["make", "-s", "lab", "VM=1"], cwd=ROOT, capture_output=True,
                         text=True, timeout=1800)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-5000:]
    assert "traffic path: IPVS (kernel)" in text
    before, _, after = text.partition("== failover ==")
    assert re.search(r"lvs2 became MASTER [\d.]+ s later", after), after[-3000:]
    for part, master in ((before, "lvs1"), (after, "lvs2")):
        # the MASTER's own IPVS counted the client's connections to both real servers
        table = part.split(f"IPVS counters on {master}")[1]
        conns = [int(n) for n in re.findall(r"^  -> 198\.51\.100\.1[12]:80\s+(\d+)", table,
                                            re.M)]
        assert len(conns) == 2 and min(conns) > 0, table
    assert re.search(r"client answers before failover: \{'rs1': \d+, 'rs2': \d+\}; after: "
                     r"\{'rs1': \d+, 'rs2': \d+\} \(through IPVS \(kernel\)\)", text), text[-2000:]
    assert "lab is down" in text
