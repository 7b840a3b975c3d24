"""docs/migration.md section 8 lists every keepalived 2.2.7 LVS and checker keyword (issue 16):
"same", "different: why" or "not supported: why", and the haipvs key.

The keyword list below is keepalived 2.2.7's, block by block:
- "(top level)", "SSL", "virtual_server", "real_server": keepalived/check/check_parser.c
  init_check_keywords() (a virtual_server_group's body is addresses, ranges and `fwmark N`
  lines read by alloc_value_block(), not keywords);
- the checker blocks: each checker's install_*_check_keyword() (check_tcp.c, check_http.c for
  HTTP_GET / SSL_GET and their `url` sub-block, check_misc.c, check_smtp.c with its deprecated
  `host` sub-block, check_dns.c, check_udp.c, check_ping.c, check_file.c, check_bfd.c), with
  check_api.c install_checker_common_keywords(connection_keywords).
The LVS global_defs keywords (lvs_flush, lvs_timeouts, lvs_sync_daemon, ...) are in section 7.
Every keyword behind an `#ifdef` that Debian's 2.2.7 build enables (SNMP, regex, SNI, SO_MARK,
BFD, SMTP host entries) is listed: an imported file may use any of them.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.importer.keyword_rows import (
    KEEPALIVED_MIRROR,
    assert_keys_in_schema,
    assert_one_row_per_keyword,
    assert_statuses,
)

SECTION = "## 8. keepalived LVS and checker keywords"

# check_api.c install_checker_common_keywords(): the connection half only when asked for
CONNECTION = ("connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "connect_timeout",
              "fwmark")
COMMON = ("retry", "delay_before_retry", "warmup", "delay_loop", "alpha", "log_all_failures")
HTTP = (*CONNECTION, *COMMON, "nb_get_retry", "virtualhost", "http_protocol", "enable_sni",
        "fast_recovery", "url")

KEYWORDS: dict[str, tuple[str, ...]] = {
    "(top level)": ("SSL", "virtual_server_group", "virtual_server"),
    "SSL": ("password", "ca", "certificate", "key"),
    "virtual_server": (
        "ip_family", "retry", "delay_before_retry", "warmup", "connect_timeout", "delay_loop",
        "inhibit_on_failure", "lb_algo", "lvs_sched", "hashed", "ops", "flag-1", "flag-2",
        "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback", "lb_kind", "lvs_method",
        "persistence_engine", "persistence_timeout", "persistence_granularity", "protocol",
        "ha_suspend", "smtp_alert", "virtualhost", "snmp_name", "alpha", "omega", "quorum_up",
        "quorum_down", "quorum", "hysteresis", "weight", "sorry_server", "sorry_server_inhibit",
        "sorry_server_lvs_method", "real_server",
    ),
    "real_server": (
        "weight", "lvs_method", "uthreshold", "lthreshold", "inhibit_on_failure", "notify_up",
        "notify_down", "alpha", "retry", "delay_before_retry", "warmup", "connect_timeout",
        "delay_loop", "smtp_alert", "virtualhost", "snmp_name",
        # check_api.c install_checkers_keyword()
        "MISC_CHECK", "SMTP_CHECK", "TCP_CHECK", "PING_CHECK", "UDP_CHECK", "HTTP_GET",
        "SSL_GET", "DNS_CHECK", "FILE_CHECK", "BFD_CHECK",
    ),
    "TCP_CHECK": (*CONNECTION, *COMMON),
    "HTTP_GET": HTTP,
    "SSL_GET": HTTP,
    "url": ("path", "digest", "status_code", "virtualhost", "regex", "regex_no_match",
            "regex_options", "regex_min_offset", "regex_max_offset", "regex_stack"),
    "MISC_CHECK": (*COMMON, "misc_path", "misc_timeout", "misc_dynamic", "user"),
    "SMTP_CHECK": (*CONNECTION, *COMMON, "helo_name", "host"),
    "host": (*CONNECTION, *COMMON),
    "DNS_CHECK": (*CONNECTION, *COMMON, "type", "name"),
    "UDP_CHECK": (*CONNECTION, *COMMON, "payload", "require_reply", "min_reply_length",
                  "max_reply_length"),
    "PING_CHECK": (*CONNECTION, *COMMON),
    "FILE_CHECK": ("track_file", "weight"),
    "BFD_CHECK": ("name", "alpha"),
}


def test_every_keepalived_lvs_and_checker_keyword_has_one_row() -> None:
    assert_one_row_per_keyword(SECTION, KEYWORDS)


def test_every_row_says_same_different_or_not_supported() -> None:
    assert_statuses(SECTION)


def test_every_named_haipvs_key_exists_in_the_schema() -> None:
    assert_keys_in_schema(SECTION, "virtual_servers[].real_servers[].weight")


# ---- the list above, read back from keepalived's source -----------------------------------

CALL = re.compile(r'install_(keyword(?:_root)?)\("([^"]+)"|install_(sublevel)\(\)|'
                  r"install_(sublevel_end)\(\)|install_checker_common_keywords\((true|false)\)|"
                  r"install_http_ssl_check_keyword\(")
CHECKER_FILES = ("check_misc.c", "check_smtp.c", "check_tcp.c", "check_ping.c",
                 "check_udp.c", "check_http.c", "check_dns.c", "check_file.c", "check_bfd.c")


def _source(name: str) -> str:
    return subprocess.run(
        ["git", "-C", str(KEEPALIVED_MIRROR), "show", f"v2.2.7:keepalived/check/{name}"],
        capture_output=True, text=True, check=True, timeout=30).stdout


def _function(source: str, name: str) -> str:
    start = source.index(f"\n{name}(")
    return source[start:source.index("\n}\n", start)]


def _blocks(body: str, outer: str, found: dict[str, set[str]]) -> None:
    """Walk install_* calls: a keyword followed by install_sublevel() opens its block."""
    stack, last = [outer], outer
    for match in CALL.finditer(body):
        kind, keyword, sub, end, common = match.group(1, 2, 3, 4, 5)
        if kind == "keyword_root":
            stack, last = ["(top level)"], keyword
            found.setdefault("(top level)", set()).add(keyword)
            stack.append(keyword)
        elif kind == "keyword":
            found.setdefault(stack[-1], set()).add(keyword)
            last = keyword
        elif sub:
            stack.append(last)
        elif end:
            stack.pop()
        elif common is not None:
            names = (*CONNECTION, *COMMON) if common == "true" else COMMON
            found.setdefault(stack[-1], set()).update(names)


def _keepalived_keywords() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    _blocks(_function(_source("check_parser.c"), "init_check_keywords"), "(top level)", found)
    for name in CHECKER_FILES:
        source = _source(name)
        for function in re.findall(r"\n(install_\w+_check_keyword)\(", source):
            if function == "install_http_ssl_check_keyword":  # the shared half, see below
                continue
            body = _function(source, function)
            if "install_http_ssl_check_keyword(" in body:
                keyword = re.search(r'install_http_ssl_check_keyword\("([^"]+)"', body)
                assert keyword
                shared = _function(source, "install_http_ssl_check_keyword")
                body = shared.replace("install_keyword(keyword,",
                                      f'install_keyword("{keyword[1]}",')
            _blocks(body, "real_server", found)
    return found


@pytest.mark.skipif(not KEEPALIVED_MIRROR.is_dir(), reason="no keepalived source mirror")
def test_keyword_list_is_keepalived_2_2_7s() -> None:
    found = _keepalived_keywords()
    # the `url` block is the same in HTTP_GET and SSL_GET: one set of rows
    ours = {block: set(keywords) for block, keywords in KEYWORDS.items()}
    assert found == ours
