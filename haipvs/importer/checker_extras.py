"""keepalived SMTP_CHECK and UDP_CHECK keywords -> haipvs smtp_check / udp_check settings.

SMTP_CHECK (keepalived/check/check_smtp.c): `helo_name`, the connection keywords, and the
deprecated `host { }` blocks. keepalived's smtp_check_end_handler() turns every host block
into one more checker (same helo_name, retry, delay_before_retry, ...; the host's own
connection): haipvs writes one smtp_check per host. When the SMTP_CHECK itself sets no
connection keyword (connect_ip, connect_port, bindto, bind_port, bind_if, fwmark,
connect_timeout), the first host *replaces* the checker's own connection; otherwise the
checker keeps it and every host is added.

UDP_CHECK (check/check_udp.c): `payload HEX`, `require_reply [HEX]` and
`min_reply_length` / `max_reply_length`, with keepalived's hex reading (lib/parser.c
read_hex_str, haipvs/policy/udp_reply.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Draft
from haipvs.policy.udp_reply import HexError, HexPattern, read_hex_str

# check_smtp.c smtp_check_end_handler(): any of these on the SMTP_CHECK keeps its own
# connection next to the hosts' (install_checker_common_keywords(true) connection keywords)
CONNECTION_KEYWORDS = ("connect_ip", "connect_port", "bindto", "bind_port", "bind_if",
                       "fwmark", "connect_timeout")
HOST_FIELDS = ("connect_ip", "connect_port", "bindto", "bind_port", "bind_if",
               "connect_timeout")

Rule = Callable[[Context, Node, Any], None]


def host_rule(common: Mapping[str, Rule], connect: Mapping[str, Rule]) -> Rule:
    """The rule for `host { ... }` in an SMTP_CHECK. Its connection keywords describe the
    host; its other common keywords (retry, delay_before_retry, delay_loop, warmup, alpha)
    are applied by keepalived to the SMTP_CHECK being read (CHECKER_GET_CURRENT), so to
    every checker made from it."""

    def host(ctx: Context, node: Node, draft: Any) -> None:
        entry = Draft()
        for child in ctx.block(node):
            if child.keyword in common:
                ctx.apply(common, child, draft)
            else:
                ctx.apply(connect, child, entry)
        if "connect_timeout" not in entry.fields:
            # smtp_host_handler() PMALLOCs the host's conn_opts: its connection timeout
            # starts at 0, not UINT_MAX, so smtp_check_end_handler() does not give it the
            # real server's / virtual server's; haipvs uses the checker's default instead.
            ctx.changed(node, "keepalived leaves a host block without connect_timeout at a "
                        "0 s timeout (check_smtp.c smtp_host_handler); haipvs uses the "
                        "real server's connect_timeout, else 5 s")
        draft.hosts.append(entry.fields)

    return host


def expand_smtp(ctx: Context, node: Node, settings: dict[str, Any],
                hosts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One settings dict per checker keepalived runs for this SMTP_CHECK."""
    if not hosts:
        return [settings]
    shared = {k: v for k, v in settings.items() if k not in HOST_FIELDS}
    own = [dict(shared, **host) for host in hosts]
    keeps_own = any(child.keyword in CONNECTION_KEYWORDS for child in node.children or ())
    result = [settings, *own] if keeps_own else own
    how = ("the SMTP_CHECK's own connection and one per host block" if keeps_own else
           "one per host block (the SMTP_CHECK sets no connection keyword of its own)")
    ctx.changed(node, f"deprecated host blocks: {len(result)} smtp_check entries, as "
                f"keepalived runs {how} (check_smtp.c smtp_check_end_handler)", "host")
    return result


# ---- UDP_CHECK -----------------------------------------------------------------------------

def pattern_text(pattern: HexPattern) -> str:
    """The canonical haipvs spelling: two nibbles per octet, x for a wildcard nibble."""
    words = []
    for index, octet in enumerate(pattern.data):
        mask = pattern.mask[index] if pattern.mask is not None else 0
        words.append("".join("x" if mask >> shift & 0xF else f"{octet >> shift & 0xF:x}"
                             for shift in (4, 0)))
    return " ".join(words)


def _hex(ctx: Context, node: Node, wildcard: bool) -> HexPattern | None:
    # payload_handler / require_reply_handler: make_strvec_str(strvec, 1) joins the words
    try:
        return read_hex_str(" ".join(node.values), wildcard=wildcard)
    except HexError:
        ctx.skip(node, "keepalived: \"Invalid hex string\"; it ignores the value too")
        return None


def udp_payload(ctx: Context, node: Node, draft: Draft) -> None:
    if not node.args:
        ctx.skip(node, "keepalived: \"UDP_CHECK payload requires a payload\"")
        return
    pattern = _hex(ctx, node, wildcard=False)
    if pattern is not None:
        draft.fields["payload_hex"] = pattern.data.hex()


def udp_require_reply(ctx: Context, node: Node, draft: Draft) -> None:
    """`require_reply` alone: any reply; `require_reply HEX`: the reply must match it (an
    invalid HEX still sets require_reply, as require_reply_handler does)."""
    draft.fields["require_reply"] = True
    if node.args:
        pattern = _hex(ctx, node, wildcard=True)
        if pattern is not None:
            draft.fields["reply_pattern"] = pattern_text(pattern)


def udp_lengths(ctx: Context, node: Node, settings: dict[str, Any]) -> None:
    """udp_check_end_handler() only warns when min > max ("will always fail", with a reply
    pattern); haipvs refuses such a check, so min_reply_length is left out (noted)."""
    low = settings.get("min_reply_length")
    high = settings.get("max_reply_length", 255)
    if low is not None and low > high:
        del settings["min_reply_length"]
        ctx.skip(node, f"min_reply_length {low} > max_reply_length {high}: keepalived warns "
                 "that the check will always fail (with a reply pattern); haipvs would refuse "
                 "it, so min_reply_length is left out")


def helo_name(ctx: Context, node: Node, draft: Draft) -> None:
    """check_smtp.c smtp_helo_name_handler: set_value() keeps the first word only."""
    if not node.args:
        ctx.skip(node, "keepalived: \"SMTP_CHECK helo name missing\"; it ignores it too")
        return
    draft.fields["helo_name"] = node.values[0]
