"""keepalived's notify extras -> haipvs (haipvs/config/vrrp_instance.py, tracking.py,
global_defs.py).

vrrp_instance (keepalived/vrrp/vrrp_parser.c): `notify_deleted [SCRIPT [USER [GROUP]]]`
(vrrp_notify_deleted_handler: a second one is "already specified - ignoring"),
`notify_master_rx_lower_pri SCRIPT [USER [GROUP]]`, `notify_priority_changes [BOOL]`;
vrrp_sync_group: `notify_priority_changes [BOOL]`; global_defs (core/global_parser.c):
`vrrp_notify_priority_changes [BOOL]`. No value means true.
"""

from __future__ import annotations

from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Rule
from haipvs.importer.script_users import NotifyCommand
from haipvs.importer.smtp import TRUE_FALSE
from haipvs.importer.state import Draft


def _flag(key: str) -> Rule:
    def rule(ctx: Context, node: Node, draft: Draft) -> None:
        if not node.values:
            draft.fields[key] = True
            return
        value = TRUE_FALSE.get(node.values[0].lower())
        if value is None or len(node.values) > 1:
            ctx.skip(node, f"invalid value {' '.join(node.values)!r}; keepalived ignores it "
                     "too")
            return
        draft.fields[key] = value
    return rule


_SCRIPT = NotifyCommand("notify_deleted_script")


def notify_deleted(ctx: Context, node: Node, draft: Draft) -> None:
    if draft.fields.get("notify_deleted"):
        ctx.skip(node, "notify_deleted is already set; keepalived ignores this one")
        return
    draft.fields["notify_deleted"] = True
    if node.args:
        _SCRIPT(ctx, node, draft)


INSTANCE_RULES: dict[str, Rule] = {
    "notify_deleted": notify_deleted,
    "notify_master_rx_lower_pri": NotifyCommand("notify_master_rx_lower_pri"),
    "notify_priority_changes": _flag("notify_priority_changes"),
}
SYNC_GROUP_RULES: dict[str, Rule] = {
    "notify_priority_changes": _flag("notify_priority_changes"),
}
GLOBAL_RULES: dict[str, Rule] = {
    "vrrp_notify_priority_changes": _flag("vrrp_notify_priority_changes"),
}
INSTANCE_ORDER = ("notify_deleted", "notify_deleted_script", "notify_master_rx_lower_pri",
                  "notify_priority_changes")
