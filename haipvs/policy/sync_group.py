"""keepalived's vrrp_sync_group rules, pure (keepalived/vrrp/vrrp_sync.c).

- group state: a group is FAULT when any member is, and MASTER/BACKUP/STOP once all members
  agree; otherwise it keeps its previous state.
- fault pull: one member in FAULT by its own sources holds every other member in FAULT
  (vrrp_sync_fault); the pulled members carry a "sync_group" fault source that names it.
- follow: a member becoming MASTER takes the group's BACKUP members to MASTER
  (vrrp_sync_master); one stepping down MASTER -> BACKUP takes the MASTER members to BACKUP
  (vrrp_sync_backup). Which members actually move is the core's decision: each member gets
  a `SyncGroupTransition` and its state table says what it does with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from haipvs.dataclass_lean import dataclass
from haipvs.vrrp.core import State, SyncGroupTransition

SETTLED = frozenset({State.MASTER, State.BACKUP, State.STOP})


def group_state(member_states: Iterable[State]) -> State | None:
    """The group's state for these member states, or None while they disagree (the group
    keeps what it had)."""
    states = set(member_states)
    if State.FAULT in states:
        return State.FAULT
    if len(states) == 1 and states <= SETTLED:
        return next(iter(states))
    return None


@dataclass(frozen=True)
class Member:
    """What the rules need to know of one member."""

    name: str
    started: bool  # a member that has not started yet pulls no one
    own_fault: bool  # in FAULT by its own sources (link, trackers), not by the group's


def fault_pull(group: str, members: Sequence[Member]) -> dict[str, str | None]:
    """For each member (given in the order the instances were configured): the sync-group
    fault reason it must hold, or None. The first other member in FAULT by its own sources
    is named."""
    pulled: dict[str, str | None] = {}
    for member in members:
        culprit = next((m.name for m in members
                        if m.name != member.name and m.started and m.own_fault), None)
        pulled[member.name] = (f"sync group {group}: {culprit} is in FAULT"
                               if culprit is not None else None)
    return pulled


def follows(old: State, new: State) -> bool:
    """Whether a member's transition moves the rest of its group."""
    return new == State.MASTER or (new == State.BACKUP and old == State.MASTER)


def follow(group: str, leader: str, old: State, new: State,
           members: Iterable[str]) -> list[tuple[str, SyncGroupTransition]]:
    """The inputs the other members get, in order, after `leader` went `old` -> `new`."""
    if not follows(old, new):
        return []
    reason = f"sync group {group}: {leader} became {new}"
    return [(name, SyncGroupTransition(new, reason)) for name in members if name != leader]
