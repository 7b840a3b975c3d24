"""Priority and fault sources of one VRRP instance, pure (keepalived/vrrp/vrrp_track.c).

An instance's priority and fault have several sources: its own link, tracked interfaces,
track_script / track_file / track_process, the sync group and an operator's
set_priority. Each source is a typed `Source` key and contributes a `Contribution` (a
priority delta and/or a fault reason). `InstancePriority` sums them and tells the driver
what to feed the core: `PriorityChanged`, `FaultDetected`, `FaultCleared` (and `Begin` when
the instance starts). The driver does nothing but forward those outputs.

One weight rule (`weighted`) serves every tracker with an up/down state, so track_interface,
track_script and track_process cannot drift apart; track_file has its own
value x weight rule (`file_weighted`). `RiseFall` is keepalived's rise/fall hysteresis for
scripts.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from haipvs.dataclass_lean import dataclass

# The core's range for a non-owner (haipvs.vrrp.params.OWNER_PRIORITY is 255); kept here as
# plain numbers so the rule reads in one place. The core clamps the same way.
MIN_PRIORITY = 1
MAX_PRIORITY = 254
# keepalived vrrp_track.c: a track_file result (value x weight) at or below -254 is a fault.
FILE_FAULT_RESULT = -254


class Kind(enum.StrEnum):
    LINK = "link"
    TRACK_INTERFACE = "track_interface"
    TRACK_SCRIPT = "track_script"
    TRACK_FILE = "track_file"
    TRACK_PROCESS = "track_process"  # keepalived's vrrp_track_process (policy/process_track.py)
    TRACK_BFD = "track_bfd"  # BIRD's BFD sessions (policy/bfd_sessions.py)
    SYNC_GROUP = "sync_group"
    SET_PRIORITY = "set_priority"


@dataclass(frozen=True)
class Source:
    """Who contributes: a kind, and the tracker's name for the kinds that have several."""

    kind: Kind
    name: str = ""

    def __str__(self) -> str:
        # The state dump's key (fault_reasons / priority_parts), e.g. "track_interface:eth1".
        return f"{self.kind}:{self.name}" if self.name else str(self.kind)

    @classmethod
    def parse(cls, text: str) -> Source:
        kind, _, name = text.partition(":")
        return cls(Kind(kind), name)


LINK = Source(Kind.LINK)
SYNC_GROUP = Source(Kind.SYNC_GROUP)
SET_PRIORITY = Source(Kind.SET_PRIORITY)


@dataclass(frozen=True)
class Contribution:
    delta: int = 0
    fault: str | None = None


NOTHING = Contribution()  # also what a source that went away contributes


# ---- the weight rules -----------------------------------------------------------------


def weighted(weight: int, ok: bool, failure: str, reverse: bool = False) -> Contribution:
    """keepalived vrrp_track.c (track_interface, vrrp_script, track_process): weight 0 means
    failed/down is a FAULT; a negative weight is added (subtracted) while failed/down; a
    positive weight is added while OK/up.

    `reverse` (keepalived's `weight W reverse`, weight_multiplier -1;
    initialise_interface_tracking_priorities() and keepalived_netlink.c
    process_if_status_change()): the same cases apply with the weight negated, so a positive
    weight is subtracted while up and a negative one added while down; with weight 0 it is
    OK/up that is the FAULT. `failure` then names that reverse condition."""
    multiplier = -1 if reverse else 1
    if weight == 0:
        return NOTHING if ok != reverse else Contribution(fault=failure)
    if (ok and weight > 0) or (not ok and weight < 0):
        return Contribution(delta=weight * multiplier)
    return NOTHING


def file_weighted(name: str, value: int, weight: int) -> Contribution:
    """keepalived vrrp_track.c (track_file): weight 0 means any non-zero value is a FAULT;
    otherwise value x weight is added, and a result at or below -254 is a FAULT."""
    if weight == 0:
        return Contribution(fault=f"track_file {name} holds {value}") if value else NOTHING
    result = value * weight
    if result <= FILE_FAULT_RESULT:
        return Contribution(fault=f"track_file {name}: {value} x {weight} = {result}")
    return Contribution(delta=result)


