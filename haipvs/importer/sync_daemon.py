"""keepalived's `lvs_sync_daemon` -> `global.lvs_sync_daemon`, read word by word as
keepalived 2.2.7 reads it (core/global_parser.c lvs_syncd_handler):

    lvs_sync_daemon IF [inst NAME] [id N] [maxlen N] [port N] [ttl N] [group ADDR]
    lvs_sync_daemon IF NAME [SYNCID]          (the old form, still read)

A bad option value is ignored with an error (the option keeps its default), a word that is
no option in third place is the instance's name, in fourth the sync id. The instance itself
is resolved after the file (vrrp_tracking.py): keepalived drops the daemon when the instance
does not exist (vrrp.c vrrp_complete_init "clearing lvs_syncd config")."""

from __future__ import annotations

import ipaddress
from typing import Any

from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context
from haipvs.importer.state import GlobalDefs

# IP_VS_IFNAME_MAXLEN is 16 with the NUL: "interface name '%s' too long - ignoring".
IFNAME_MAX = 15
# option -> (haipvs key, low, high) as lvs_syncd_handler reads it (read_unsigned_strvec).
NUMBERS = {"id": ("sync_id", 0, 255), "maxlen": ("maxlen", 1, 65535 - 20 - 8),
           "port": ("port", 1, 65535), "ttl": ("ttl", 1, 255)}


def _unsigned(text: str, low: int, high: int) -> int | None:
    """read_unsigned_strvec(): a decimal number in range, else None."""
    if not text.isdigit():
        return None
    value = int(text)
    return value if low <= value <= high else None


def _group(ctx: Context, node: Node, text: str) -> str | None:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        ctx.skip(node, f"group {text}: not an IP address; keepalived ignores it")
        return None
    if not address.is_multicast:
        ctx.skip(node, f"group {text}: not multicast; keepalived ignores it")
        return None
    return str(address)


def lvs_sync_daemon(ctx: Context, node: Node, draft: GlobalDefs) -> None:
    values = node.values
    if draft.sync_daemon_node is not None:
        # lvs_syncd_handler(): "lvs_sync_daemon has already been specified ... - ignoring"
        # (the same for vrrp_parser.c vrrp_lvs_syncd_handler()).
        ctx.skip(node, f"lvs_sync_daemon is already set at {draft.sync_daemon_node.where}; "
                 "keepalived keeps the first")
        return
    if not values:
        ctx.skip(node, "needs an interface (keepalived: \"lvs_sync_daemon requires interface\")")
        return
    if len(values[0]) > IFNAME_MAX:
        ctx.skip(node, f"interface name {values[0]!r} is too long; keepalived ignores the line")
        return
    sync: dict[str, Any] = {"interface": values[0]}
    i = 1
    while i < len(values):
        word = values[i]
        last = i == len(values) - 1
        if word == "inst" or word in NUMBERS or word == "group":
            if last:
                ctx.skip(node, f"{word}: no value; keepalived ignores it")
                break
            value = values[i + 1]
            if word == "inst":
                if "vrrp_instance" in sync:
                    ctx.skip(node, f"inst {value}: the instance is already "
                             f"{sync['vrrp_instance']}; keepalived keeps the first")
                else:
                    sync["vrrp_instance"] = value
            elif word == "group":
                if (group := _group(ctx, node, value)) is not None:
                    sync["group"] = group
            else:
                key, low, high = NUMBERS[word]
                if (number := _unsigned(value, low, high)) is None:
                    ctx.skip(node, f"{word} {value}: not a number {low}..{high}; keepalived "
                             "ignores it" + (" and uses the VRID" if word == "id" else ""))
                else:
                    sync[key] = number
            i += 2
            continue
        if i == 1:  # the old form's instance name (lvs_syncd_handler's i == 2)
            sync["vrrp_instance"] = word
        elif i == 2:  # the old form's sync id: "Please use keyword "id" before ..."
            if (number := _unsigned(word, 0, 255)) is None:
                ctx.skip(node, f"sync id {word}: not a number 0..255; keepalived uses the VRID")
            else:
                sync["sync_id"] = number
                ctx.changed(node, "the sync id without `id` before it (keepalived's old form)")
        else:
            ctx.skip(node, f"unknown option {word!r}; keepalived ignores it")
        i += 1
    draft.fields["lvs_sync_daemon"] = sync
    draft.sync_daemon_node = node
