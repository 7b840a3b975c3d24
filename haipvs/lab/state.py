"""The labs' recorded state (LAB_DIR/lab.json) and the process and namespace bookkeeping both
`haipvs lab` modes share (haipvs/lab/lab.py: NAT/DR, haipvs/lab/bgp.py: scale-out): everything a
lab creates is recorded as it is created, so `down` removes every namespace and process (by
PID, checked against its start time) even after a failed `up`."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import field
from pathlib import Path
from typing import Any

from haipvs.dataclass_lean import dataclass

PREFIX = "hl-"


class LabError(RuntimeError):
    pass


def _run(argv: list[str], *, check: bool = True, input_text: str | None = None,
         timeout: float = 30) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                          input=input_text, check=False)
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)}: {(proc.stderr or proc.stdout).strip()}")
    return proc


def _start_time(pid: int) -> str | None:
    """Field 22 of /proc/PID/stat: tells a process from a later one with a reused PID."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


@dataclass
class Lab:
    """The lab's recorded state (LAB_DIR/lab.json)."""

    directory: Path
    mode: str = "nat"
    lab_id: str = ""
    namespaces: list[str] = field(default_factory=list)
    processes: list[dict[str, Any]] = field(default_factory=list)
    created_at: float = 0.0
    traffic: str = ""

    @property
    def state_path(self) -> Path:
        return self.directory / "lab.json"

    def save(self) -> None:
        data = {"mode": self.mode, "lab_id": self.lab_id, "namespaces": self.namespaces,
                "processes": self.processes, "created_at": self.created_at,
                "traffic": self.traffic}
        tmp = self.state_path.with_name(".lab.json.tmp")
        tmp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(tmp, self.state_path)

    @classmethod
    def load(cls, directory: Path) -> Lab | None:
        path = directory / "lab.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(directory, data["mode"], data["lab_id"], data["namespaces"],
                   data["processes"], data["created_at"], data.get("traffic", ""))

    # ---- names --------------------------------------------------------------------------

    def ns(self, node: str) -> str:
        return f"{PREFIX}{self.lab_id}-{node}"

    def node_dir(self, node: str) -> Path:
        path = self.directory / node
        path.mkdir(parents=True, exist_ok=True)
        return path

    # ---- building -----------------------------------------------------------------------

    def add_netns(self, node: str) -> str:
        name = self.ns(node)
        _run(["ip", "netns", "add", name])
        self.namespaces.append(name)
        self.save()
        _run(["ip", "-n", name, "link", "set", "lo", "up"])
        return name

    def wire(self, node: str, ifname: str, bridge: str, address: str) -> None:
        """A veth from `node` (named ifname there) to `bridge` in the switch namespace."""
        switch = self.ns("sw")
        port = f"{node}-{ifname}"
        _run(["ip", "-n", switch, "link", "add", port, "type", "veth", "peer", "name", ifname,
              "netns", self.ns(node)])
        _run(["ip", "-n", switch, "link", "set", port, "master", bridge, "up"])
        _run(["ip", "-n", self.ns(node), "addr", "add", address, "dev", ifname])
        _run(["ip", "-n", self.ns(node), "link", "set", ifname, "up"])

    def spawn(self, name: str, node: str, argv: list[str]) -> int:
        log = open(self.node_dir(node) / f"{name}.log", "ab")  # noqa: SIM115 - child owns it
        with log:
            proc = subprocess.Popen(["ip", "netns", "exec", self.ns(node), *argv],
                                    stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True)
        # `ip netns exec` execs the command, so this PID is the command's own.
        self.processes.append({"name": name, "node": node, "pid": proc.pid,
                               "start_time": _start_time(proc.pid), "argv": argv})
        self.save()
        return proc.pid

    def process(self, name: str) -> dict[str, Any] | None:
        for entry in self.processes:
            if entry["name"] == name:
                return entry
        return None

    def alive(self, name: str) -> bool:
        entry = self.process(name)
        return entry is not None and _is_ours(entry)


def _is_ours(entry: dict[str, Any]) -> bool:
    start = _start_time(entry["pid"])
    if start is None or start != entry["start_time"]:
        return False
    with contextlib.suppress(OSError):
        state = Path(f"/proc/{entry['pid']}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return False


def _stop(entry: dict[str, Any], sig: int = signal.SIGTERM, wait: float = 5.0) -> None:
    if not _is_ours(entry):
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(entry["pid"], sig)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and _is_ours(entry):
        _reap(entry["pid"])
        time.sleep(0.05)
    if _is_ours(entry):
        with contextlib.suppress(ProcessLookupError):
            os.kill(entry["pid"], signal.SIGKILL)
        while _is_ours(entry) and time.monotonic() < deadline + 5:
            _reap(entry["pid"])
            time.sleep(0.05)
    _reap(entry["pid"])


def _reap(pid: int) -> None:
    """Collect our own child's exit status so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


# Generous: these only bound a failure. A start takes ~1 s here, but 15 s ran out in the
# qemu guest (15-20x slower) on a busy host.
DAEMON_START_TIMEOUT = 60.0
ELECTION_TIMEOUT = 30.0


def _wait(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise LabError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def create(directory: Path, mode: str, lab_id: str, build: Callable[[Lab, Callable], None],
           out: Callable[[str], None]) -> Lab:
    """A new lab recorded in `directory` and built by `build`; on any failure everything
    recorded so far is removed again. Refused while another lab is up there."""
    existing = Lab.load(directory)
    if existing is not None:
        raise LabError(f"a lab is already up in {directory} ({existing.mode}); run "
                       "`haipvs lab down` first")
    directory.mkdir(parents=True, exist_ok=True)
    lab = Lab(directory, mode, lab_id, created_at=time.time())
    lab.save()
    try:
        build(lab, out)
    except BaseException:
        out("lab up failed; removing what was created")
        down(directory, out=lambda line: None)
        raise
    return lab


def down(directory: Path, out: Callable[[str], None] = print) -> None:
    lab = Lab.load(directory)
    if lab is None:
        out(f"no lab in {directory}")
        return
    for entry in reversed(lab.processes):
        if _is_ours(entry):
            out(f"stopping {entry['name']} (pid {entry['pid']})")
        _stop(entry)
    for name in reversed(lab.namespaces):
        out(f"deleting namespace {name}")
        _run(["ip", "netns", "del", name], check=False)
    shutil.rmtree(directory, ignore_errors=True)
    out("lab is down")
