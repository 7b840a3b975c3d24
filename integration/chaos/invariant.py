"""The chaos invariant, evaluated after the run from what the observer recorded (pure code:
no sockets, no clock, so it has its own unit tests).

Outside the excluded windows, at every sample exactly one director must
  * hold the VIP in its kernel,
  * be the only node whose log says MASTER,
  * be the only MAC answering the observer's ARP probe for the VIP (the ARP owner),
  * have sent an advert within the last 1.5 advert intervals,
and every advert with priority > 0 seen in a checked window must come from that director.

Reported apart, not as a violation: checked time in which the last *gratuitous* ARP for the
VIP came from a node that no longer holds it (neighbours that took that GARP send to the
wrong MAC until their cache entry goes stale; no split brain, but an outage for them).
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

# Fault kinds. "Removing" faults may legitimately leave the VIP on two nodes while active.
KILL_RESTART = "kill_restart"
FREEZE = "freeze"
LINK_DOWN = "link_down"
LOSS_30 = "loss_30"
LOSS_100 = "loss_100"
PRIORITY = "priority"
RELOAD = "reload"
KINDS = (KILL_RESTART, FREEZE, LINK_DOWN, LOSS_30, LOSS_100, PRIORITY, RELOAD)


@dataclass(frozen=True)
class Sample:
    """What the observer saw at one instant (`ts`, wall clock, same clock as the capture)."""

    ts: float
    holders: frozenset[str]  # directors with the VIP on their interface (kernel)
    claims: frozenset[str]  # directors whose last logged transition is to MASTER (alive ones)
    responders: frozenset[str]  # directors whose MAC answered the ARP probe sent at ts
    garp_owner: str | None  # director that sent the last gratuitous ARP for the VIP
    last_advert: dict[str, float] = field(default_factory=dict)  # director -> last advert ts


@dataclass(frozen=True)
class AdvertSeen:
    ts: float
    node: str | None  # None: a MAC that belongs to no director
    priority: int


@dataclass
class FaultRecord:
    index: int
    kind: str
    target: str
    target_was_master: bool
    started: float
    ended: float | None = None  # None while active
    detail: str = ""

    @property
    def removes_master(self) -> bool:
        """Faults during which two VIP owners are legitimate: the master is gone or cut off
        (its kernel keeps the VIP and answers ARP while frozen), or the LAN is lossy so a
        backup may rightly stop hearing the master."""
        if self.kind in (LOSS_30, LOSS_100):
            return True
        return self.target_was_master and self.kind in (KILL_RESTART, FREEZE, LINK_DOWN)


@dataclass(frozen=True)
class Violation:
    start: float
    end: float
    reasons: tuple[str, ...]

    @property
    def duration(self) -> float:
        return self.end - self.start


def excluded_windows(faults: Iterable[FaultRecord], settle: float,
                     run_end: float) -> list[tuple[float, float]]:
    """Merged [start, end) windows in which the invariant is not checked: `settle` seconds
    after each fault starts and after it ends, and the whole active period of a fault that
    removes the master."""
    windows: list[tuple[float, float]] = []
    for fault in faults:
        ended = fault.ended if fault.ended is not None else run_end
        windows.append((fault.started, fault.started + settle))
        windows.append((ended, ended + settle))
        if fault.removes_master:
            windows.append((fault.started, ended + settle))
    windows.sort()
    merged: list[tuple[float, float]] = []
    for start, end in windows:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _inside(ts: float, windows: Sequence[tuple[float, float]]) -> bool:
    return any(start <= ts < end for start, end in windows)


def sample_problems(sample: Sample, advert_int: float) -> list[str]:
    """Why this sample breaks the invariant (empty when it holds)."""
    problems = []
    if len(sample.holders) != 1:
        return [f"VIP held by {sorted(sample.holders) or 'nobody'}"]
    (owner,) = sample.holders
    if sample.claims != {owner}:
        problems.append(f"MASTER claimed by {sorted(sample.claims) or 'nobody'}, VIP on {owner}")
    if sample.responders != {owner}:
        problems.append(f"ARP answered by {sorted(sample.responders) or 'nobody'}, "
                        f"VIP on {owner}")
    last = sample.last_advert.get(owner)
    if last is None or sample.ts - last > 1.5 * advert_int:
        problems.append(f"VIP holder {owner} not advertising")
    return problems


def find_violations(samples: Sequence[Sample], adverts: Sequence[AdvertSeen],
                    windows: Sequence[tuple[float, float]], advert_int: float,
                    gap: float) -> list[Violation]:
    """Violation periods: runs of checked samples that break the invariant, plus adverts in
    checked time from anyone but the VIP holder. A period ends at the next good sample;
    samples further apart than `gap` (the observer stalled) split periods."""
    bad: list[tuple[float, str]] = []
    checked = [s for s in samples if not _inside(s.ts, windows)]
    for sample in checked:
        for problem in sample_problems(sample, advert_int):
            bad.append((sample.ts, problem))
    holder_at = _holder_lookup(samples)
    for advert in adverts:
        if advert.priority == 0 or _inside(advert.ts, windows):
            continue
        holder = holder_at(advert.ts)
        if holder is not None and advert.node != holder:
            bad.append((advert.ts, f"advert from {advert.node or 'an unknown MAC'} "
                                   f"(priority {advert.priority}) while {holder} holds the VIP"))
    good_times = [s.ts for s in checked if not sample_problems(s, advert_int)]
    return _periods(bad, good_times, gap)


def stale_garp_periods(samples: Sequence[Sample], windows: Sequence[tuple[float, float]],
                       gap: float) -> list[Violation]:
    """Checked time in which one node holds the VIP but the last GARP came from another."""
    bad, good_times = [], []
    for sample in samples:
        if _inside(sample.ts, windows) or len(sample.holders) != 1:
            continue
        (owner,) = sample.holders
        if sample.garp_owner == owner:
            good_times.append(sample.ts)
        else:
            bad.append((sample.ts, f"last GARP from {sample.garp_owner}, VIP on {owner}"))
    return _periods(bad, good_times, gap)


def _periods(bad: list[tuple[float, str]], good_times: list[float],
             gap: float) -> list[Violation]:
    if not bad:
        return []
    good_times = sorted(good_times)
    bad.sort()
    periods: list[Violation] = []
    start, end, reasons = bad[0][0], bad[0][0], [bad[0][1]]
    for ts, reason in bad[1:]:
        separated = ts - end > gap or bool(_between(good_times, end, ts))
        if separated:
            periods.append(Violation(start, _close(end, good_times, gap), tuple(reasons)))
            start, reasons = ts, []
        end = ts
        if reason not in reasons:
            reasons.append(reason)
    periods.append(Violation(start, _close(end, good_times, gap), tuple(reasons)))
    return periods


def _between(sorted_times: list[float], low: float, high: float) -> list[float]:
    return sorted_times[bisect.bisect_right(sorted_times, low):bisect.bisect_left(sorted_times,
                                                                                   high)]


def _close(last_bad: float, good_times: list[float], gap: float) -> float:
    """A period lasts until the next good sample (at most one sample gap after the last bad
    one, so a violation right before an excluded window is not stretched across it)."""
    i = bisect.bisect_right(good_times, last_bad)
    if i < len(good_times) and good_times[i] - last_bad <= gap:
        return good_times[i]
    return last_bad


def _holder_lookup(samples: Sequence[Sample]) -> Callable[[float], str | None]:
    """holder_at(ts): the single VIP holder at the latest sample at or before ts (None if
    there is no such sample or not exactly one holder)."""
    times = [s.ts for s in samples]

    def holder_at(ts: float) -> str | None:
        i = bisect.bisect_right(times, ts) - 1
        if i < 0 or len(samples[i].holders) != 1:
            return None
        return next(iter(samples[i].holders))

    return holder_at


def takeovers(faults: Iterable[FaultRecord], adverts: Sequence[AdvertSeen],
              limit: float) -> list[float]:
    """For faults that silence the master (kill, freeze, link down, 100% loss on it): the
    old master's last advert before the fault → the first advert from another director,
    when that came within `limit` seconds."""
    result = []
    for fault in faults:
        if not fault.target_was_master or fault.kind not in (KILL_RESTART, FREEZE, LINK_DOWN,
                                                             LOSS_100):
            continue
        before = [a for a in adverts if a.node == fault.target and a.ts <= fault.started]
        if not before:
            continue
        last = before[-1].ts
        after = [a for a in adverts if a.ts > fault.started and a.node not in (fault.target, None)
                 and a.priority > 0]
        if after and after[0].ts - last <= limit:
            result.append(after[0].ts - last)
    return result
