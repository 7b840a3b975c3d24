"""keepalived's real_server -> a haipvs `real_servers:` entry, with its checkers; and the
forwarding-method and checker-default keywords it shares with virtual_server
(keepalived/check/check_parser.c)."""

from __future__ import annotations

import ipaddress
from dataclasses import field
from typing import Any

from haipvs import limits
from haipvs.dataclass_lean import dataclass
from haipvs.importer.checkers import (
    CHECKERS,
    CONNECTING,
    HTTP,
    TIMED,
    checker_block,
    checkers,
)
from haipvs.importer.emit import Block
from haipvs.importer.grammar import Node
from haipvs.importer.rules import (
    SECONDS_MAX,
    Context,
    Draft,
    Flag,
    Rule,
    Skip,
    Value,
    number,
    ordered,
)
from haipvs.importer.script_users import NotifyCommand
from haipvs.importer.smtp import smtp_alert

THRESHOLD_MAX = 65535  # as haipvs' config (u_threshold / l_threshold)
RS_ORDER = ("address", "port", "weight", "lb_kind", "tun_type", "tun_port", "tun_flags",
            "u_threshold", "l_threshold", "inhibit_on_failure", "smtp_alert", "notify_up",
            "notify_down")
# Checker settings a virtual_server or real_server may give for all of its checkers.
CHECKER_DEFAULT_KEYWORDS = ("retry", "delay_before_retry", "warmup", "connect_timeout",
                            "alpha")


@dataclass
class Checked:
    kind: str  # haipvs checker name
    settings: dict[str, Any]
    node: Node


@dataclass
class ServerDraft(Draft):
    """What a virtual_server and a real_server body both gather besides their fields."""

    # Checker settings given outside the checkers, applied to each where it means something.
    defaults: dict[str, Any] = field(default_factory=dict)
    tun: dict[str, Any] = field(default_factory=dict)  # TUN options of its lvs_method


@dataclass
class RealServerDraft(ServerDraft):
    checkers: list[Checked] = field(default_factory=list)


# ---- shared with virtual_server --------------------------------------------------------------

def lb_kind(ctx: Context, node: Node, tun: dict[str, Any]) -> str | None:
    """`lvs_method NAT|DR|TUN [type ipip|gue|gre] [port N] [nocsum|csum|remcsum]`; the TUN
    options go into `tun` (cleared again when the method is not TUN)."""
    if not node.args:
        ctx.skip(node, "needs a value")
        return None
    kind = node.values[0]
    if kind not in limits.LB_KINDS:
        # check_parser.c svr_forwarding_handler() compares with strcmp: `dr` is "unknown
        # [dr] routing method" and ignored; with no method set, validate_check_config()
        # makes the server NAT ("no forwarding method set, setting default NAT").
        if kind.upper() in limits.LB_KINDS:
            ctx.skip(node, f"keepalived takes NAT, DR and TUN in upper case only: it "
                     f"ignores {kind!r}, so the method is the one set elsewhere (a real "
                     f"server's is its virtual_server's), else {limits.DEFAULT_LB_KIND}, as "
                     f"here (write {kind.upper()!r} if you meant it)")
        else:
            ctx.skip(node, f"unknown forwarding method {kind!r}; keepalived ignores it too")
        return None
    rest = node.values[1:]
    i = 0
    while i < len(rest):
        word = rest[i]
        if word == "type" and i + 1 < len(rest) and rest[i + 1] in limits.TUN_TYPES:
            tun["tun_type"] = rest[i + 1]
            i += 2
        elif word == "port" and i + 1 < len(rest):
            try:
                tun["tun_port"] = int(rest[i + 1])
            except ValueError:
                ctx.skip(node, f"bad tunnel port {rest[i + 1]!r}")
            i += 2
        elif word in limits.TUN_FLAGS:
            tun.setdefault("tun_flags", []).append(word)
            i += 1
        else:
            ctx.skip(node, f"unknown option {word!r}")
            i += 1
    if tun and kind != "TUN":
        ctx.skip(node, "tunnel options only apply to TUN")
        tun.clear()
    return kind


