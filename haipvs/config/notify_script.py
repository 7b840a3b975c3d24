"""The one kind of every notify-type script: a command with its own user and group.

keepalived lets each notify-type script carry its own user: `notify_master "/path/script arg"
USER [GROUP]` (lib/notify.c notify_script_init -> set_script_uid_gid; the words after the
command are the user and the group, else get_default_script_user). The same parser serves
vrrp_instance and vrrp_sync_group notify_* (vrrp_parser.c), the global FIFO scripts
(global_parser.c), virtual_server quorum_up/quorum_down and real_server notify_up/notify_down
(check_parser.c). haipvs writes one of:

    notify_master: /usr/local/bin/to-master --now        # split like a shell, no shell runs
    notify_master: [/usr/local/bin/to-master, --now]     # an argv list
    notify_master: {command: /usr/local/bin/to-master --now, user: alice, group: staff}

Without `user` the script runs as global.script_user (keepalived's default script user).
The value is a `ScriptCommand`: iterable, indexable and sized like its argv, so code that
only runs argv keeps working, and `run_as` gives the "user[:group]" the runners take
(haipvs/script_creds.py process_options).
"""

from __future__ import annotations

import grp
from collections.abc import Iterator
from typing import overload

from yaml.nodes import MappingNode

from haipvs.config.compound import Nested
from haipvs.config.kinds import Argv, Text
from haipvs.config.settings import model_section, setting
from haipvs.config.spec import INVALID, Values, parse_section
from haipvs.config.users import USER, check_user_exists
from haipvs.dataclass_lean import dataclass

GROUP = Text(32, r"[A-Za-z_][A-Za-z0-9_.-]*", "a group name")


@dataclass(frozen=True)
class ScriptCommand:
    """A notify-type script: its argv and, when configured, the user and group it runs as."""

    command: tuple[str, ...] = setting(Argv(), doc="the command (argv, no shell)")
    user: str | None = setting(USER, None, "run as this user (`user` or `user:group`)",
                               doc_default="global.script_user")
    group: str | None = setting(GROUP, None, "run with this group instead of the user's "
                                "login group (needs `user`)")

    @property
    def argv(self) -> tuple[str, ...]:
        return self.command

    @property
    def run_as(self) -> str | None:
        """"user" or "user:group" for script_creds.process_options; None: the default."""
        if self.user is None or self.group is None:
            return self.user
        return f"{self.user.partition(':')[0]}:{self.group}"

    def with_args(self, *extra: str) -> ScriptCommand:
        """The same script with `extra` appended (keepalived's notify: INSTANCE name ...)."""
        return ScriptCommand((*self.command, *extra), self.user, self.group)

    # Sequence-like over the argv, so `[*script, path]`, `script[0]` and `tuple(script)`
    # give the command as before this kind existed.
    def __iter__(self) -> Iterator[str]:
        return iter(self.command)

    def __len__(self) -> int:
        return len(self.command)

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> tuple[str, ...]: ...

    def __getitem__(self, index: int | slice) -> str | tuple[str, ...]:
        return self.command[index]


def script_command(value: ScriptCommand | tuple[str, ...] | list[str]) -> ScriptCommand:
    """A ScriptCommand from a config value (a plain argv is one without its own user)."""
    return value if isinstance(value, ScriptCommand) else ScriptCommand(tuple(value))


def _check(v: Values) -> None:
    check_user_exists(v, "user")
    if not v.ok("user", "group") or v["group"] is None:
        return
    if v["user"] is None:
        v.error("group", "a group needs a `user` (keepalived: `SCRIPT USER [GROUP]`)")
    elif ":" in v["user"]:
        v.error("group", "the group is given twice: in `user` (after `:`) and in `group`")
    else:
        try:
            grp.getgrnam(v["group"])
        except KeyError:
            v.error("group", f"group {v['group']!r} does not exist on this host")


SCRIPT_COMMAND = model_section(
    ScriptCommand, "notify_script", "Notify script with its own user",
    "The mapping form of a notify-type script (notify_*, quorum_up/down, notify_up/down, "
    "FIFO scripts): keepalived's `notify_master \"/path/script arg\" USER [GROUP]`.",
    check=_check,
    rules=("`user` and `group` must exist on this host; `group` needs `user`.",),
)


class NotifyScript(Argv):
    """A notify-type script: a command (string or argv list) or the mapping
    `{command, user, group}`; always gives a ScriptCommand. An Argv, so
    config/scripts.py finds it with every other script."""

    def parse(self, node, path, ctx):
        if isinstance(node, MappingNode):
            return parse_section(SCRIPT_COMMAND, node, path, ctx)
        argv = super().parse(node, path, ctx)
        return INVALID if argv is INVALID else ScriptCommand(argv)

    def schema(self, defs):
        return {"anyOf": [*super().schema(defs)["anyOf"], Nested(SCRIPT_COMMAND).schema(defs)]}

    def describe(self):
        return (f"{super().describe()}; or {Nested(SCRIPT_COMMAND).describe()} to run it as "
                f"another user")

    def sections(self):
        return [SCRIPT_COMMAND]


__all__ = ["SCRIPT_COMMAND", "NotifyScript", "ScriptCommand", "script_command"]
