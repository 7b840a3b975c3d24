"""HTTP_GET / SSL_GET `fast_recovery [true|false]` (keepalived/check/check_http.c
fast_recovery_handler, epilog).

keepalived checks one url per delay_loop; with fast_recovery, a checker that has not run yet
or is down without a failing url goes on to its next url at once, so a recovering server is
up after one pass over its urls instead of one delay_loop per url. haipvs always GETs every
url in one attempt, so its recovery is the fast one whatever the flag: there is no key to
set, and the note says so. (What stays different: before its first success keepalived's
fast_recovery also retries without delay_before_retry; haipvs waits it.)"""

from __future__ import annotations

from typing import Any

from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context

_WORDS = {"true": True, "on": True, "yes": True, "false": False, "off": False, "no": False}


def fast_recovery(ctx: Context, node: Node, draft: Any) -> None:
    # check_true_false(): true/on/yes, false/off/no; anything else is a config error there
    if len(node.values) > 1 or (node.values and node.values[0].lower() not in _WORDS):
        ctx.skip(node, f"bad value {' '.join(node.values)!r} (keepalived: 'Invalid "
                 "fast_recovery parameter')")
        return
    on = _WORDS[node.values[0].lower()] if node.values else True
    if on:
        ctx.changed(node, "haipvs checks every url in one attempt, so a server recovers "
                    "after one passing attempt as with fast_recovery (before the first "
                    "success it still waits delay_before_retry between retries)")
    else:
        ctx.changed(node, "haipvs checks every url in one attempt: recovery takes one "
                    "passing attempt, where keepalived without fast_recovery takes one "
                    "delay_loop per url")
