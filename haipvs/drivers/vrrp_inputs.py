"""The VRRP runtime's input queue: what goes into it (haipvs/drivers/vrrp_runtime.py drains
it in order, one input at a time). Timers are not here: the drainer fires them itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import field
from typing import Any

import trio

from haipvs.dataclass_lean import dataclass
from haipvs.drivers import addresses
from haipvs.drivers.vrrp_instance import InterfaceGroup
from haipvs.policy.priority import NOTHING, Contribution, Source
from haipvs.vrrp import core


@dataclass(frozen=True)
class Packet:
    """A received datagram; its receive loop holds one of the group's credits for it."""

    group: InterfaceGroup
    datagram: core.Datagram
    arrived: float | None = None  # trio time the kernel received it (None: unknown)


@dataclass(frozen=True)
class SourceUpdate:
    """A tracker's contribution (set_tracker), or set_priority's effective priority."""

    name: str
    source: Source
    contribution: Contribution = NOTHING
    effective_priority: int | None = None


@dataclass(frozen=True)
class LinkObserved:
    """Link states read after the monitor saw a change (None: not re-read)."""

    name: str
    own: addresses.LinkState | None
    tracked: dict[str, addresses.LinkState] | None


@dataclass
class Job:
    """A startup, reconfigure or shutdown step, run in queue order; the submitter waits."""

    run: Callable[[], Awaitable[Any]]
    done: trio.Event = field(default_factory=trio.Event)
    result: Any = None
    error: Exception | None = None


Input = Packet | SourceUpdate | LinkObserved | Job
