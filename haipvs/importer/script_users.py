"""keepalived's script users: `script_user USER [GROUP]` and `enable_script_security`
(global_defs), `user USER [GROUP]` (vrrp_script, MISC_CHECK), and the optional
`USER [GROUP]` after a notify script's quoted command line.

haipvs writes the user as `user` or `user:group` (haipvs/config/users.py). keepalived's
rules (lib/notify.c) are haipvs' too: haipvs/policy/script_security.py.
"""

from __future__ import annotations

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


class NotifyCommand:
    """`notify_xxx "command line" [USER [GROUP]]` (lib/notify.c notify_script_init: the
    words after a quoted command are its user and group; set_script_uid_gid) -> the argv, or
    `{command, user, group}`. Without quotes every word is the command, as the importer has
    always read it."""

    def __init__(self, out: str) -> None:
        self.out = out

    def __call__(self, ctx: Context, node: Node, draft: Draft) -> None:
        if not node.args:
            ctx.skip(node, "needs a value")
            return
        tokens = node.args
        user = None
        if tokens[0].quoted and len(tokens) > 1:
            user = user_spec(ctx, node, [t.text for t in tokens[1:]])
            tokens = tokens[:1]
        command = argv(tokens)
        if command:
            default = ctx.state.global_defs.fields.get("script_user")
            draft.fields[self.out] = with_user(command, user, default)
