"""The guest tests' one polling helper: the harness's wait_until with the guest's deadline.

The guest runs Python under TCG, 15-30x slower than the host, so its waits are longer and poll
less often than the host tests'."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from integration.harness.wait import wait_until as _wait_until

T = TypeVar("T")

DEADLINE = 120.0


def wait_until(predicate: Callable[[], T], what: str, timeout: float = DEADLINE) -> T:
    """Poll `predicate` (every 0.3 s) until it is truthy; fail naming `what` after `timeout`."""
    return _wait_until(predicate, timeout, interval=0.3, what=what)
