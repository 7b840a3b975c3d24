"""keepalived's vrrp_sync_group rules, pure.

- group state: a group is FAULT when any member is, and MASTER/BACKUP/STOP once all members
  agree (keepalived vrrp_sync.c); otherwise it keeps its previous state.
"""

from __future__ import annotations

from collections.abc import Iterable

from haipvs.vrrp.state import State

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
