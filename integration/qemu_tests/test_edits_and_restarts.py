"""Config edits change only what changed; foreign services survive; a reconciler killed with
SIGKILL mid-way converges after restart despite hand edits."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import sh
from crash_point_program import NEW_TABLE
from guest_configs import many_services, three_services

from haipvs.ipvs.desired import desired_table, owned_keys
from haipvs.ipvs.model import ServiceKey
from haipvs.ipvs.netlink import NetlinkIpvs
from haipvs.ipvs.ops import OpKind
from haipvs.ipvs.reconcile import Reconciler

PROGRAM = Path(__file__).with_name("reconcile_program.py")
FOREIGN = ServiceKey.inet("tcp", "192.0.2.200", 443)


def add_foreign(ns: str) -> None:
    sh("ipvsadm", "-A", "-t", "192.0.2.200:443", "-s", "rr", ns=ns)
    sh("ipvsadm", "-a", "-t", "192.0.2.200:443", "-r", "198.51.100.50:443", "-m", ns=ns)


async def test_weight_edit_is_one_set_dest_and_foreign_survives(director):
    rec = Reconciler(netns=director)
    try:
        rec.set_desired(desired_table(three_services()))
        await rec.reconcile()
        add_foreign(director)
        before = await rec.call(NetlinkIpvs.dump)
        logged = len(rec.ops_log)

        rec.set_desired(desired_table(three_services(web_weights=(1, 5, 3))))
        result = await rec.reconcile()

        assert [(op.kind, str(op.dest.key), op.dest.weight) for op in result] == [
            (OpKind.SET_DEST, "198.51.100.11:8080", 5)]
        assert [r.op.kind for r in list(rec.ops_log)[logged:]] == [OpKind.SET_DEST]
        assert rec.foreign == [FOREIGN]
        after = await rec.call(NetlinkIpvs.dump)
        assert after.get(FOREIGN) == before.get(FOREIGN)
        for key in before.keys() - {ServiceKey.inet("tcp", "192.0.2.100", 80)}:
            assert after.get(key) == before.get(key)
        assert "  -> 198.51.100.11:8080           Masq    5" in sh("ipvsadm", "-Ln", ns=director)
    finally:
        rec.close()


def count_services(ns: str) -> int:
    out = sh("ipvsadm", "-Ln", ns=ns)
    return sum(1 for line in out.splitlines() if line.startswith(("TCP ", "UDP ", "FWM ")))


def start_program(netns, ns: str) -> subprocess.Popen:
    return netns.popen(ns, sys.executable, str(PROGRAM), "100", "5", stdout=subprocess.PIPE,
                       stderr=subprocess.DEVNULL, text=True)


async def test_sigkill_mid_reconcile_then_hand_edits_then_restart_converges(director, netns):
    config = many_services(100, 5)
    desired = desired_table(config)

    proc = start_program(netns, director)
    deadline = time.monotonic() + 60
    while count_services(director) == 0:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    partial = count_services(director)

    # Hand edits while nothing runs: a foreign service, and changes to owned ones. Services
    # are added before destinations, so the first service exists but may have no
    # destinations yet; the destination edits are best-effort.
    add_foreign(director)
    first = desired.services[0]
    d0, d1 = first.destinations[:2]
    vip = f"{first.key.address}:{first.key.port}"
    sh("ipvsadm", "-E", "-t", vip, "-s", "rr", ns=director)
    sh("ipvsadm", "-a", "-t", vip, "-r", "198.51.100.99:1", "-m", ns=director)
    sh("ipvsadm", "-e", "-t", vip, "-r", f"{d0.address}:{d0.port}", "-m", "-w", "42",
       ns=director, check=False)
    sh("ipvsadm", "-d", "-t", vip, "-r", f"{d1.address}:{d1.port}", ns=director, check=False)

    proc = start_program(netns, director)
    assert proc.stdout.readline().strip() == "converged"
    proc.kill()
    proc.wait(timeout=10)

    rec = Reconciler(netns=director)
    try:
        table = await rec.call(NetlinkIpvs.dump)
    finally:
        rec.close()
    assert table.restricted_to(owned_keys([config])) == desired
    assert table.get(FOREIGN) is not None
    print(f"killed with {partial} of 100 services programmed")


CRASH_PROGRAM = Path(__file__).with_name("crash_point_program.py")


def run_crash_program(netns, ns: str, ledger: Path, *extra: str) -> tuple[int, str]:
    proc = netns.popen(ns, sys.executable, str(CRASH_PROGRAM), str(ledger), *extra,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate(timeout=120)
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(f"crash program failed ({proc.returncode}): {err[-2000:]}")
    return proc.returncode, out.strip()


async def dump(ns: str):
    rec = Reconciler(netns=ns)
    try:
        return await rec.call(NetlinkIpvs.dump)
    finally:
        rec.close()


async def test_sigkill_after_every_op_of_an_edit_then_restart_converges(director, netns,
                                                                         tmp_path):
    """Kill points at each step of the reconcile path: an edit from OLD_TABLE to NEW_TABLE
    (set service; add, set and delete destinations; add and delete services), killed after
    op 0, 1, ..., all. The restart converges to NEW_TABLE exactly: the service that left the
    config is deleted (the ownership ledger remembers it), the foreign one is untouched."""
    ledger = tmp_path / "ipvs-owned.json"
    add_foreign(director)
    code, out = run_crash_program(netns, director, ledger, "--setup")
    assert code == 0
    total = int(out.split()[1])
    assert total == 8, out  # 1 set_service, 3 dest ops, 3 for the new service, 1 delete
    foreign = (await dump(director)).get(FOREIGN)

    for kill_point in range(total + 1):
        sh("ipvsadm", "-C", ns=director)
        ledger.unlink()
        add_foreign(director)
        code, _ = run_crash_program(netns, director, ledger, "--setup",
                                    "--kill-after", str(kill_point))
        assert code == -signal.SIGKILL, f"not killed at op {kill_point}"
        partial = await dump(director)
        assert partial.get(FOREIGN) == foreign

        code, out = run_crash_program(netns, director, ledger)
        assert (code, out.split()[0]) == (0, "converged"), out
        table = await dump(director)
        assert table.keys() == NEW_TABLE.keys() | {FOREIGN}, f"killed after op {kill_point}"
        assert table.restricted_to(NEW_TABLE.keys()) == NEW_TABLE, (
            f"killed after op {kill_point}: restart did not converge")
        assert table.get(FOREIGN) == foreign
        assert partial != table or kill_point == total
        print(f"kill after op {kill_point}: restart applied {out.split()[1]} ops")
