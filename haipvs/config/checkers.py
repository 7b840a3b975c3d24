"""Health checkers of a real server (keepalived's TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK,
UDP_CHECK, DNS_CHECK, SMTP_CHECK, PING_CHECK, FILE_CHECK) and the URLs of the HTTP ones."""

# setting() returns a dataclasses.field (see settings.py); ruff only knows field() itself.
# The models are slots dataclasses: one checker (and its urls) per real server, no __dict__
# each (issue 18).

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from haipvs import limits
from haipvs.config.common import ABS_PATH, HOSTNAME, IFNAME, PORT, IPAddress
from haipvs.config.compound import ListOf, Nested
from haipvs.config.kinds import (
    Argv,
    Bool,
    Choice,
    Float,
    Int,
    IPAddr,
    Regex,
    StatusCodes,
    Text,
)
from haipvs.config.settings import inputs, model_section, override, setting
from haipvs.config.spec import REQUIRED, Field, Section, Values
from haipvs.config.users import USER, check_user_exists
from haipvs.dataclass_lean import dataclass
from haipvs.policy.http_regex import ACCEPTED as REGEX_CHOICES
from haipvs.policy.http_regex import REFUSED, compiled

if TYPE_CHECKING:  # issue 18: udp_reply loads with the first udp_check (_check_udp)
    from haipvs.policy.udp_reply import HexPattern

CHECKER_RENAMED = {
    "nb_get_retry": "nb_get_retry is keepalived's old name; use retry",
    "connect_timeout_ms": "use connect_timeout (seconds, fractions allowed)",
}


REGEX_OFFSET_MAX = 1 << 30  # past any body haipvs reads (health/http.py MAX_BODY)
_HEX = r"[0-9a-fA-F \t]+"
_HEX_PATTERN = r"[0-9a-fA-FxX \t]+"


@dataclass(frozen=True, slots=True)
class HttpUrl:
    path: str = setting(Text(8192, r"/\S*", "starts with '/', no spaces"), doc="path to GET")
    # Accepted status codes as inclusive (low, high) ranges; default 200..299.
    status_code: tuple[tuple[int, int], ...] = setting(
        StatusCodes(), ((200, 299),), "accepted status codes", doc_default="200-299"
    )
    # 32 lower-case hex digits: MD5 of the body
    digest: str | None = setting(Text(32, r"[0-9a-fA-F]{32}", "32 hex digits"), None,
                                 "MD5 of the body (see `haipvs genhash`)")
    regex: str | None = setting(Regex(), None, "the body must contain a match")
    # keepalived's url-level virtualhost (check_http.c; check_ssl.c ssl_connect for SNI)
    virtualhost: str | None = setting(HOSTNAME, None, "Host header of this url (and its SNI "
                                      "name when sni is on and server_name unset)",
                                      doc_default="the checker's virtualhost")
    # When both digest and regex are set, both must match.
    # keepalived check_http.c (haipvs/policy/http_regex.py says how each applies)
    regex_no_match: bool = setting(Bool(), False, "the url passes when regex does not match")
    regex_options: tuple[str, ...] = setting(
        ListOf(Choice(REGEX_CHOICES, fold_case=False, refused=tuple(REFUSED.items()))), (),
        "keepalived's PCRE2 option names: caseless, dotall, multiline, extended, never_ucp, "
        "firstline; utf, ucp and the matcher tunings are accepted and change nothing")
    regex_min_offset: int = setting(Int(0, REGEX_OFFSET_MAX), 0,
                                    "the match starts at or after this offset of the body")
    regex_max_offset: int | None = setting(Int(0, REGEX_OFFSET_MAX), None,
                                           "the match starts at or before this offset",
                                           doc_default="anywhere")

    def status_ok(self, code: int) -> bool:
        return any(low <= code <= high for low, high in self.status_code)


