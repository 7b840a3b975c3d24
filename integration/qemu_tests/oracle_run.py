"""Both sides of the keepalived oracle, in one director namespace of the qemu guest:

- `keepalived_table`: keepalived 2.2.7 itself (`-C`, checkers only) programs the kernel from
  a checker-free keepalived.conf; its `ipvsadm -Ln` is taken once the checker process has
  initialised IPVS, then keepalived is stopped (SIGTERM: keepalived/check/check_daemon.c
  checker_terminate_phase1 -> ipwrapper.c clear_services removes its services; no `-I`).
- `haipvs_table`: the same file through `haipvs import-keepalived`'s code and the config
  loader, then the daemon's own start-up path: the director policy's Start and RefreshIpvs
  inputs (haipvs/daemon.py run) give the DesiredIpvs the daemon hands its Reconciler, with
  every real server up (no checker reported); one reconcile pass programs the kernel.

A table is {"PROT addr:port": Entry(service line, sorted destination lines)}, from ipvsadm's
own text with whitespace collapsed and the connection counters dropped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from conftest import sh

from haipvs.config import load_config_text
from haipvs.importer import Note, import_keepalived
from haipvs.ipvs.reconcile import Reconciler
from haipvs.policy import director as policy

KEEPALIVED = "/usr/sbin/keepalived"
# The checker process dumps its data after init_services() (check_daemon.c start_check,
# `-d`); the dump starts with dump_global_data's header (core/global_data.c).
READY_MARK = "------< Global definitions >------"
# The parent starts no checker process when the config has nothing for it (main.c
# start_keepalived: running_checker() false).
IDLE_MARK = "keepalived has no configuration to run"
# The checker process crashed (main.c report_child_status; e.g. issue 2067's config).
DIED_MARK = "exited due to"
START_TIMEOUT = 40.0  # TCG: keepalived forks, parses and programs in ~1 s; bounded anyway
STOP_TIMEOUT = 20.0
SERVICE_PROTOCOLS = ("TCP", "UDP", "SCTP", "FWM")


@dataclass(frozen=True)
class Entry:
    service: str
    dests: tuple[str, ...]

    def lines(self) -> list[str]:
        return [self.service, *(f"  {d}" for d in self.dests)]


Table = dict[str, Entry]


def read_table(ns: str) -> Table:
    return parse_table(sh("ipvsadm", "-Ln", ns=ns))


def parse_table(text: str) -> Table:
    services: dict[str, tuple[str, list[str]]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        fields = line.split()
        if fields and fields[0] in SERVICE_PROTOCOLS:
            current = []
            services[f"{fields[0]} {fields[1]}"] = (" ".join(fields), current)
        elif fields[:1] == ["->"] and current is not None:
            current.append(" ".join(fields[:4]))  # -> addr:port Forward Weight
    return {key: Entry(line, tuple(sorted(dests))) for key, (line, dests) in services.items()}


@dataclass
class KeepalivedRun:
    table: Table
    log: str
    ready: bool  # the checker process reached its dump (IPVS initialised)
    exit_code: int | None


def keepalived_table(ns: str, conf: Path, workdir: Path) -> KeepalivedRun:
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / "keepalived.log"
    pids = {flag: workdir / f"{name}.pid" for flag, name in
            (("-p", "main"), ("-c", "checkers"), ("-r", "vrrp"), ("-b", "bfd"))}
    # Line-buffered: keepalived logs with stdio, and a block-buffered file would hold the
    # ready mark back for ~10 s.
    argv = ["ip", "netns", "exec", ns, "stdbuf", "-oL", "-eL", KEEPALIVED,
            "-C", "-n", "-l", "-d", "-f", str(conf)]
    for flag, path in pids.items():
        argv += [flag, str(path)]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, cwd=conf.parent,
                                start_new_session=True)  # its own group, for the kill below
    try:
        ready = _wait_ready(proc, log_path)
        table = read_table(ns)
    finally:
        _stop(proc, ns)
    return KeepalivedRun(table, log_path.read_text(errors="replace"), ready, proc.returncode)


def _stop(proc: subprocess.Popen, ns: str) -> None:
    """SIGTERM, as an operator stops it: keepalived removes its services first. Once they
    are gone, a keepalived slow to exit is killed (its group only) to keep the run short."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while proc.poll() is None and time.monotonic() < deadline:
        if time.monotonic() > deadline - STOP_TIMEOUT + 1 and not read_table(ns):
            break
        time.sleep(0.1)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=STOP_TIMEOUT)


def _wait_ready(proc: subprocess.Popen, log_path: Path) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        text = log_path.read_text(errors="replace")
        if READY_MARK in text:
            return True
        if IDLE_MARK in text or DIED_MARK in text or proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


@dataclass
class HaipvsRun:
    table: Table
    notes: tuple[Note, ...]
    error: str  # empty when the config loaded and the reconciler converged


async def haipvs_table(ns: str, conf: Path) -> HaipvsRun:
    result = import_keepalived(conf)
    try:
        config = load_config_text(result.yaml, str(conf))
    except Exception as exc:  # the report names the file; any load error is a finding
        return HaipvsRun({}, result.notes, f"config does not load: {exc}")
    director = policy.Director(config)
    outputs = director.handle(time.time(), policy.Start())
    outputs += director.handle(time.time(), policy.RefreshIpvs())
    desired = [out for out in outputs if isinstance(out, policy.DesiredIpvs)][-1]
    rec = Reconciler(netns=ns)
    try:
        # Sync daemons are left alone: `ipvsadm -Ln` does not show them, and keepalived -C
        # does not run them (the VRRP process does).
        rec.set_desired(desired.table, timeouts=desired.timeouts, owned=desired.owned)
        await rec.reconcile()
        error = "" if rec.state == "ok" else f"reconciler {rec.state}: {rec.error}"
        return HaipvsRun(read_table(ns), result.notes, error)
    finally:
        rec.close()


def clear(ns: str) -> None:
    sh("ipvsadm", "-C", ns=ns)
