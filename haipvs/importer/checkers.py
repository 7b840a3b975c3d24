"""keepalived's real_server health checkers -> haipvs checker mappings.

TCP_CHECK, HTTP_GET / SSL_GET, MISC_CHECK, UDP_CHECK, DNS_CHECK, SMTP_CHECK and PING_CHECK
(keepalived/check/check_tcp.c, check_http.c, check_misc.c, check_udp.c, check_dns.c,
check_smtp.c, check_ping.c; SMTP's and UDP's own keywords are in checker_extras.py). Each
checker has its own keyword table, made of the parts it shares with the others: a keyword
another checker takes (connect_port in a MISC_CHECK, say) is reported like any unknown one.
"""

from __future__ import annotations

import re
from dataclasses import field
from typing import Any

from haipvs import limits
from haipvs.dataclass_lean import dataclass
from haipvs.importer import file_check
from haipvs.importer.checker_bind import BIND, finish_bind
from haipvs.importer.checker_extras import (
    expand_smtp,
    helo_name,
    host_rule,
    udp_lengths,
    udp_payload,
    udp_require_reply,
)
from haipvs.importer.emit import Block
from haipvs.importer.fast_recovery import fast_recovery
from haipvs.importer.grammar import Node
from haipvs.importer.rules import (
    SECONDS_MAX,
    Choice,
    Command,
    Context,
    Draft,
    Flag,
    Rule,
    Skip,
    Value,
    address,
    number,
    ordered,
    rules_for,
    text,
)
from haipvs.importer.script_users import User
from haipvs.importer.url_regex import URL_REGEX, finish_url_regex

CHECKERS = {
    "TCP_CHECK": "tcp_check",
    "HTTP_GET": "http_get",
    "SSL_GET": "ssl_get",
    "MISC_CHECK": "misc_check",
    "UDP_CHECK": "udp_check",
    "DNS_CHECK": "dns_check",
    "SMTP_CHECK": "smtp_check",
    "PING_CHECK": "ping_check",
    "FILE_CHECK": "file_check",
}
# Checkers that connect to the real server (all but MISC_CHECK): they need a port.
CONNECTING = ("tcp_check", "http_get", "ssl_get", "udp_check", "dns_check", "smtp_check")
# Checkers with a connect_timeout: the connecting ones and PING_CHECK (which has no port).
TIMED = (*CONNECTING, "ping_check")
HTTP = ("http_get", "ssl_get")
CHECKER_ORDER = ("file", "weight", "reverse", "url", "path", "virtualhost", "http_protocol",
                 "sni", "type", "name",
                 "helo_name", "payload_hex", "require_reply", "reply_pattern",
                 "min_reply_length", "max_reply_length", "connect_ip", "connect_port", "bindto",
                 "bind_port", "bind_if", "connect_timeout", "timeout", "misc_dynamic", "user",
                 "retry", "delay_before_retry", "delay_loop", "warmup", "alpha")


@dataclass
class CheckerDraft(Draft):
    kind: str = ""  # haipvs name: tcp_check, http_get, ...
    urls: list[dict[str, Any]] = field(default_factory=list)
    hosts: list[dict[str, Any]] = field(default_factory=list)  # SMTP_CHECK host { } blocks


@dataclass
class UrlDraft(Draft):
    checker: CheckerDraft = field(default_factory=CheckerDraft)
    regex_params: dict[str, Node] = field(default_factory=dict)  # importer/url_regex.py


# ---- url { ... } ---------------------------------------------------------------------------

def url_path(ctx: Context, node: Node, draft: UrlDraft) -> None:
    value = ctx.one(node)
    if value is not None and value.startswith("/") and " " not in value:
        draft.fields["path"] = value
    elif value is not None:
        ctx.skip(node, f"path {value!r} does not start with '/'")


def url_digest(ctx: Context, node: Node, draft: UrlDraft) -> None:
    value = ctx.one(node)
    if value is not None and re.fullmatch(r"[0-9a-fA-F]{32}", value):
        draft.fields["digest"] = value.lower()
    elif value is not None:
        ctx.skip(node, "not an MD5 digest (32 hex digits)")


