"""Which notify scripts an event runs, and the one place their environment is built.

Pure: from a typed event (haipvs/events.py) and the config entity it concerns, the argv
lists to run in order and the HAIPVS_* variables they get. The notify runner
(haipvs/notify.py) runs them, one owner's scripts one at a time; the variable names are an
interface to operators' scripts (docs/operations.md) and must not change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from haipvs.events import GroupTransition, QuorumEvent, VrrpTransition

Argv = tuple[str, ...]


class Notifiable(Protocol):
    """A VRRP instance or a sync group: `notify` plus one `notify_<state>` per state."""

    @property
    def notify(self) -> Sequence[str] | None: ...


@dataclass(frozen=True)
class RunNotify:
    """Run `scripts` one after the other, after any earlier ones of the same `owner`
    (`instance:<name>`, `group:<name>`, `quorum:<service>`), each with `env`."""

    owner: str
    scripts: tuple[Argv, ...]
    env: Mapping[str, str]


def transition_scripts(entity: Notifiable, kind: str, name: str, state: str,
                       priority: int) -> list[Argv]:
    """keepalived order (keepalived/vrrp/vrrp_notify.c): the state's own script
    (notify_master/backup/fault/stop) first, then the generic `notify` with
    `INSTANCE|GROUP <name> <state> <priority>` appended."""
    scripts: list[Argv] = []
    specific = getattr(entity, f"notify_{str(state).lower()}", None)
    if specific:
        scripts.append(tuple(specific))
    if entity.notify:
        scripts.append((*entity.notify, kind, name, str(state), str(priority)))
    return scripts


def instance_notify(instance: Notifiable, event: VrrpTransition) -> RunNotify | None:
    scripts = transition_scripts(instance, "INSTANCE", event.instance, event.new,
                                 event.priority)
    if not scripts:
        return None
    env = {"HAIPVS_TYPE": "INSTANCE", "HAIPVS_NAME": event.instance,
           "HAIPVS_STATE": str(event.new), "HAIPVS_PREVIOUS_STATE": str(event.old),
           "HAIPVS_REASON": event.reason, "HAIPVS_PRIORITY": str(event.priority)}
    return RunNotify(f"instance:{event.instance}", tuple(scripts), env)


def group_notify(group: Notifiable, event: GroupTransition) -> RunNotify | None:
    scripts = transition_scripts(group, "GROUP", event.group, event.new, 0)
    if not scripts:
        return None
    env = {"HAIPVS_TYPE": "GROUP", "HAIPVS_NAME": event.group, "HAIPVS_STATE": str(event.new),
           "HAIPVS_PREVIOUS_STATE": str(event.old)}
    return RunNotify(f"group:{event.group}", tuple(scripts), env)


def quorum_notify(script: Sequence[str] | None, quorum: int, hysteresis: int,
                  event: QuorumEvent) -> RunNotify | None:
    """keepalived's quorum_up / quorum_down (keepalived/check/ipwrapper.c): `script` is the
    one for the new state, None when not configured."""
    if not script:
        return None
    env = {"HAIPVS_TYPE": "QUORUM", "HAIPVS_SERVICE": event.service,
           "HAIPVS_STATE": "UP" if event.up else "DOWN", "HAIPVS_WEIGHT": str(event.weight),
           "HAIPVS_QUORUM": str(quorum), "HAIPVS_HYSTERESIS": str(hysteresis)}
    return RunNotify(f"quorum:{event.service}", (tuple(script),), env)
