"""Virtual-server quorum with hysteresis (keepalived `quorum`, `hysteresis`;
keepalived/check/ipwrapper.c update_quorum_state, and check_data.c for the settings).

A service "has quorum" while the total weight of its live real servers is high enough. With
hysteresis H the quorum is lost when that weight drops below `quorum - H` (or to nothing at
all) and regained once it reaches `quorum + H`; in between the previous state holds.

At start (and for a service a reload adds) keepalived counts every service as down
(check_data.c set_quorum_states runs before any real server is alive), then
ipwrapper.c init_service_vs -> update_quorum_state(vs, init=true) reports "Gained quorum"
(VS UP line, quorum_up) for one whose weight reaches `quorum + H`, and "Starting with quorum
down" (VS DOWN line, quorum_down) only for one without it that has a sorry server; one
without quorum and without a sorry server is told nothing.
Pure state, no I/O: the director policy (haipvs/policy/director.py) feeds it live weights and
acts on the changes it reports.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping

from haipvs.dataclass_lean import dataclass


def initial_quorum(weight: int, quorum: int, hysteresis: int) -> bool:
    return weight >= quorum + hysteresis


def next_quorum(up: bool, weight: int, quorum: int, hysteresis: int) -> bool:
    """The quorum state after the live weight became `weight`, from state `up`."""
    if up:
        # A service with no live weight at all has no quorum, whatever the settings.
        return weight > 0 and weight >= quorum - hysteresis
    return weight >= quorum + hysteresis


@dataclass(frozen=True)
class QuorumInput:
    """One service's live weight and its quorum settings."""

    service: Hashable
    weight: int
    quorum: int = 1
    hysteresis: int = 0
    sorry_server: bool = False  # a service starting without quorum is told only if True


@dataclass(frozen=True)
class QuorumChange:
    """A service gained or lost its quorum. `initial` marks the first state of a service (at
    start or added by a reload): up, or down with a sorry server (see the module doc)."""

    service: Hashable
    up: bool
    weight: int
    initial: bool = False


class QuorumTracker:
    """The quorum state of every configured service, kept across health changes and reloads."""

    def __init__(self) -> None:
        self._up: dict[Hashable, bool] = {}

    @property
    def states(self) -> Mapping[Hashable, bool]:
        return self._up

    def update(self, inputs: Iterable[QuorumInput]) -> list[QuorumChange]:
        """Feed the current live weight of every configured service. Services not listed are
        forgotten (removed on reload). Returns the changes, in input order."""
        changes: list[QuorumChange] = []
        states: dict[Hashable, bool] = {}
        for item in inputs:
            states[item.service], change = self._next(item)
            if change is not None:
                changes.append(change)
        self._up = states
        return changes

    def update_one(self, item: QuorumInput) -> QuorumChange | None:
        """One service's new live weight (a real server of it changed health); the other
        services keep their state. The same rules as update()."""
        self._up[item.service], change = self._next(item)
        return change

    def _next(self, item: QuorumInput) -> tuple[bool, QuorumChange | None]:
        previous = self._up.get(item.service)
        if previous is None:
            up = initial_quorum(item.weight, item.quorum, item.hysteresis)
            told = up or item.sorry_server
            return up, QuorumChange(item.service, up, item.weight, initial=True) if told else None
        up = next_quorum(previous, item.weight, item.quorum, item.hysteresis)
        return up, QuorumChange(item.service, up, item.weight) if up != previous else None