def url_status_code(ctx: Context, node: Node, draft: UrlDraft) -> None:
    """Codes (200) and ranges (200-299), as many as given; one stays a scalar."""
    codes: list[Any] = []
    for word in node.values:
        if re.fullmatch(r"[1-5][0-9][0-9]", word):
            codes.append(int(word))
        elif re.fullmatch(r"[1-5][0-9][0-9]-[1-5][0-9][0-9]", word):
            codes.append(word)
        else:
            ctx.skip(node, f"bad status code {word!r}")
    if codes:
        draft.fields["status_code"] = codes[0] if len(codes) == 1 else codes


def url_regex(ctx: Context, node: Node, draft: UrlDraft) -> None:
    """haipvs matches with Python's `re`; keepalived's PCRE syntax mostly agrees."""
    value = ctx.one(node, text)
    if value is None:
        return
    try:
        re.compile(value)
    except re.error as exc:
        ctx.skip(node, f"not a Python regular expression: {exc}")
    else:
        draft.fields["regex"] = value


def url_virtualhost(ctx: Context, node: Node, draft: UrlDraft) -> None:
    """keepalived's url-level virtualhost: this url's Host header and SNI name."""
    value = ctx.one(node)
    if value is not None:
        draft.fields["virtualhost"] = value


URL: dict[str, Rule] = {
    "path": url_path,
    "digest": url_digest,
    "status_code": url_status_code,
    "regex": url_regex,
    "virtualhost": url_virtualhost,
    **URL_REGEX,
}


# ---- checker keywords ----------------------------------------------------------------------

def url(ctx: Context, node: Node, draft: CheckerDraft) -> None:
    entry = UrlDraft(checker=draft)
    ctx.apply_all(URL, node, entry)
    if "path" not in entry.fields:
        ctx.skip(node, "url without a path")
        return
    finish_url_regex(ctx, entry)
    draft.urls.append(entry.fields)


def http_protocol(ctx: Context, node: Node, draft: CheckerDraft) -> None:
    value = ctx.one(node)
    if value in ("1.0", "1.1"):
        draft.fields["http_protocol"] = value
    elif value in ("1.0C", "1.0c"):
        draft.fields["http_protocol"] = "1.0"
        ctx.changed(node, "1.0C is 1.0 with Connection: close; haipvs closes every check "
                    "connection")
    elif value is not None:
        ctx.skip(node, f"haipvs speaks HTTP 1.0 and 1.1, not {value}")


