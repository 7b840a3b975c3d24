"""A checker's bind_port / bind_if (keepalived/check/check_api.c co_srcport_handler,
co_srcif_handler; core/layer4.c socket_bind_connect binds only when bindto is set)."""

from __future__ import annotations

from typing import Any

from haipvs import limits
from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Rule, Value


def _bind_if(ctx: Context, node: Node, draft: Any) -> None:
    value = ctx.one(node)
    if value is None:
        return
    if len(value) > 15:  # co_srcif_handler: "Interface name %s is too long - ignoring"
        ctx.skip(node, f"interface name {value!r} is too long (IFNAMSIZ): keepalived "
                 "ignores it")
        return
    draft.fields["bind_if"] = value
    draft.fields.setdefault("_bind_nodes", {})["bind_if"] = node


def _bind_port(ctx: Context, node: Node, draft: Any) -> None:
    Value("bind_port", int, 1, limits.PORT_MAX)(ctx, node, draft)
    if "bind_port" in draft.fields:
        draft.fields.setdefault("_bind_nodes", {})["bind_port"] = node


BIND: dict[str, Rule] = {"bind_port": _bind_port, "bind_if": _bind_if}


def finish_bind(ctx: Context, fields: dict[str, Any]) -> None:
    """keepalived binds to bind_port only together with bindto: alone it binds nothing,
    and haipvs refuses it, so it is left out with a note."""
    nodes = fields.pop("_bind_nodes", {})
    if "bind_port" in fields and "bindto" not in fields:
        del fields["bind_port"]
        ctx.skip(nodes["bind_port"], "without bindto keepalived binds no source port "
                 "(layer4.c socket_bind_connect binds only a bindto address)")
