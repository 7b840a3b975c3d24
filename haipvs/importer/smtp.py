"""keepalived's e-mail alert keywords -> haipvs `global.smtp` and the per-entity
`smtp_alert` (haipvs/config/smtp.py).

global_defs (keepalived/core/global_parser.c): `notification_email { ADDR ... }`,
`notification_email_from ADDR`, `smtp_server ADDR|NAME [PORT]`, `smtp_helo_name NAME`,
`smtp_connect_timeout SECS`, `smtp_alert [BOOL]`, `smtp_alert_vrrp [BOOL]`,
`smtp_alert_checker [BOOL]`, `no_email_faults`, `no_checker_emails [BOOL]`.
vrrp_instance, vrrp_sync_group, virtual_server, real_server: `smtp_alert [BOOL]`
(vrrp_parser.c vrrp_smtp_handler, vrrp_gsmtp_handler; check_parser.c vs_smtp_alert_handler,
rs_smtp_alert_handler): no value means true.
"""

from __future__ import annotations

import re
from typing import Any

from haipvs import limits
from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Rule, ordered
from haipvs.importer.state import Draft, GlobalDefs

# lib/parser.c check_true_false: the words keepalived takes.
TRUE_FALSE = {"true": True, "on": True, "yes": True, "false": False, "off": False,
              "no": False}
SMTP_ORDER = ("server", "port", "notification_email", "notification_email_from", "helo_name",
              "connect_timeout", "alert", "alert_vrrp", "alert_checker", "no_email_faults")
# an address or a DNS name (haipvs.config.common.HOSTNAME)
HOST = re.compile(r"[A-Za-z0-9_.:-]+")
# statements that set global.smtp, to report if it is dropped (no smtp_server)
_NODES = "smtp_nodes"


def _bool(ctx: Context, node: Node) -> bool | None:
    if not node.values:
        return True
    value = TRUE_FALSE.get(node.values[0].lower())
    if value is None or len(node.values) > 1:
        # "Invalid ... smtp_alert parameter %s": keepalived leaves it unset
        ctx.skip(node, f"invalid value {' '.join(node.values)!r}; keepalived ignores it too")
    return value


def smtp_alert(ctx: Context, node: Node, draft: Draft) -> None:
    """`smtp_alert [BOOL]` in an instance, sync group, virtual or real server."""
    value = _bool(ctx, node)
    if value is not None:
        draft.fields["smtp_alert"] = value


def _smtp(draft: GlobalDefs, node: Node) -> dict[str, Any]:
    draft.fields.setdefault("smtp", {})
    nodes = getattr(draft, _NODES, None)
    if nodes is None:
        nodes = []
        setattr(draft, _NODES, nodes)
    nodes.append(node)
    return draft.fields["smtp"]


def _global_bool(key: str) -> Rule:
    def rule(ctx: Context, node: Node, draft: GlobalDefs) -> None:
        value = _bool(ctx, node)
        if value is not None:
            _smtp(draft, node)[key] = value
    return rule


def _text(key: str) -> Rule:
    def rule(ctx: Context, node: Node, draft: GlobalDefs) -> None:
        value = ctx.one(node)
        if value is not None:
            _smtp(draft, node)[key] = value
    return rule


def smtp_server(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    """`smtp_server ADDR|NAME [PORT]` (global_parser.c smtpserver_handler; port 25)."""
    if not node.values or len(node.values) > 2:
        ctx.skip(node, "expected an address or name and an optional port")
        return
    if not HOST.fullmatch(node.values[0]):
        # "Invalid smtp server %s %s": left unset, so keepalived sends no mail
        ctx.skip(node, f"invalid smtp server {node.values[0]!r}; keepalived ignores it too")
        return
    smtp = _smtp(draft, node)
    smtp["server"] = node.values[0]
    if len(node.values) == 2:
        try:
            port = int(node.values[1])
        except ValueError:
            port = 0
        if not 1 <= port <= limits.PORT_MAX:
            ctx.skip(node, f"bad port {node.values[1]!r}")
            del smtp["server"]
            return
        smtp["port"] = port


def connect_timeout(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    value = ctx.one(node, int, 0, 3600)
    if value is None:
        return
    if value == 0:  # global_parser.c smtpto_handler: "must be greater than 0, setting to 1"
        ctx.changed(node, "0 is taken as 1, as keepalived does")
        value = 1
    _smtp(draft, node)["connect_timeout"] = value


def notification_email(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    """`notification_email { ADDR ... }`: one address per line (global_parser.c
    email_handler reads each word of the block)."""
    addresses = [word for child in ctx.block(node) for word in (child.keyword, *child.values)]
    if not addresses:
        ctx.skip(node, "empty notification_email block (keepalived warns and sends nothing)")
        return
    smtp = _smtp(draft, node)
    smtp["notification_email"] = [*smtp.get("notification_email", []), *addresses]


def no_email_faults(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    # global_parser.c no_email_faults_handler: the keyword alone sets it; words after it are
    # ignored there, so here too
    _smtp(draft, node)["no_email_faults"] = True


def no_checker_emails(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    value = _bool(ctx, node)
    if value is False:
        ctx.changed(node, "haipvs mails a real server only when its up/down state changes, "
                    "as keepalived with no_checker_emails; not once per checker")


GLOBAL_RULES: dict[str, Rule] = {
    "notification_email": notification_email,
    "notification_email_from": _text("notification_email_from"),
    "smtp_server": smtp_server,
    "smtp_helo_name": _text("helo_name"),
    "smtp_connect_timeout": connect_timeout,
    "smtp_alert": _global_bool("alert"),
    "smtp_alert_vrrp": _global_bool("alert_vrrp"),
    "smtp_alert_checker": _global_bool("alert_checker"),
    "no_email_faults": no_email_faults,
    "no_checker_emails": no_checker_emails,
}


def finish_smtp(ctx: Context, draft: GlobalDefs) -> None:
    """keepalived sends nothing without smtp_server (core/smtp.c smtp_alert); haipvs needs
    it to have `global.smtp`, so the others are left out, with a note on each."""
    smtp = draft.fields.get("smtp")
    if smtp is None:
        return
    if "server" not in smtp:
        for node in getattr(draft, _NODES, []):
            ctx.skip(node, "no smtp_server: keepalived sends no e-mail either")
        del draft.fields["smtp"]
        return
    draft.fields["smtp"] = ordered(smtp, SMTP_ORDER)
