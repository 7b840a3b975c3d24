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

from haipvs.events import (
    NOTICE_DELETED,
    NOTICE_MASTER_RX_LOWER_PRI,
    GroupTransition,
    InstanceNotice,
    QuorumEvent,
    VrrpTransition,
)

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


class NoticeScripts(Notifiable, Protocol):
    """A VRRP instance's notify extras (keepalived vrrp_parser.c)."""

    @property
    def notify_deleted_script(self) -> Sequence[str] | None: ...

    @property
    def notify_master_rx_lower_pri(self) -> Sequence[str] | None: ...


def notice_notify(instance: NoticeScripts, notice: InstanceNotice) -> RunNotify | None:
    """The scripts of an instance notice (vrrp_notify.c):
    - DELETED (with notify_deleted): send_instance_notifies in state DELETED, i.e. the
      notify_deleted script (get_iscript: script_deleted), then the generic `notify` with
      `INSTANCE <name> DELETED <priority>` (notify_script_exec);
    - MASTER_RX_LOWER_PRI: send_event_notify runs notify_master_rx_lower_pri as configured,
      nothing appended (notify_exec), and no generic `notify`;
    - MASTER_PRIORITY / BACKUP_PRIORITY: send_instance_priority_notifies writes the FIFO
      line only: no script."""
    scripts: list[Argv] = []
    if notice.notice == NOTICE_DELETED:
        if instance.notify_deleted_script:
            scripts.append(tuple(instance.notify_deleted_script))
        if instance.notify:
            scripts.append((*instance.notify, "INSTANCE", notice.instance, NOTICE_DELETED,
                            str(notice.priority)))
    elif notice.notice == NOTICE_MASTER_RX_LOWER_PRI and instance.notify_master_rx_lower_pri:
        scripts.append(tuple(instance.notify_master_rx_lower_pri))
    if not scripts:
        return None
    env = {"HAIPVS_TYPE": "INSTANCE", "HAIPVS_NAME": notice.instance,
           "HAIPVS_STATE": notice.notice, "HAIPVS_PRIORITY": str(notice.priority)}
    return RunNotify(f"instance:{notice.instance}", tuple(scripts), env)


def priority_changes_notified(own: bool | None, group: bool | None, default: bool) -> bool:
    """vrrp.c vrrp_complete_instance: the instance's notify_priority_changes, else its sync
    group's, else global vrrp_notify_priority_changes."""
    for value in (own, group):
        if value is not None:
            return value
    return default
