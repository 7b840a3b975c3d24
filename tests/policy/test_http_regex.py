"""HTTP_GET / SSL_GET url regex as keepalived 2.2.7's check_http.c applies it
(check_regex, http_handle_response, regex_options[]), on Python's re."""

from __future__ import annotations

import pytest

from haipvs.policy.http_regex import ACCEPTED, OPTIONS, REFUSED, regex_failure

BODY = "HTTP status page\nstate: ok\nerrors: none\n"


def test_http_handle_response_regex_must_match():
    assert regex_failure(BODY, r"state: ok") is None
    assert regex_failure(BODY, r"state: down") == "regex mismatch"


def test_http_handle_response_regex_no_match_inverts():
    # `req->regex_matched == url->regex_no_match` fails the url
    assert regex_failure(BODY, r"state: down", no_match=True) is None
    assert regex_failure(BODY, r"state: ok", no_match=True) == "regex matched (regex_no_match)"


def test_check_regex_min_offset_is_pcre2_start_offset():
    start = BODY.index("state")
    assert regex_failure(BODY, r"status", min_offset=start) == "regex mismatch"
    assert regex_failure(BODY, r"state", min_offset=start) is None
    # a lookbehind still sees before the start offset, as in PCRE2
    assert regex_failure(BODY, r"(?<=\n)state", min_offset=start) is None


def test_check_regex_max_offset_is_the_last_start_position():
    # keepalived stores max + 1 and accepts `offset + ovector[0] < regex_max_offset`
    at = BODY.index("errors")
    assert regex_failure(BODY, r"errors", max_offset=at) is None
    assert regex_failure(BODY, r"errors", max_offset=at - 1) == "regex mismatch"
    assert regex_failure(BODY, r"errors", max_offset=at - 1, no_match=True) is None


def test_regex_options_map_to_re_flags():
    assert regex_failure(BODY, r"STATE: OK") == "regex mismatch"
    assert regex_failure(BODY, r"STATE: OK", options=("caseless",)) is None
    assert regex_failure(BODY, r"page.state", options=("dotall",)) is None
    assert regex_failure(BODY, r"^state", options=("multiline",)) is None
    assert regex_failure(BODY, r"^state") == "regex mismatch"
    assert regex_failure(BODY, r"state \: \s ok", options=("extended",)) is None
    assert regex_failure("caf\u00e9", r"caf\w", options=("never_ucp",)) == "regex mismatch"
    assert regex_failure("caf\u00e9", r"caf\w\b", options=("ucp", "utf")) is None


def test_pcre2_firstline_the_match_starts_on_the_first_line():
    assert regex_failure(BODY, r"state", options=("firstline",)) == "regex mismatch"
    assert regex_failure(BODY, r"page\nstate", options=("firstline",)) is None


def test_every_keepalived_regex_option_is_accepted_or_refused_with_a_reason():
    # check_http.c regex_options[] of 2.2.7
    assert set(OPTIONS) == {
        "allow_empty_class", "alt_bsux", "auto_callout", "caseless", "dollar_endonly",
        "dotall", "dupnames", "extended", "firstline", "match_unset_backref", "multiline",
        "never_ucp", "never_utf", "no_auto_capture", "no_auto_possess", "no_dotstar_anchor",
        "no_start_optimize", "ucp", "ungreedy", "utf", "never_backslash_c", "alt_circumflex",
        "alt_verbnames", "use_offset_limit"}
    assert not set(ACCEPTED) & set(REFUSED)
    assert all(REFUSED.values())


@pytest.mark.parametrize("option", sorted(set(ACCEPTED) - {"caseless", "dotall", "multiline",
                                                            "extended", "never_ucp",
                                                            "firstline"}))
def test_options_that_only_tune_pcre2_change_no_verdict(option):
    assert regex_failure(BODY, r"state: (ok)", options=(option,)) is None
    assert regex_failure(BODY, r"state: down", options=(option,)) == "regex mismatch"