def _check_url(v: Values) -> None:
    # keepalived url_check(): "regex parameters specified without regex" (ignored there)
    if v.ok("regex") and v["regex"] is None:
        for name in ("regex_no_match", "regex_options", "regex_min_offset",
                     "regex_max_offset"):
            if v.ok(name) and v[name] not in (False, (), 0, None):
                v.error(name, f"{name} needs regex")
        return
    if v.ok("regex", "regex_options") and v["regex_options"]:
        try:
            compiled(v["regex"], v["regex_options"])
        except re.error as exc:
            v.error("regex", f"invalid regular expression with regex_options: {exc}")
    if (v.ok("regex_min_offset", "regex_max_offset") and v["regex_max_offset"] is not None
            and v["regex_max_offset"] < v["regex_min_offset"]):
        v.error("regex_max_offset", "regex_max_offset is below regex_min_offset")


def _derive_url(v: Values) -> dict[str, Any]:
    return {"digest": v["digest"].lower() if v["digest"] is not None else None}


HTTP_URL = model_section(  # shared: see _checker_section
    HttpUrl,
    "http_url",
    "URL to check",
    "One URL of an HTTP/SSL check. Every listed URL must pass.",
    derive=_derive_url,
    check=_check_url,
    rules=("With both `digest` and `regex`, both must match.",
           "`regex_no_match`, `regex_options` and the offsets need `regex`; "
           "`regex_max_offset` is not below `regex_min_offset`."),
    renamed={"status": "use status_code"},
    shared=True,
)


@dataclass(frozen=True, slots=True)
class Checker:
    """Fields shared by every health checker. Times are seconds. `delay_loop` None means the
    virtual server's delay_loop. `retry` is the number of retries after a failure before the
    real server is declared down (keepalived `retry`, formerly `nb_get_retry`)."""

    kind: ClassVar[str] = ""

    retry: int = setting(Int(0, limits.RETRY_MAX), limits.DEFAULT_RETRY,
                         "retries after a failed check before the server is declared down")
    delay_before_retry: float = setting(Float(0, 86400), limits.DEFAULT_DELAY_BEFORE_RETRY,
                                        "seconds between retries")
    delay_loop: float | None = setting(Float(limits.DELAY_LOOP_MIN, limits.DELAY_LOOP_MAX),
                                       None, "seconds between checks",
                                       doc_default="the virtual server's delay_loop")
    warmup: float | None = setting(Float(0, 86400), None,
                                   "wait a random time up to this before the first check")
    alpha: bool = setting(Bool(), False, "start the server as down until its first success")


@dataclass(frozen=True, slots=True)
class ConnectChecker(Checker):
    """A checker that opens a connection: to connect_ip (default the real server address)
    and connect_port (default the real server port), optionally from `bindto`."""

    connect_timeout: float = setting(Float(0.001, 3600), limits.DEFAULT_CONNECT_TIMEOUT,
                                     "seconds to connect / get a reply")
    connect_ip: IPAddress | None = setting(IPAddr(), None, "address to check",
                                           doc_default="the real server's address")
    connect_port: int | None = setting(PORT, None, "port to check",
                                       doc_default="the real server's port")
    bindto: IPAddress | None = setting(IPAddr(), None, "local source address")
    # keepalived core/layer4.c socket_bind_connect: SO_BINDTODEVICE, then bind(bindto:port)
    bind_port: int | None = setting(PORT, None, "local source port (with bindto)",
                                    doc_default="any")
    bind_if: str | None = setting(IFNAME, None, "interface the check connects through "
                                  "(SO_BINDTODEVICE); needed for an IPv6 link-local address")


def _checker_section(
    cls: type, title: str, doc: str, renamed: dict[str, str] | None = None, **more: Any
) -> Section:
    if issubclass(cls, ConnectChecker):
        more["check"] = _with_connect_check(more.get("check"))
        more["rules"] = (*more.get("rules", ()), *CONNECT_RULES)
    # shared: a checker is often the same for every real server of a virtual server
    return model_section(cls, cls.kind, title, doc,
                         renamed={**CHECKER_RENAMED, **(renamed or {})}, shared=True, **more)


CONNECT_RULES = ("`bind_port` needs `bindto`; an IPv6 link-local address to check needs "
                 "`bind_if`.",)


def _with_connect_check(check: Any) -> Any:
    def both(v: Values) -> None:
        _check_connect(v)
        if check is not None:
            check(v)
    return both


