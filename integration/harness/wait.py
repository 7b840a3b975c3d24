"""Deadline-bounded polling: tests wait on conditions, never on fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """A condition did not hold before its deadline (an AssertionError so pytest shows it)."""


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    interval: float = 0.05,
    what: str | None = None,
    describe: Callable[[], str] | None = None,
) -> T:
    """Poll `predicate` until it returns a truthy value and return that value.

    Fails with WaitTimeout after `timeout` seconds; the message names the condition
    (`what`, or the predicate's name), the last value, the last exception the predicate
    raised, and `describe()` (e.g. the tail of a daemon's log) to make the failure readable.
    """
    deadline = time.monotonic() + timeout
    last_value: object = None
    last_error: BaseException | None = None
    while True:
        try:
            last_value = predicate()
            last_error = None
            if last_value:
                return last_value
        except Exception as exc:  # a predicate may race a file being written; keep polling
            last_error = exc
        if time.monotonic() >= deadline:
            break
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
    name = what or getattr(predicate, "__name__", repr(predicate))
    message = [f"timed out after {timeout:.2f}s waiting for {name}; last value {last_value!r}"]
    if last_error is not None:
        message.append(f"last error: {last_error!r}")
    if describe is not None:
        try:
            message.append(describe())
        except Exception as exc:
            message.append(f"(describe failed: {exc!r})")
    raise WaitTimeout("\n".join(message))
