"""Fixtures for the real-IPVS tests. They run only inside the qemu guest (HAIPVS_GUEST=1):

    integration/qemu/run-in-guest -- .venv/bin/python -m pytest -p no:cacheprovider \
        integration/qemu_tests

Every test gets its own director network namespace (IPVS tables are per namespace) with
routes to the TEST-NET real servers; namespaces and processes are removed even on failure.
"""

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import Iterator

import pytest

IN_GUEST = os.environ.get("HAIPVS_GUEST") == "1"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "qemu_tests" in str(item.fspath):
            item.add_marker(pytest.mark.qemu)
            if not IN_GUEST:
                item.add_marker(pytest.mark.skip(reason="needs the qemu guest with real IPVS"))


def sh(*args: str, check: bool = True, ns: str | None = None) -> str:
    cmd = (["ip", "netns", "exec", ns] if ns else []) + list(args)
    result = subprocess.run(cmd, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({result.returncode}): {result.stderr}")
    return result.stdout


class Netns:
    """Creates uniquely named namespaces and deletes them (and their processes) at the end."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.procs: list[subprocess.Popen] = []

    def new(self, role: str) -> str:
        name = f"hv{role}-{secrets.token_hex(3)}"
        sh("ip", "netns", "add", name)
        self.names.append(name)
        sh("ip", "link", "set", "lo", "up", ns=name)
        return name

    def popen(self, ns: str, *args: str, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(["ip", "netns", "exec", ns, *args], **kw)
        self.procs.append(proc)
        return proc

    def cleanup(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
        for name in reversed(self.names):
            subprocess.run(["ip", "netns", "del", name], capture_output=True)


@pytest.fixture
def netns() -> Iterator[Netns]:
    spaces = Netns()
    try:
        yield spaces
    finally:
        spaces.cleanup()


@pytest.fixture
def director(netns: Netns) -> str:
    """A director namespace whose dummy link routes the TEST-NET real-server ranges, so
    IPVS accepts them as destinations."""
    ns = netns.new("dir")
    sh("ip", "link", "add", "rs0", "type", "dummy", ns=ns)
    sh("ip", "link", "set", "rs0", "up", ns=ns)
    sh("ip", "addr", "add", "198.51.100.1/24", "dev", "rs0", ns=ns)
    sh("ip", "addr", "add", "203.0.113.1/24", "dev", "rs0", ns=ns)
    sh("ip", "-6", "addr", "add", "2001:db8:1::1/64", "dev", "rs0", "nodad", ns=ns)
    return ns