def _check_connect(v: Values) -> None:
    # keepalived binds only when bindto is set: its bind_port alone does nothing
    if v.ok("bind_port", "bindto") and v["bind_port"] is not None and v["bindto"] is None:
        v.error("bind_port", "bind_port needs bindto")
    # check_api.c check_conn_opts: "Checker link local address %s requires a bind_if"
    if (v.ok("connect_ip", "bind_if") and v["connect_ip"] is not None
            and v["connect_ip"].version == 6 and v["connect_ip"].is_link_local
            and v["bind_if"] is None):
        v.error("bind_if", f"the link-local address {v['connect_ip']} needs bind_if")


@dataclass(frozen=True, slots=True)
class TcpCheck(ConnectChecker):
    kind: ClassVar[str] = "tcp_check"


TCP_CHECK = _checker_section(TcpCheck, "TCP check", "Up when a TCP connection opens.")


@dataclass(frozen=True, slots=True)
class HttpGet(ConnectChecker):
    kind: ClassVar[str] = "http_get"

    delay_before_retry: float = override(Checker, "delay_before_retry",
                                         limits.DEFAULT_HTTP_DELAY_BEFORE_RETRY)
    urls: tuple[HttpUrl, ...] = setting(ListOf(Nested(HTTP_URL), 1), REQUIRED, "URLs to GET",
                                        key="url", model_default=())
    virtualhost: str | None = setting(HOSTNAME, None, "Host header",
                                      doc_default="the connect address")
    http_protocol: str = setting(Choice(("1.0", "1.1")), "1.0", "HTTP version of the request")


HTTP_RENAMED = {"urls": "use url: [{path: ...}]"}
HTTP_GET = _checker_section(
    HttpGet, "HTTP check", "Up when every URL answers with an accepted status (and body).",
    HTTP_RENAMED,
)


@dataclass(frozen=True, slots=True)
class SslGet(HttpGet):
    kind: ClassVar[str] = "ssl_get"

    sni: bool = setting(Bool(), True,
                        "send SNI (server_name, else virtualhost) when a name is known")
    server_name: str | None = setting(HOSTNAME, None, "SNI and certificate name",
                                      doc_default="virtualhost")
    verify: bool = setting(Bool(), False, "verify the certificate chain and name")
    ca_file: str | None = setting(ABS_PATH, None, "CA bundle for verify",
                                  doc_default="the system store")


def _check_ssl(v: Values) -> None:
    if v.ok("ca_file", "verify") and v["ca_file"] is not None and not v["verify"]:
        v.error("ca_file", "ca_file is only used with verify: true")


SSL_GET = _checker_section(
    SslGet, "HTTPS check", "Like http_get, over TLS.", HTTP_RENAMED,
    check=_check_ssl, rules=("`ca_file` only with `verify: true`.",),
)


@dataclass(frozen=True, slots=True)
class MiscCheck(Checker):
    """Runs `path` (argv, no shell). Exit 0 = up; with misc_dynamic, exit 2..255 = up with
    weight (code - 2), 1 = down. `timeout` None means the effective delay_loop."""

    kind: ClassVar[str] = "misc_check"

    path: tuple[str, ...] = setting(Argv(), REQUIRED,
                                    "program and arguments; run directly, never by a shell",
                                    model_default=())
    timeout: float | None = setting(Float(0.01, 86400), None,
                                    "kill the program after this many seconds",
                                    doc_default="the effective delay_loop")
    # keepalived check_misc.c misc_check_handler(): default_retry = 0
    retry: int = override(Checker, "retry", limits.MISC_DEFAULT_RETRY)
    misc_dynamic: bool = setting(Bool(), False,
                                 "exit 0 = up, 1 = down, 2..255 = up with weight (code - 2)")
    # keepalived `user USERNAME [GROUPNAME]`: the group defaults to the user's login group.
    user: str | None = setting(
        USER, None, "run as this user (and group: `user:group`; default the user's login group)",
        doc_default="global script_user",
    )


def _check_misc(v: Values) -> None:
    check_user_exists(v, "user")


