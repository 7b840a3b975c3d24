"""Support for the operations netns tests (no tests here): haipvs nodes whose config carries
extra YAML (trackers, notify, metrics, virtual servers) and an environment, a fixture that
starts them, an address monitor and a metrics scraper."""

from __future__ import annotations

import contextlib
import json
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from integration.harness.haipvs import (
    NOT_BUILT,
    HaipvsNode,
    haipvs_binary,
    haipvs_unavailable_reason,
    render_haipvs_config,
)
from integration.harness.instance import VrrpInstance
from integration.harness.netns import call_in_netns
from integration.harness.proc import Proc
from integration.harness.topology import Node
from integration.harness.wait import WaitTimeout, wait_until

# Fast VRRPv3 so takeovers take well under a second (Master_Down at prio 100: ~0.7 s).
FAST = VrrpInstance(version=3, advert_int=0.2, password=None, garp={"master_delay": 0})


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class OpsNode(HaipvsNode):
    """A HaipvsNode with extra config: `top` (merged into the file's top level), `per_instance`
    (instance name -> keys merged into that instance) and an environment for the daemon."""

    def __init__(self, node: Node, workdir: Path, instances: list[VrrpInstance],
                 top: dict[str, Any] | None = None,
                 per_instance: dict[str, dict[str, Any]] | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.top = top or {}
        self.per_instance = per_instance or {}
        self.env = env
        super().__init__(node, workdir, instances)

    def config_dict(self, instances: list[VrrpInstance]) -> dict[str, Any]:
        config = yaml.safe_load(render_haipvs_config(self.router_id, self.state_dir, instances))
        config = merge(config, self.top)
        for entry in config["vrrp_instances"]:
            entry.update(self.per_instance.get(entry["name"], {}))
        return config

    def write_config(self, instances: list[VrrpInstance]) -> None:
        self.instances = {inst.name: inst for inst in instances}
        self.conf_path.write_text(yaml.safe_dump(self.config_dict(instances), sort_keys=False))

    def start(self) -> OpsNode:
        binary = haipvs_binary()
        if binary is None:
            raise RuntimeError(NOT_BUILT)
        argv = [binary, "--config", str(self.conf_path), "--state-dir", str(self.state_dir),
                "--pid-file", str(self.pid_path), "--log-format", "json"]
        self.runs += 1
        env = None
        if self.env is not None:
            env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", **self.env}
        self.proc = Proc(self.node.netns, argv, self.log_path, name=f"haipvs-{self.node.name}",
                         env=env)
        return self

    def reload(self) -> float:
        """SIGHUP; returns the wall-clock time it was sent."""
        self.wait_ready()
        sent = time.time()
        self.proc.signal(1)
        return sent

    def wait_log(self, event: str, timeout: float, since_count: int = 0) -> dict[str, Any]:
        """The first JSON log line with this event after the first `since_count` ones."""
        def found() -> dict[str, Any] | None:
            matches = [e for e in self.log_events() if e.get("event") == event]
            return matches[since_count] if len(matches) > since_count else None

        return wait_until(found, timeout, what=f"log event {event!r} on {self.node.name}",
                          describe=self.describe)

    def count_log(self, event: str) -> int:
        return sum(1 for e in self.log_events() if e.get("event") == event)

    def priority(self, name: str = "VI_1") -> int:
        return self.instance_dump(name)["effective_priority"]

    def wait_priority(self, priority: int, timeout: float, name: str = "VI_1") -> None:
        wait_until(lambda: self.priority(name) == priority, timeout,
                   what=f"{name} on {self.node.name} at priority {priority}",
                   describe=self.describe)


@pytest.fixture(name="ops_node")
def ops_node_fixture(daemons, tmp_path) -> Callable[..., OpsNode]:
    """``ops_node(node, instance, ..., top=..., per_instance=..., env=...)``; import
    `ops_node_fixture` into a test module to use it."""
    reason = haipvs_unavailable_reason()
    if reason:
        pytest.skip(reason)

    def start(node: Node, *instances: VrrpInstance, run: bool = True, **extra: Any) -> OpsNode:
        daemon = daemons.add(OpsNode(node, tmp_path, list(instances), **extra))
        return daemon.start() if run else daemon

    return start


class AddressMonitor:
    """`ip monitor address` inside a netns, collecting lines in a thread."""

    def __init__(self, netns: str) -> None:
        self.lines: list[tuple[float, str]] = []
        self._proc = subprocess.Popen(
            ["ip", "-n", netns, "-o", "monitor", "address"], stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL, text=True)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            self.lines.append((time.time(), line.strip()))

    def mentioning(self, text: str, since: float = 0.0) -> list[str]:
        return [line for ts, line in self.lines if ts >= since and text in line]

    def close(self) -> None:
        self._proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._proc.wait(timeout=3)
        if self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(timeout=3)

    def __enter__(self) -> AddressMonitor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


PROBE_ATTEMPTS = 10  # 1 s each


@contextlib.contextmanager
def address_monitor(node: Node) -> Iterator[AddressMonitor]:
    monitor = AddressMonitor(node.ns)
    try:
        # The monitor prints nothing until something changes, and a change made before it
        # has subscribed is lost: toggle an address of our own until it reports one.
        probe = "203.0.113.254/32"
        for attempt in range(PROBE_ATTEMPTS):
            node.netns.ip("addr", "add", probe, "dev", "lo")
            node.netns.ip("addr", "del", probe, "dev", "lo")
            try:
                wait_until(lambda: monitor.mentioning("203.0.113.254"), 1.0,
                           what="address monitor up")
                break
            except WaitTimeout:
                if attempt == PROBE_ATTEMPTS - 1:
                    raise
        yield monitor
    finally:
        monitor.close()


def scrape(node: Node, port: int) -> str:
    """GET /metrics from inside the node's netns."""
    def get() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=3) as reply:
            return reply.read().decode()

    return call_in_netns(node.ns, get)


def metric_value(text: str, series: str) -> float | None:
    """The value of one exact series line, e.g. 'haipvs_vrrp_priority{instance="VI_1"}'."""
    for line in text.splitlines():
        name, _, value = line.rpartition(" ")
        if name == series:
            return float(value)
    return None


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
