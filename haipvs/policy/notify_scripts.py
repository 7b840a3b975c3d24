"""Which notify scripts an event runs, and the one place their environment is built.

Pure: from a typed event (haipvs/events.py) and the config entity it concerns, the argv
lists to run in order, the user each runs as (its own `user`, keepalived's `SCRIPT USER
[GROUP]`: lib/notify.c notify_script_init) and the HAIPVS_* variables they get. The notify runner
(haipvs/notify.py) runs them, one owner's scripts one at a time; the variable names are an
interface to operators' scripts (docs/operations.md) and must not change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from haipvs.config.model import ScriptCommand
from haipvs.dataclass_lean import dataclass
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
    (`instance:<name>`, `group:<name>`, `quorum:<service>`, `rs:<service>/<server>`), each
    with `env`; script i as `users[i]` ("user[:group]"; None or missing: the runner's
    default, global.script_user)."""

    owner: str
    scripts: tuple[Argv, ...]
    env: Mapping[str, str]
    users: tuple[str | None, ...] = ()


def script_command(value: ScriptCommand | Sequence[str]) -> ScriptCommand:
    """A configured script as a ScriptCommand (a plain argv: one without its own user)."""
    return value if isinstance(value, ScriptCommand) else ScriptCommand(tuple(value))


def run_notify(owner: str, commands: Sequence[ScriptCommand],
               env: Mapping[str, str]) -> RunNotify | None:
    """RunNotify for `commands` (None when there are none), each with its own user."""
    if not commands:
        return None
    return RunNotify(owner, tuple(c.argv for c in commands), env,
                     tuple(c.run_as for c in commands))


def transition_commands(entity: Notifiable, kind: str, name: str, state: str,
                        priority: int) -> list[ScriptCommand]:
    """keepalived order (keepalived/vrrp/vrrp_notify.c): the state's own script
    (notify_master/backup/fault/stop) first, then the generic `notify` with
    `INSTANCE|GROUP <name> <state> <priority>` appended; each keeps its user."""
    scripts: list[ScriptCommand] = []
    specific = getattr(entity, f"notify_{str(state).lower()}", None)
    if specific:
        scripts.append(script_command(specific))
    if entity.notify:
        scripts.append(script_command(entity.notify).with_args(kind, name, str(state),
                                                               str(priority)))
    return scripts


def transition_scripts(entity: Notifiable, kind: str, name: str, state: str,
                       priority: int) -> list[Argv]:
    """The argv lists of transition_commands."""
    return [c.argv for c in transition_commands(entity, kind, name, state, priority)]


def instance_notify(instance: Notifiable, event: VrrpTransition) -> RunNotify | None:
    scripts = transition_commands(instance, "INSTANCE", event.instance, event.new,
                                  event.priority)
    env = {"HAIPVS_TYPE": "INSTANCE", "HAIPVS_NAME": event.instance,
           "HAIPVS_STATE": str(event.new), "HAIPVS_PREVIOUS_STATE": str(event.old),
           "HAIPVS_REASON": event.reason, "HAIPVS_PRIORITY": str(event.priority)}
    return run_notify(f"instance:{event.instance}", scripts, env)


def group_notify(group: Notifiable, event: GroupTransition) -> RunNotify | None:
    scripts = transition_commands(group, "GROUP", event.group, event.new, 0)
    env = {"HAIPVS_TYPE": "GROUP", "HAIPVS_NAME": event.group, "HAIPVS_STATE": str(event.new),
           "HAIPVS_PREVIOUS_STATE": str(event.old)}
    return run_notify(f"group:{event.group}", scripts, env)


def quorum_notify(script: Sequence[str] | None, quorum: int, hysteresis: int,
                  event: QuorumEvent) -> RunNotify | None:
    """keepalived's quorum_up / quorum_down (keepalived/check/ipwrapper.c): `script` is the
    one for the new state, None when not configured."""
    if not script:
        return None
    env = {"HAIPVS_TYPE": "QUORUM", "HAIPVS_SERVICE": event.service,
           "HAIPVS_STATE": "UP" if event.up else "DOWN", "HAIPVS_WEIGHT": str(event.weight),
           "HAIPVS_QUORUM": str(quorum), "HAIPVS_HYSTERESIS": str(hysteresis)}
    return run_notify(f"quorum:{event.service}", [script_command(script)], env)


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
    scripts: list[ScriptCommand] = []
    if notice.notice == NOTICE_DELETED:
        if instance.notify_deleted_script:
            scripts.append(script_command(instance.notify_deleted_script))
        if instance.notify:
            scripts.append(script_command(instance.notify).with_args(
                "INSTANCE", notice.instance, NOTICE_DELETED, str(notice.priority)))
    elif notice.notice == NOTICE_MASTER_RX_LOWER_PRI and instance.notify_master_rx_lower_pri:
        scripts.append(script_command(instance.notify_master_rx_lower_pri))
    env = {"HAIPVS_TYPE": "INSTANCE", "HAIPVS_NAME": notice.instance,
           "HAIPVS_STATE": notice.notice, "HAIPVS_PRIORITY": str(notice.priority)}
    return run_notify(f"instance:{notice.instance}", scripts, env)


def priority_changes_notified(own: bool | None, group: bool | None, default: bool) -> bool:
    """vrrp.c vrrp_complete_instance: the instance's notify_priority_changes, else its sync
    group's, else global vrrp_notify_priority_changes."""
    for value in (own, group):
        if value is not None:
            return value
    return default
