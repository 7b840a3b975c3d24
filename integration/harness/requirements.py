"""Why a netns test cannot run here, as a skip reason (None when it can)."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess

import pytest

from integration.harness.haipvs import haipvs_unavailable_reason
from integration.harness.keepalived import keepalived_binary

__all__ = ["haipvs_unavailable_reason", "keepalived_interop_marks",
           "keepalived_unavailable_reason", "netns_unavailable_reason"]


@functools.cache
def netns_unavailable_reason() -> str | None:
    if os.geteuid() != 0:
        return "needs root (network namespaces, raw sockets)"
    for tool in ("ip", "sysctl", "nft"):
        if shutil.which(tool) is None:
            return f"needs the {tool!r} command"
    probe = f"hvprobe{os.getpid()}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True,
                          check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace: {made.stderr.strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, check=False)
    return None


def keepalived_unavailable_reason() -> str | None:
    return None if keepalived_binary() else "needs keepalived (apt install keepalived)"


def keepalived_interop_marks() -> list[pytest.MarkDecorator]:
    """`pytestmark` of a netns test that runs haipvs and keepalived 2.2.7 side by side:
    selectable as netns/keepalived, skipped with the reason when either cannot run here."""
    return [
        pytest.mark.netns,
        pytest.mark.keepalived,
        pytest.mark.skipif(haipvs_unavailable_reason() is not None,
                           reason=haipvs_unavailable_reason() or ""),
        pytest.mark.skipif(keepalived_unavailable_reason() is not None,
                           reason=keepalived_unavailable_reason() or ""),
    ]