MISC_CHECK = _checker_section(
    MiscCheck, "Program check", "Up when a program exits 0.",
    {"misc_path": "use path", "misc_timeout": "use timeout"},
    check=_check_misc,
    rules=("`user` (and the group after `:`) must exist on this host.",),
)


@dataclass(frozen=True, slots=True)
class UdpCheck(ConnectChecker):
    kind: ClassVar[str] = "udp_check"

    # keepalived's payload is hex (check_udp.c payload_handler, lib/parser.c read_hex_str);
    # without one it sends 32 bytes "keepalived check - keepalived ch" (layer4.c set_buf).
    payload: bytes = inputs(
        Field("payload", Text(1472), None, "datagram to send (text)",
              doc_default="keepalived's 32 bytes `keepalived check - keepalived ch`"),
        Field("payload_hex", Text(4096, _HEX, "hex digits and blanks"), None,
              "datagram to send (hex as keepalived reads it: a digit standing alone is one "
              "octet, `1 2` is 01 02); instead of payload"),
        default=limits.UDP_DEFAULT_PAYLOAD,
    )
    require_reply: bool = setting(
        Bool(), False, "up only if a reply arrives (else: up unless ICMP port unreachable)"
    )
    # keepalived `require_reply HEX` (check_udp.c check_udp_reply): x is a wildcard nibble.
    reply_pattern: HexPattern | None = setting(
        Text(4096, _HEX_PATTERN, "hex digits, x for any nibble, blanks"), None,
        "with require_reply: the reply's first octets must match (hex, x = any nibble); "
        "only the shorter of reply and pattern is compared",
    )
    min_reply_length: int = setting(
        Int(0, limits.UDP_REPLY_LENGTH_MAX), limits.UDP_MIN_REPLY_LENGTH,
        "with reply_pattern: shortest reply accepted")
    max_reply_length: int = setting(
        Int(0, limits.UDP_REPLY_LENGTH_MAX), limits.UDP_MAX_REPLY_LENGTH,
        "with reply_pattern: longest reply accepted")


def _check_udp(v: Values) -> None:
    from haipvs.policy.udp_reply import HexError, read_hex_str

    if v["payload"] is not None and v["payload_hex"] is not None:
        v.error("payload_hex", "give payload or payload_hex, not both")
    for key, wildcard in (("payload_hex", False), ("reply_pattern", True)):
        if v.ok(key) and v[key] is not None:
            try:
                read_hex_str(v[key], wildcard=wildcard)
            except HexError as exc:
                v.error(key, str(exc))
    if v.ok("reply_pattern", "require_reply") and v["reply_pattern"] is not None and (
            not v["require_reply"]):
        v.error("reply_pattern", "reply_pattern needs require_reply: true")
    if v.ok("min_reply_length", "max_reply_length") and (
            v["min_reply_length"] > v["max_reply_length"]):
        # keepalived only warns ("will always fail"); a check that can never pass is an error
        v.error("min_reply_length", "min_reply_length is above max_reply_length")


def _derive_udp(v: Values) -> dict[str, Any]:
    from haipvs.policy.udp_reply import read_hex_str

    hex_payload, text_payload, pattern = v["payload_hex"], v["payload"], v["reply_pattern"]
    if hex_payload is not None:
        payload = read_hex_str(hex_payload).data
    elif text_payload is not None:
        payload = text_payload.encode()
    else:
        payload = limits.UDP_DEFAULT_PAYLOAD
    return {"payload": payload,
            "reply_pattern": read_hex_str(pattern, wildcard=True) if pattern else None}


UDP_CHECK = _checker_section(
    UdpCheck, "UDP check", "Sends a datagram; see require_reply.",
    derive=_derive_udp, check=_check_udp,
    rules=("`payload` and `payload_hex` are exclusive.",
           "`reply_pattern` needs `require_reply: true`.",
           "`min_reply_length` at most `max_reply_length`."),
)


