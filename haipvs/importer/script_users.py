"""keepalived's script users: `script_user USER [GROUP]` and `enable_script_security`
(global_defs), `user USER [GROUP]` (vrrp_script, MISC_CHECK), and the optional
`USER [GROUP]` after a notify script's quoted command line.

haipvs writes the user as `user` or `user:group` (haipvs/config/users.py). keepalived's
rules (lib/notify.c) are haipvs' too: haipvs/policy/script_security.py.
"""

from __future__ import annotations

import grp
import pwd

from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Draft, argv


def with_user(command: list[str], user: str | None, default: str | None) -> list[str] | dict:
    """A notify-type script in haipvs' form (haipvs/config/notify_script.py): the argv, or
    `{command, user[, group]}` when it has a user of its own that is not the default."""
    if user is None or user == default:
        return command
    name, _, group = user.partition(":")
    return {"command": command, "user": name, **({"group": group} if group else {})}


def user_spec(ctx: Context, node: Node, words: list[str]) -> str | None:
    """`USER [GROUP]` -> "user" / "user:group"; None (noted) for anything else."""
    if not 1 <= len(words) <= 2:
        ctx.skip(node, "expected USER [GROUP]")
        return None
    return ":".join(words)


class User:
    """`user USER [GROUP]` (vrrp_parser.c vrrp_vscript_user_handler, check_misc.c
    misc_user_handler) -> the block's `user` (or `out`)."""

    def __init__(self, out: str = "user") -> None:
        self.out = out

    def __call__(self, ctx: Context, node: Node, draft: Draft) -> None:
        value = user_spec(ctx, node, node.values)
        if value is not None:
            draft.fields[self.out] = value


def enable_script_security(ctx: Context, node: Node, draft: Draft) -> None:
    """global_parser.c script_security_handler: the keyword alone."""
    draft.fields["enable_script_security"] = True


DROPPED_NOTE = ("keepalived 2.2.7 reads {words!r} after the command as its user and group "
                "(lib/notify.c notify_script_init) and ignores the script: {why}; to pass "
                "arguments, quote the whole command line")


def script_parts(ctx: Context, node: Node) -> tuple[list[str], str | None] | None:
    """A notify-type script line as keepalived reads it (lib/notify.c notify_script_init):
    the first word, quoted or not, is the command line (split like a shell); the next two,
    if any, are its USER and GROUP (set_script_uid_gid; later words are ignored). Returns
    (argv, "user[:group]" or None), or None (noted) when keepalived ignores the script: an
    unknown user or group ("Invalid user/group for ... script")."""
    first, rest = node.args[0], [t.text for t in node.args[1:3]]
    if not rest:
        return argv([first]), None
    user, group = rest[0], rest[1] if len(rest) > 1 else None
    missing = unknown_user_or_group(user, group)
    if missing is not None:
        ctx.skip(node, DROPPED_NOTE.format(words=" ".join(rest),
                                           why=f"{missing} does not exist on this host"))
        return None
    return argv([first]), user if group is None else f"{user}:{group}"


def unknown_user_or_group(user: str, group: str | None) -> str | None:
    """"user 'x'" / "group 'y'" when keepalived's set_script_uid_gid (lib/notify.c) would
    fail on this host, else None."""
    try:
        pwd.getpwnam(user)
    except KeyError:
        return f"user {user!r}"
    if group is not None:
        try:
            grp.getgrnam(group)
        except KeyError:
            return f"group {group!r}"
    return None


def rs_init_notifies(ctx: Context, node: Node, draft: Draft) -> None:
    """`rs_init_notifies [BOOL]` (global_parser.c rs_init_notifies_handler: alone it is
    true; an invalid word leaves the setting as it was)."""
    words = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}
    value = words.get(node.values[0].lower()) if node.values else True
    if value is None:
        ctx.skip(node, f"invalid value {node.values[0]!r}; keepalived ignores it too")
        return
    draft.fields["rs_init_notifies"] = value


class NotifyCommand:
    """`notify_xxx "command line" [USER [GROUP]]` (lib/notify.c notify_script_init: the
    words after the command are its user and group; set_script_uid_gid) -> the argv, or
    `{command, user, group}` (script_parts)."""

    def __init__(self, out: str) -> None:
        self.out = out

    def __call__(self, ctx: Context, node: Node, draft: Draft) -> None:
        if not node.args:
            ctx.skip(node, "needs a value")
            return
        parts = script_parts(ctx, node)
        if parts is None:
            return
        command, user = parts
        if command:
            default = ctx.state.global_defs.fields.get("script_user")
            draft.fields[self.out] = with_user(command, user, default)
