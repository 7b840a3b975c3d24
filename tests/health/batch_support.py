"""Running a batch scheduler (haipvs/health/batch.py) in a test until it has finished a
number of checks: each check's result, and how many were in flight when it finished."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

import trio

from haipvs.health.state import CheckResult


class BatchRun(NamedTuple):
    results: list[CheckResult]
    in_flight: list[int]  # checks in flight as each result came
    scheduler: Any


async def run_batch(make: Callable[[Callable[..., None]], Any], jobs: Iterable[Any],
                    count: int, timeout: float = 10) -> BatchRun:
    """`make(finish)` builds the scheduler; every job is due now and runs once; returns
    once `count` checks have finished."""
    results: list[CheckResult] = []
    in_flight: list[int] = []
    finished = trio.Event()

    def finish(job: Any, result: CheckResult, now: float) -> None:
        results.append(result)
        in_flight.append(scheduler.inflight)
        if len(results) >= count:
            finished.set()
        return None  # one attempt each

    scheduler = make(finish)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(scheduler.run)
        now = trio.current_time()
        for job in jobs:
            scheduler.schedule(job, now)
        with trio.fail_after(timeout):
            await finished.wait()
        nursery.cancel_scope.cancel()
    return BatchRun(results, in_flight, scheduler)
