"""Up/down bookkeeping, free of I/O: results and the current time are passed in.

`CheckState` applies keepalived's retry rules to one checker's results; `aggregate` combines
the checkers of one real server (all must be up).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import NamedTuple

from haipvs.dataclass_lean import dataclass
from haipvs.health.spec import Timing


class CheckResult(NamedTuple):
    """The outcome of one probe attempt, with a short human reason."""

    ok: bool
    reason: str
    latency: float = 0.0  # seconds the attempt took
    weight: int | None = None  # dynamic weight (misc_dynamic); None = configured weight


class CheckState:
    """One checker's state. `record` returns (changed, delay until the next attempt);
    `changed` is true when `up` or `weight` moved."""

    __slots__ = (
        "consecutive_failures",
        "failures",
        "has_run",
        "just_settled",
        "last_checked",
        "last_latency",
        "last_ok",
        "last_reason",
        "last_transition",
        "retries_done",
        "runs",
        "settled",
        "timing",
        "up",
        "weight",
    )

    def __init__(self, timing: Timing, now: float) -> None:
        self.timing = timing
        self.up = not timing.alpha
        self.weight: int | None = None
        self.has_run = False
        # The first evaluation (its retries included) is over; `just_settled` only on the
        # record() that ended it: an alpha checker that stays down there is reported
        # (keepalived ipwrapper.c update_svr_checker_state: do_rs_notifies on !has_run).
        self.settled = False
        self.just_settled = False
        self.retries_done = 0  # retries spent on the current run of failures
        self.consecutive_failures = 0
        self.runs = 0
        self.failures = 0
        self.last_ok: bool | None = None
        self.last_reason = "alpha: not checked yet" if timing.alpha else "not checked yet"
        self.last_latency = 0.0
        self.last_checked: float | None = None
        self.last_transition = now

    def record(self, now: float, result: CheckResult) -> tuple[bool, float]:
        changed, delay = self._record(now, result)
        done = self.retries_done == 0  # a retry pending is still part of the evaluation
        self.just_settled = done and not self.settled
        self.settled = self.settled or done
        return changed, delay

    def _record(self, now: float, result: CheckResult) -> tuple[bool, float]:
        timing = self.timing
        self.runs += 1
        self.has_run = True
        self.last_ok = result.ok
        self.last_reason = result.reason
        self.last_latency = result.latency
        self.last_checked = now
        if result.ok:
            self.consecutive_failures = 0
            self.retries_done = 0
            changed = not self.up or result.weight != self.weight
            if not self.up:
                self.up = True
                self.last_transition = now
            self.weight = result.weight
            return changed, timing.delay_loop
        self.failures += 1
        self.consecutive_failures += 1
        if not self.up:
            if timing.retry_while_down and self.retries_done < timing.retry:
                self.retries_done += 1
                return False, timing.delay_before_retry
            self.retries_done = 0
            return False, timing.delay_loop
        if self.retries_done < timing.retry:
            self.retries_done += 1
            return False, timing.delay_before_retry
        self.retries_done = 0
        self.up = False
        self.last_transition = now
        return True, timing.delay_loop

    def as_dict(self) -> dict:
        return {
            "up": self.up,
            "weight": self.weight,
            "reason": self.last_reason,
            "consecutive_failures": self.consecutive_failures,
            "runs": self.runs,
            "failures": self.failures,
            "latency": round(self.last_latency, 6),
            "last_checked": self.last_checked,
            "last_transition": self.last_transition,
        }


@dataclass(frozen=True, slots=True)
class ServerHealth:
    """A real server's health across all its checkers."""

    up: bool
    weight: int | None = None  # lowest dynamic weight of its checkers; None = configured
    reason: str = ""  # why it is down (first failing checker), or the last result when up
    since: float = 0.0  # time of the last up/down transition


def aggregate(
    checks: Iterable[tuple[str, CheckState]], previous: ServerHealth | None, now: float
) -> ServerHealth:
    """Combine named checker states: up only when every checker is up (no checker = up)."""
    up = True
    weight: int | None = None
    reasons: list[str] = []
    down_reason = ""
    for name, state in checks:
        if state.up:
            if state.weight is not None:
                weight = state.weight if weight is None else min(weight, state.weight)
            reasons.append(f"{name}: {state.last_reason}")
        elif up:
            up = False
            down_reason = f"{name}: {state.last_reason}"
    # interned: thousands of servers share a handful of reasons ("tcp_check: connected")
    reason = sys.intern(down_reason if not up else "; ".join(reasons))
    since = previous.since if previous is not None and previous.up == up else now
    return ServerHealth(up, weight if up else None, reason, since)