@dataclass
class RiseFall:
    """keepalived vrrp_scheduler.c (vrrp_script results): the first result decides at once;
    after that `fall` failures in a row make an OK script failed and `rise` successes in a
    row make a failed one OK."""

    rise: int
    fall: int
    ok: bool | None = None  # None until the first result
    streak: int = 0  # results in a row that disagree with `ok`

    def record(self, success: bool) -> bool:
        """Feed one result; True when the OK/failed state changed."""
        if self.ok is None:
            self.ok = success
            return True
        if success == self.ok:
            self.streak = 0
            return False
        self.streak += 1
        if self.streak >= (self.rise if success else self.fall):
            self.ok = success
            self.streak = 0
            return True
        return False


# ---- the per-instance aggregation: inputs and outputs ---------------------------------


@dataclass(frozen=True)
class Update:
    """Sources that changed (NOTHING removes one) and, on a reload, a new base priority.
    Applied together, so one reload or link event gives at most one priority and one fault
    output (no FAULT -> BACKUP -> FAULT flap in between)."""

    sources: tuple[tuple[Source, Contribution], ...] = ()
    base_priority: int | None = None


@dataclass(frozen=True)
class Start:
    """The instance starts: from now on changes produce outputs."""


@dataclass(frozen=True)
class PriorityChanged:
    priority: int


@dataclass(frozen=True)
class FaultDetected:
    reason: str


@dataclass(frozen=True)
class FaultCleared:
    pass


@dataclass(frozen=True)
class Begin:
    """Start the machine, in FAULT with this reason when `fault` is set (core Startup)."""

    fault: str | None


Output = PriorityChanged | FaultDetected | FaultCleared | Begin


class InstancePriority:
    """The sources of one instance and what the machine was last told.

    Priority = base + the sum of deltas, clamped to 1..254; an address owner keeps 255 in
    the core (keepalived refuses weights on an owner), so for it the request is passed on
    unclamped and the core logs that it ignores it. Fault = every source's reason, joined
    in the order of their keys.
    """

    def __init__(self, base_priority: int, owner: bool = False) -> None:
        self.base_priority = base_priority
        self.owner = owner
        self.faults: dict[Source, str] = {}
        self.deltas: dict[Source, int] = {}
        self.started = False
        self.told_priority = base_priority  # the core starts at its base priority
        self.told_fault: str | None = None

    # ---- facts ----

    @property
    def priority(self) -> int:
        requested = self.base_priority + sum(self.deltas.values())
        if self.owner:
            return requested
        return min(max(requested, MIN_PRIORITY), MAX_PRIORITY)

    @property
    def fault(self) -> str | None:
        if not self.faults:
            return None
        return "; ".join(self.faults[key] for key in sorted(self.faults, key=str))

    def own_fault(self) -> bool:
        """In FAULT by a source of its own (not only because its sync group is)."""
        return any(source != SYNC_GROUP for source in self.faults)

    def sources(self, kind: Kind) -> list[Source]:
        return [s for s in {**self.faults, **self.deltas} if s.kind == kind]

    def fault_reasons(self) -> dict[str, str]:
        """The state dump's form: string keys, sorted."""
        return {str(k): v for k, v in sorted(self.faults.items(), key=lambda kv: str(kv[0]))}

    def priority_parts(self) -> dict[str, int]:
        return {str(k): v for k, v in sorted(self.deltas.items(), key=lambda kv: str(kv[0]))}

    # ---- the entry point ----

    def handle(self, event: Update | Start) -> list[Output]:
        if isinstance(event, Start):
            self.started = True
            outputs: list[Output] = self._priority_outputs()
            self.told_fault = self.fault
            return [*outputs, Begin(self.told_fault)]
        self._apply(event.sources)
        if event.base_priority is not None:
            self.base_priority = event.base_priority
        if not self.started:
            return []
        # Priority first, so a fault that clears starts BACKUP with the right priority.
        return self._priority_outputs() + self._fault_outputs()

    def _apply(self, changes: Iterable[tuple[Source, Contribution]]) -> None:
        for source, contribution in changes:
            if contribution.delta:
                self.deltas[source] = contribution.delta
            else:
                self.deltas.pop(source, None)
            if contribution.fault is not None:
                self.faults[source] = contribution.fault
            else:
                self.faults.pop(source, None)

    def _priority_outputs(self) -> list[Output]:
        wanted = self.priority
        if wanted == self.told_priority:
            return []
        self.told_priority = wanted
        return [PriorityChanged(wanted)]

    def _fault_outputs(self) -> list[Output]:
        reason = self.fault
        if reason == self.told_fault:
            return []
        self.told_fault = reason
        return [FaultCleared()] if reason is None else [FaultDetected(reason)]