def forwarding(ctx: Context, node: Node, draft: ServerDraft) -> None:
    """lb_kind / lvs_method in a virtual_server or real_server."""
    kind = lb_kind(ctx, node, draft.tun)
    if kind is not None:
        draft.fields["lb_kind"] = kind


def checker_default(ctx: Context, node: Node, draft: ServerDraft) -> None:
    key = node.keyword
    if key == "alpha":
        draft.defaults["alpha"] = True
        return
    convert = int if key == "retry" else number
    value = ctx.one(node, convert, 0, SECONDS_MAX)
    if value is not None:
        draft.defaults[key] = value


def virtualhost_default(ctx: Context, node: Node, draft: ServerDraft) -> None:
    value = ctx.one(node)
    if value is not None:
        draft.defaults["virtualhost"] = value


CHECKER_DEFAULTS: dict[str, Rule] = {
    "virtualhost": virtualhost_default,
    **{keyword: checker_default for keyword in CHECKER_DEFAULT_KEYWORDS},
}


# ---- real_server -------------------------------------------------------------------------------

def add_checker(ctx: Context, node: Node, draft: RealServerDraft) -> None:
    for settings in checkers(ctx, node):  # an SMTP_CHECK's host blocks are more checkers
        draft.checkers.append(Checked(CHECKERS[node.keyword], settings, node))


def rs_notify(ctx: Context, node: Node, draft: Any) -> None:
    """`notify_up|notify_down SCRIPT [USER [GROUP]]` (check_parser.c notify_up_handler:
    notify_script_init(0); a second one is "already specified - ignoring")."""
    if node.keyword in draft.fields:
        ctx.skip(node, f"{node.keyword} is already given for this real server; keepalived "
                 f"keeps the first")
        return
    NotifyCommand(node.keyword)(ctx, node, draft)


REAL_SERVER: dict[str, Rule] = {
    "weight": Value("weight", int, 0, limits.WEIGHT_MAX),
    "lvs_method": forwarding,
    # check_parser.c installs only lvs_method in a real_server; lb_kind is "Unknown keyword".
    "lb_kind": Skip("keepalived 2.2.7 takes only lvs_method in a real_server: it ignores "
                    "lb_kind here, and the server uses its virtual_server's method"),
    "uthreshold": Value("u_threshold", int, 0, THRESHOLD_MAX),
    "lthreshold": Value("l_threshold", int, 0, THRESHOLD_MAX),
    "inhibit_on_failure": Flag("inhibit_on_failure"),
    **CHECKER_DEFAULTS,
    "delay_loop": checker_default,
    **{keyword: add_checker for keyword in CHECKERS},
    "smtp_alert": smtp_alert,  # smtp.py
    "notify_up": rs_notify,
    "notify_down": rs_notify,
}



# The checkers whose defaults keepalived 2.2.7 sets apart from check_api.c alloc_checker()'s
# (retry 1, delay_before_retry 1 s): written out, so the output means what keepalived runs
# whatever haipvs' own defaults are.
KEEPALIVED_RETRY = {
    "misc_check": 0,  # check_misc.c misc_check_handler(): default_retry = 0
    "dns_check": 3,   # check_dns.c: default_retry = DNS_DEFAULT_RETRY
}


def keepalived_checker_defaults(kind: str, settings: dict[str, Any], vs: dict[str, Any]) -> None:
    if kind in KEEPALIVED_RETRY:
        settings.setdefault("retry", KEEPALIVED_RETRY[kind])
    if kind == "dns_check":
        # check_dns.c: default_delay_before_retry = 0, which check_data.c
        # validate_check_config() turns into the checker's delay_loop.
        settings.setdefault("delay_before_retry", settings.get(
            "delay_loop", vs.get("delay_loop", limits.DEFAULT_DELAY_LOOP)))


