"""keepalived's process options -> haipvs `global:` (haipvs/config/process.py).

Top-level keywords (keepalived/core/global_parser.c init_global_keywords(), outside
global_defs): `instance NAME`, `net_namespace NAME`, `net_namespace_ipvs [NAME]`,
`use_pid_dir`, `namespace_with_ipsets`, `child_wait_time`. In global_defs:
`startup_script SCRIPT [user [group]]`, `shutdown_script ...`, `*_script_timeout SECS`
([1, 1000], global_parser.c startup_shutdown_script_timeout_handler()), `data_use_instance`.
"""

from __future__ import annotations

from collections.abc import Callable

from haipvs import limits
from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Rule
from haipvs.importer.script_users import script_parts, with_user
from haipvs.importer.state import GlobalDefs


def _name(key: str) -> Callable[[Context, Node], None]:
    """`instance NAME` / `net_namespace NAME` at the top level: global.<key>; keepalived keeps
    the first (global_parser.c: "... already set - ignoring")."""

    def rule(ctx: Context, node: Node) -> None:
        draft = ctx.state.global_defs
        value = ctx.one(node)
        if value is None:
            return
        if key in draft.fields:
            ctx.skip(node, f"{key} is already set to {draft.fields[key]!r}; keepalived keeps "
                     "the first")
            return
        draft.fields[key] = value
    return rule


def _net_namespace_ipvs(ctx: Context, node: Node) -> None:
    ctx.skip(node, "haipvs programs IPVS in the namespace it runs in (global.net_namespace); "
             "run the IPVS side with its own haipvs there")


def _script(key: str) -> Rule:
    """`startup_script SCRIPT [username [groupname]]`: SCRIPT is one (quoted) command line."""

    def rule(ctx: Context, node: Node, draft: GlobalDefs) -> None:
        if not node.args:
            ctx.skip(node, "needs a script")
            return
        # the words after the command are its user and group (notify_script_init)
        parts = script_parts(ctx, node)
        if parts is not None:
            draft.fields[key] = with_user(*parts, draft.fields.get("script_user"))
    return rule


def _timeout(key: str) -> Rule:
    def rule(ctx: Context, node: Node, draft: GlobalDefs) -> None:
        value = ctx.one(node, int, limits.SCRIPT_TIMEOUT_MIN, limits.SCRIPT_TIMEOUT_MAX)
        if value is not None:
            draft.fields[key] = value
    return rule


def _data_use_instance(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    ctx.changed(node, "haipvs always keeps each instance's files apart: its state_dir is "
                "/run/haipvs/INSTANCE")


TOP_LEVEL: dict[str, Callable[[Context, Node], None]] = {
    "instance": _name("instance"),
    "net_namespace": _name("net_namespace"),
    "net_namespace_ipvs": _net_namespace_ipvs,
    "use_pid_dir": lambda ctx, node: ctx.skip(
        node, "haipvs' pid file is global.pid_file, in its state_dir (named after "
        "global.instance)"),
}

GLOBAL_DEFS: dict[str, Rule] = {
    "startup_script": _script("startup_script"),
    "shutdown_script": _script("shutdown_script"),
    "startup_script_timeout": _timeout("startup_script_timeout"),
    "shutdown_script_timeout": _timeout("shutdown_script_timeout"),
    "data_use_instance": _data_use_instance,
}
