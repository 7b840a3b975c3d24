"""haipvs director nodes: write the YAML config, run the daemon in a node's netns, read its
state through the SIGUSR1 JSON dump."""

from __future__ import annotations

import importlib.util
import json
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

import yaml

from integration.harness.instance import VrrpInstance
from integration.harness.proc import Proc, ProcessNode
from integration.harness.topology import Node
from integration.harness.wait import wait_until

NOT_BUILT = "haipvs daemon not built yet"


def haipvs_binary() -> str | None:
    """The `haipvs` entry point of the venv running the tests, else the one on PATH."""
    beside = Path(sys.executable).parent / "haipvs"
    if beside.exists():
        return str(beside)
    return shutil.which("haipvs")


def haipvs_unavailable_reason() -> str | None:
    for module in ("haipvs.daemon", "haipvs.cli"):
        try:
            if importlib.util.find_spec(module) is None:
                return NOT_BUILT
        except ImportError:
            return NOT_BUILT
    if haipvs_binary() is None:
        return NOT_BUILT
    return None


def instance_yaml(inst: VrrpInstance) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": inst.name,
        "state": inst.state,
        "interface": inst.interface,
        "virtual_router_id": inst.vrid,
        "priority": inst.priority,
        "advert_int": inst.advert_int,
        "version": inst.version,
        "preempt": inst.preempt,
        "preempt_delay": inst.preempt_delay,
        "virtual_ipaddress": list(inst.vips),
    }
    if inst.auth is not None:
        entry["authentication"] = {"type": "PASS", "password": inst.auth}
    if inst.unicast_src_ip:
        entry["unicast_src_ip"] = inst.unicast_src_ip
    if inst.unicast_peers:
        entry["unicast_peers"] = list(inst.unicast_peers)
    if inst.garp:
        entry["garp"] = dict(inst.garp)
    return entry


def render_haipvs_config(router_id: str, state_dir: Path, instances: list[VrrpInstance]) -> str:
    config = {
        "global": {"router_id": router_id, "state_dir": str(state_dir)},
        "vrrp_instances": [instance_yaml(inst) for inst in instances],
        "virtual_servers": [],
    }
    return yaml.safe_dump(config, sort_keys=False)


class HaipvsNode(ProcessNode):
    """The haipvs daemon on `node`, with its own config, state dir and pid file."""

    kind = "haipvs"

    def __init__(self, node: Node, workdir: Path, instances: list[VrrpInstance],
                 router_id: str | None = None) -> None:
        self.node = node
        self.instances = {inst.name: inst for inst in instances}
        self.router_id = router_id or node.name
        self.workdir = Path(workdir) / f"haipvs-{node.name}"
        self.state_dir = self.workdir / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path = self.workdir / "haipvs.yaml"
        self.pid_path = self.workdir / "haipvs.pid"
        self.log_path = self.workdir / "haipvs.log"
        self.write_config(instances)
        self.proc: Proc | None = None
        self.runs = 0

    def __repr__(self) -> str:
        return f"HaipvsNode({self.node.name})"

    def write_config(self, instances: list[VrrpInstance]) -> None:
        self.instances = {inst.name: inst for inst in instances}
        self.conf_path.write_text(
            render_haipvs_config(self.router_id, self.state_dir, instances))

    def start(self, launcher: list[str] | None = None) -> HaipvsNode:
        """`launcher` replaces the `haipvs` binary (a test wrapper that takes its arguments)."""
        binary = haipvs_binary()
        if binary is None:
            raise RuntimeError(NOT_BUILT)
        argv = [*(launcher or [binary]), "--config", str(self.conf_path),
                "--state-dir", str(self.state_dir), "--pid-file", str(self.pid_path),
                "--log-format", "json"]
        self.runs += 1
        self.proc = Proc(self.node.netns, argv, self.log_path, name=f"haipvs-{self.node.name}")
        return self

    # --- observing ---

    @property
    def dump_path(self) -> Path:
        return self.state_dir / "haipvs.json"

    def catches_sigusr1(self) -> bool:
        """True once the daemon has a SIGUSR1 handler (before that SIGUSR1 would kill it)."""
        if not self.alive:
            raise RuntimeError(f"{self} exited with {self.proc.returncode}\n{self.describe()}")
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGUSR1 - 1)))
        return False

    def wait_ready(self, timeout: float = 10.0) -> None:
        wait_until(self.catches_sigusr1, timeout, interval=0.02,
                   what=f"{self} to install its SIGUSR1 handler", describe=self.describe)

    def wait_started(self, timeout: float = 10.0) -> None:
        """Until the daemon's VRRP machines run (its SIGUSR1 handler goes in after them)."""
        self.wait_ready(timeout)

    def dump(self, timeout: float = 3.0) -> dict[str, Any]:
        """SIGUSR1, then the first haipvs.json generated after the signal."""
        self.wait_ready()
        asked_at = time.time()
        self.proc.signal(signal.SIGUSR1)

        def fresh() -> dict[str, Any] | None:
            data = json.loads(self.dump_path.read_text())
            return data if data.get("generated_at", 0) >= asked_at - 0.001 else None

        return wait_until(fresh, timeout, interval=0.02,
                          what=f"a fresh {self.dump_path}", describe=self.describe)

    def instance_dump(self, name: str = "VI_1") -> dict[str, Any]:
        return self.dump()["instances"][name]

    def state(self, name: str = "VI_1") -> str | None:
        if not self.alive:
            return "STOPPED"
        return self.instance_dump(name)["state"]

    def has_vip(self, vip: str | None = None, name: str = "VI_1") -> bool:
        inst = self.instances[name]
        return self.node.has_address(vip or inst.vips[0], inst.interface)

    def wait_state(self, state: str, timeout: float, name: str = "VI_1") -> None:
        seen: list[str | None] = []

        def reached() -> bool:
            seen.append(self.state(name))
            return seen[-1] == state

        wait_until(reached, timeout, interval=0.1,
                   what=f"haipvs on {self.node.name} {name} in {state}",
                   describe=lambda: f"states seen: {sorted(set(seen), key=str)}\n"
                   + self.describe())

    def log_events(self) -> list[dict[str, Any]]:
        """The daemon's JSON log lines (non-JSON lines, e.g. tracebacks, are skipped)."""
        events = []
        for line in (self.proc.log_text() if self.proc else "").splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    continue
        return events

    def describe(self) -> str:
        return self.proc.log_tail() if self.proc else f"{self} not started"
