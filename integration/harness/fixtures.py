"""pytest fixtures: a LAN with a sniffer on its bridge, and node factories that stop every
daemon before the namespaces go away, even when the test failed.

Use from a conftest: ``from integration.harness.fixtures import *  # noqa: F403``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from integration.harness.haipvs import HaipvsNode
from integration.harness.instance import VrrpInstance
from integration.harness.keepalived import KeepalivedNode
from integration.harness.requirements import (
    haipvs_unavailable_reason,
    keepalived_unavailable_reason,
    netns_unavailable_reason,
)
from integration.harness.sniffer import Sniffer
from integration.harness.topology import Lan, Node

__all__ = ["daemons", "haipvs_node", "keepalived_node", "lan", "sniffer"]


@pytest.fixture
def lan(request: pytest.FixtureRequest) -> Iterator[Lan]:
    """An empty director LAN (192.0.2.0/24 on br0 in its own netns); add nodes with
    ``lan.add_node("d1")``. Everything is deleted at teardown. A test module may set
    `LAN_PREFIX = "xy"` to have namespaces of its own names, so that it can run beside
    other netns tests."""
    reason = netns_unavailable_reason()
    if reason:
        pytest.skip(reason)
    with Lan(prefix=getattr(request.module, "LAN_PREFIX", "hv")) as built:
        yield built


@pytest.fixture
def sniffer(request: pytest.FixtureRequest, lan: Lan) -> Iterator[Sniffer]:
    """Captures VRRP/ARP/NA on the bridge: every node's frames once, kernel-timestamped."""
    with Sniffer(lan.bridge_ns.name, lan.bridge) as capture:
        yield capture
        report = getattr(request.node, "rep_call", None)
        if report is not None and report.failed:
            print(capture.summary(last=40))


class Daemons:
    """Tracks the daemons a test started; on teardown stops them all and, if the test
    failed, prints their log tails (pytest shows them with the failure)."""

    def __init__(self) -> None:
        self.started: list[HaipvsNode | KeepalivedNode] = []

    def add(self, daemon):
        self.started.append(daemon)
        return daemon

    def describe(self) -> str:
        return "\n".join(d.describe() for d in self.started)

    def stop_all(self) -> None:
        for daemon in reversed(self.started):
            if daemon.proc is not None:
                daemon.proc.stop(timeout=3)


@pytest.fixture
def daemons(request: pytest.FixtureRequest, lan: Lan) -> Iterator[Daemons]:
    tracker = Daemons()
    yield tracker
    tracker.stop_all()
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        print(tracker.describe())


@pytest.fixture
def keepalived_node(daemons: Daemons, tmp_path) -> Callable[..., KeepalivedNode]:
    """``keepalived_node(node, instance, ...)`` starts keepalived on a Node."""
    reason = keepalived_unavailable_reason()
    if reason:
        pytest.skip(reason)

    def start(node: Node, *instances: VrrpInstance, start: bool = True) -> KeepalivedNode:
        daemon = daemons.add(KeepalivedNode(node, tmp_path, list(instances)))
        return daemon.start() if start else daemon

    return start


@pytest.fixture
def haipvs_node(daemons: Daemons, tmp_path) -> Callable[..., HaipvsNode]:
    """``haipvs_node(node, instance, ...)`` starts the haipvs daemon on a Node."""
    reason = haipvs_unavailable_reason()
    if reason:
        pytest.skip(reason)

    def start(node: Node, *instances: VrrpInstance, start: bool = True) -> HaipvsNode:
        daemon = daemons.add(HaipvsNode(node, tmp_path, list(instances)))
        return daemon.start() if start else daemon

    return start