@dataclass(frozen=True, slots=True)
class DnsCheck(ConnectChecker):
    kind: ClassVar[str] = "dns_check"

    # keepalived check_dns.c dns_check_handler(): default_retry = DNS_DEFAULT_RETRY (3) and
    # default_delay_before_retry = 0, which check_data.c resolves to the delay_loop.
    retry: int = override(Checker, "retry", limits.DNS_DEFAULT_RETRY)
    delay_before_retry: float | None = setting(  # type: ignore[assignment]
        Float(0, 86400), None, "seconds between retries", doc_default="the effective delay_loop",
    )
    type: str = setting(Choice(limits.DNS_TYPES), "SOA", "query type")
    name: str = setting(HOSTNAME, ".", "query name")


DNS_CHECK = _checker_section(DnsCheck, "DNS check", "Up when the server answers the query.")



@dataclass(frozen=True, slots=True)
class SmtpCheck(ConnectChecker):
    """keepalived SMTP_CHECK (check_smtp.c): banner 220, HELO -> 250, QUIT; each step gets
    connect_timeout. keepalived's deprecated `host { }` blocks are more smtp_check entries."""

    kind: ClassVar[str] = "smtp_check"

    helo_name: str = setting(
        Text(limits.SMTP_HELO_NAME_MAX, r"[^\r\n\0]+", "one line of text"),
        limits.SMTP_DEFAULT_HELO, "name sent in the HELO command",
    )


SMTP_CHECK = _checker_section(
    SmtpCheck, "SMTP check",
    "Up when the server greets with 220, answers HELO with 250 and answers QUIT.",
)



@dataclass(frozen=True, slots=True)
class PingCheck(Checker):
    """keepalived PING_CHECK (check_ping.c): one ICMP / ICMPv6 echo request per attempt, up
    when its reply arrives within connect_timeout (haipvs/policy/ping_echo.py). It has no
    port. keepalived 2.2.7 reads but ignores connect_port, bindto, bind_port, bind_if and
    fwmark there (check_ping.c never binds); haipvs's bindto is the echo's source address."""

    kind: ClassVar[str] = "ping_check"

    connect_timeout: float = override(ConnectChecker, "connect_timeout",
                                      limits.DEFAULT_CONNECT_TIMEOUT)
    connect_ip: IPAddress | None = override(ConnectChecker, "connect_ip", None)
    bindto: IPAddress | None = override(ConnectChecker, "bindto", None)


PING_CHECK = _checker_section(
    PingCheck, "Ping check",
    "Up when the server answers an ICMP (IPv6: ICMPv6) echo request within connect_timeout.",
    {"connect_port": "ping_check has no port (keepalived ignores connect_port in PING_CHECK)"},
)



@dataclass(frozen=True, slots=True)
class FileCheck(Checker):
    """keepalived FILE_CHECK (check_file.c) with track_file's rule
    (haipvs/policy/file_check.py): the file's number x weight is added to the real server's
    weight; with weight 0 a non-zero number (reverse: zero) takes the server down. The file
    is read each delay_loop; keepalived's own changes take effect at once (inotify)."""

    kind: ClassVar[str] = "file_check"

    file: str = setting(ABS_PATH, REQUIRED, "file holding an integer (missing = 0)",
                        model_default="")
    weight: int = setting(Int(-limits.WEIGHT_MAX, limits.WEIGHT_MAX), 1,
                          "number x weight is added to the server's weight; 0: a non-zero "
                          "number takes the server down")
    reverse: bool = setting(Bool(), False, "apply -weight (with weight 0: a zero number is "
                            "down)")
    # check_file.c: the file decides at once, no retries (it has no retry keyword)
    retry: int = override(Checker, "retry", 0)
    delay_loop: float | None = override(Checker, "delay_loop", limits.FILE_CHECK_INTERVAL)


FILE_CHECK = _checker_section(
    FileCheck, "File check",
    "keepalived's FILE_CHECK: a file's number sets the real server's weight, or takes it down.",
    {"track_file": "use file: (the path of keepalived's track_file)"},
)

CHECKERS = (TCP_CHECK, HTTP_GET, SSL_GET, MISC_CHECK, UDP_CHECK, DNS_CHECK, SMTP_CHECK,
            PING_CHECK, FILE_CHECK)
CHECKER_NAMES = frozenset(c.name for c in CHECKERS)