def real_server(ctx: Context, node: Node, vs: dict[str, Any], vs_defaults: dict[str, Any],
                vs_tun: dict[str, Any], weight: int | None = None) -> Block | None:
    """`real_server ADDRESS [PORT] { ... }` of the virtual server whose fields are `vs`;
    `vs_defaults` are its checker settings and `vs_tun` the TUN options of its lvs_method,
    which apply to its real servers."""
    values = node.values
    try:
        address = str(ipaddress.ip_address(values[0]))
        # check_data.c alloc_rs(): port 0 is no port ("inet_stosockaddr rejects port 0")
        port = (int(values[1]) or None) if len(values) > 1 else None
    except (ValueError, IndexError):
        ctx.skip(node, f"bad real server {' '.join(values)!r}")
        return None
    draft = RealServerDraft(fields={"address": address}, defaults=dict(vs_defaults))
    if weight is not None:  # the virtual_server's `weight`, its real servers' default
        draft.fields["weight"] = weight
    rs = draft.fields
    comments: dict[str, str] = {}
    ctx.apply_all(REAL_SERVER, node, draft)
    kind = rs.get("lb_kind") or vs.get("lb_kind", limits.DEFAULT_LB_KIND)
    vs_port = vs.get("port")
    if port is None and vs_port:
        port = vs_port
        comments["port"] = "keepalived uses the virtual server's port"
    if kind in ("DR", "TUN") and vs_port is not None and port not in (None, vs_port):
        # DR and TUN forward to the VIP's port; the checks still go to the one configured.
        ctx.changed(node, f"port {port} -> {vs_port}: {kind} cannot change the port; "
                    f"checks still go to port {port}", "real_server")
        for checked in draft.checkers:
            if checked.kind in CONNECTING:
                checked.settings.setdefault("connect_port", port)
        port = vs_port
    if "fwmark" in vs and kind != "NAT" and port:
        # check_data.c validate_check_config(): "fwmark virtual server ..., real server ...
        # has port specified - clearing"; the checks still go to the port configured.
        ctx.changed(node, f"port {port} dropped: keepalived clears the port of a {kind} real "
                    f"server of a fwmark service; checks still go to port {port}",
                    "real_server")
        for checked in draft.checkers:
            if checked.kind in CONNECTING:
                checked.settings.setdefault("connect_port", port)
        port = None
    elif "fwmark" in vs and kind == "NAT" and port is None:
        port = 0  # IPVS then keeps the packet's destination port (keepalived's sample too)
        comments["port"] = "0: IPVS keeps the packet's destination port"
    if port is not None:
        rs["port"] = port
    tun = draft.tun
    if not tun and kind == "TUN":
        tun = vs_tun
    if tun:
        if kind == "TUN":
            rs.update(tun)
        else:
            ctx.skip(node, "tunnel options without TUN")
    by_kind: dict[str, list[Block]] = {}
    for checked in draft.checkers:
        settings = checked.settings
        for setting, value in draft.defaults.items():
            if checked.kind == "file_check":  # check_file.c takes no retry/timeout/alpha
                break
            if setting == "connect_timeout" and checked.kind not in TIMED:
                continue
            if setting == "virtualhost" and checked.kind not in HTTP:
                continue
            settings.setdefault(setting, value)
        keepalived_checker_defaults(checked.kind, settings, vs)
        if checked.kind in CONNECTING and not port and "connect_port" not in settings:
            ctx.skip(checked.node, "the real server has no port; haipvs needs connect_port")
            continue
        by_kind.setdefault(checked.kind, []).append(checker_block(settings))
    block = Block(ordered(rs, RS_ORDER))
    for name, items in by_kind.items():
        block[name] = items[0] if len(items) == 1 else items
    block.notes.update(comments)
    return block
