"""One throwaway network namespace for the host-side netns unit tests, and the checked
`run` they drive it with: named uniquely (pid + random) so tests running side by side never
share one, always deleted, skipped when not root (namespaces need CAP_SYS_ADMIN)."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
from collections.abc import Iterator

import pytest


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run argv (bounded: 30 s); with check, a non-zero exit fails with its output."""
    proc = subprocess.run(list(argv), capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise AssertionError(f"{argv} exited {proc.returncode}: {proc.stdout}{proc.stderr}")
    return proc


@contextlib.contextmanager
def scratch_netns(prefix: str) -> Iterator[str]:
    """A new namespace named `prefix` + pid + random hex, deleted on exit (even on failure)."""
    if os.geteuid() != 0:
        pytest.skip("needs root for network namespaces")
    name = f"{prefix}{os.getpid() % 10000}{secrets.token_hex(3)}"
    run("ip", "netns", "add", name)
    try:
        yield name
    finally:
        run("ip", "netns", "del", name, check=False)