RETRY = Value("retry", int, 0, limits.RETRY_MAX)
COMMON: dict[str, Rule] = {
    "retry": RETRY,
    # keepalived 2.2.7 knows nb_get_retry only in HTTP_GET / SSL_GET (check_http.c); in the
    # other checkers it is "Unknown keyword" and the checker keeps its default retry.
    "nb_get_retry": Skip("keepalived 2.2.7 takes nb_get_retry only in HTTP_GET and SSL_GET: "
                         "here it ignores it and keeps the checker's default retry, as "
                         "haipvs does (write retry if you meant it)"),
    **rules_for(("delay_before_retry", "warmup"),
                lambda key: Value(key, number, 0, SECONDS_MAX)),
    "delay_loop": Value("delay_loop", number, limits.DELAY_LOOP_MIN, limits.DELAY_LOOP_MAX),
    "alpha": Flag("alpha"),
}
CONNECT: dict[str, Rule] = {
    "connect_timeout": Value("connect_timeout", number, 0.001, SECONDS_MAX),
    **rules_for(("connect_ip", "bindto"), lambda key: Value(key, address)),
    "connect_port": Value("connect_port", int, 1, limits.PORT_MAX),
    **BIND,  # bind_port, bind_if (checker_bind.py)
}
HTTP_GET: dict[str, Rule] = {
    "nb_get_retry": RETRY,
    "url": url,
    "virtualhost": Value("virtualhost"),
    "http_protocol": http_protocol,
    "fast_recovery": fast_recovery,  # fast_recovery.py: a note, haipvs recovers fast
}
TABLES: dict[str, dict[str, Rule]] = {
    "tcp_check": {**COMMON, **CONNECT},
    "http_get": {**COMMON, **CONNECT, **HTTP_GET},
    "ssl_get": {**COMMON, **CONNECT, **HTTP_GET, "enable_sni": Flag("sni")},
    "misc_check": {
        **COMMON,
        "misc_timeout": Value("timeout", number, 0.001, SECONDS_MAX),
        "misc_path": Command("path"),
        "misc_dynamic": Flag("misc_dynamic"),
        "user": User(),
    },
    "udp_check": {
        **COMMON, **CONNECT,
        "payload": udp_payload,
        "require_reply": udp_require_reply,
        **rules_for(("min_reply_length", "max_reply_length"),
                    lambda key: Value(key, int, 0, limits.UDP_REPLY_LENGTH_MAX)),
    },
    "dns_check": {
        **COMMON, **CONNECT,
        "type": Choice("type", str.upper, limits.DNS_TYPES,
                       "haipvs has no DNS query type {value!r}"),
        "name": Value("name"),
    },
    "smtp_check": {
        **COMMON, **CONNECT,
        "helo_name": helo_name,
        "host": host_rule(COMMON, CONNECT),
    },
    # check_ping.c: install_checker_common_keywords(true), but icmp_connect_thread() uses
    # only co->dst and connection_to: it neither binds, nor marks, nor uses a port.
    "file_check": file_check.TABLE,  # check_file.c: no common checker keywords
    "ping_check": {
        **COMMON,
        "connect_timeout": CONNECT["connect_timeout"],
        "connect_ip": CONNECT["connect_ip"],
        **rules_for(("connect_port", "bindto", "bind_port", "bind_if", "fwmark"),
                    lambda key: Skip(f"keepalived 2.2.7's PING_CHECK ignores {key} "
                                     "(check_ping.c icmp_connect_thread sends from an unbound "
                                     "ICMP socket to the address alone)")),
    },
}


def checker(ctx: Context, node: Node) -> dict[str, Any] | None:
    """The checker's settings (before the real server's defaults), or None (noted)."""
    draft = CheckerDraft(kind=CHECKERS[node.keyword])
    ctx.apply_all(TABLES[draft.kind], node, draft)
    c = draft.fields
    for fields in (c, *draft.hosts):
        finish_bind(ctx, fields)
    if draft.kind in HTTP:
        if not draft.urls:
            ctx.skip(node, "HTTP check without a url { path ... }")
            return None
        c["url"] = draft.urls
        named = "virtualhost" in c or any("virtualhost" in u for u in draft.urls)
        if draft.kind == "ssl_get" and "sni" not in c and named:
            c["sni"] = False  # check_ssl.c ssl_connect: SNI only with enable_sni
    if draft.kind == "file_check" and not file_check.finish(ctx, node, c):
        return None
    if draft.kind == "misc_check" and not c.get("path"):
        ctx.skip(node, "MISC_CHECK without misc_path")
        return None
    if draft.kind == "udp_check":
        udp_lengths(ctx, node, c)
    if draft.hosts:
        c["_hosts"] = draft.hosts  # checkers(): keepalived's one checker per host
    return c


def checkers(ctx: Context, node: Node) -> list[dict[str, Any]]:
    """The settings of every checker keepalived runs for this checker block: one, or for an
    SMTP_CHECK with host blocks one per host (checker_extras.expand_smtp)."""
    settings = checker(ctx, node)
    if settings is None:
        return []
    hosts = settings.pop("_hosts", [])
    return expand_smtp(ctx, node, settings, hosts)


def checker_block(settings: dict[str, Any]) -> Block:
    return Block(ordered(settings, CHECKER_ORDER))
