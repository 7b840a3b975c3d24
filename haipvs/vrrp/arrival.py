"""The time a received advert is handled at, pure.

RFC 5798 §6.4.2/§6.4.3: a Backup that receives an advert resets its Master_Down_Timer
(or sets it to Skew_Time for priority 0) at the advert's receipt. The driver knows the
kernel's arrival stamp, which is earlier than the moment its loop got to the packet by
the wake-up, queue and parsing time (~0.2 ms here). Handling the advert at its arrival
makes a takeover as punctual as keepalived's (docs/benchmarks.md, issue 18), with two
bounds:
- never before a time already given to a machine: its clock does not run backwards, and
  a timer that fired while the advert waited in the queue stays fired (the advert is
  then handled as it would have been right after that timer);
- never after now (a stamp from a stepped wall clock is dropped by the driver).
"""

from __future__ import annotations


def handled_at(now: float, arrived: float | None, floor: float) -> float:
    """`now`: the loop's time; `arrived`: the kernel's arrival time on the same clock, or
    None; `floor`: the latest time already handed to a machine."""
    if arrived is None:
        return now
    return min(max(arrived, floor), now)
