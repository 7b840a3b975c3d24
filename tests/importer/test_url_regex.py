"""The url regex keywords in `haipvs import-keepalived` (keepalived/check/check_http.c
regex_no_match_handler, regex_options_handler, regex_{min,max}_offset_handler,
regex_stack_handler, url_check)."""

from __future__ import annotations

from pathlib import Path

from haipvs.config import load_config_text
from haipvs.importer import import_keepalived
from haipvs.importer.notes import CHANGED, NOT_TRANSLATED

VS = """virtual_server 192.0.2.100 80 {{
    lb_kind NAT
    protocol TCP
    real_server 198.51.100.10 80 {{
        HTTP_GET {{
            url {{
                path /
{url}
            }}
        }}
    }}
}}
"""


def imported(tmp_path: Path, url: str):
    path = tmp_path / "keepalived.conf"
    path.write_text(VS.format(url=url))
    result = import_keepalived(path, display="keepalived.conf")
    config = load_config_text(result.yaml, "imported.yaml")
    return config.virtual_servers[0].real_servers[0].checkers[0].urls[0], result.notes


def test_regex_keywords_are_translated(tmp_path: Path):
    url, notes = imported(tmp_path, "regex \"error\"\nregex_no_match\n"
                          "regex_options caseless\nregex_options multiline dotall\n"
                          "regex_min_offset 4\nregex_max_offset 100\n")
    assert (url.regex, url.regex_no_match, url.regex_options, url.regex_min_offset,
            url.regex_max_offset) == ("error", True, ("caseless", "multiline", "dotall"), 4,
                                      100)
    assert not notes


def test_regex_stack_is_left_out_with_a_note(tmp_path: Path):
    url, notes = imported(tmp_path, "regex ok\nregex_stack 32768 1048576\n")
    assert url.regex == "ok"
    assert [(n.line, n.keyword, n.kind) for n in notes] == [(9, "regex_stack", CHANGED)]


def test_url_check_ignores_regex_parameters_without_a_regex(tmp_path: Path):
    # url_check(): "regex parameters specified without regex"
    url, notes = imported(tmp_path, "regex_no_match\nregex_min_offset 3\n")
    assert (url.regex, url.regex_no_match, url.regex_min_offset) == (None, False, 0)
    assert [(n.keyword, n.kind) for n in notes] == [("regex_no_match", NOT_TRANSLATED),
                                                    ("regex_min_offset", NOT_TRANSLATED)]


def test_refused_and_unknown_regex_options_are_noted(tmp_path: Path):
    url, notes = imported(tmp_path, "regex ok\nregex_options caseless ungreedy bogus\n")
    assert url.regex_options == ("caseless",)
    assert [n.why for n in notes] == [
        "regex option ungreedy: Python's re has no ungreedy default (write lazy "
        "quantifiers: *?, +?)", "keepalived ignores the unknown regex option 'bogus'"]


def test_max_offset_below_min_offset_never_matches(tmp_path: Path):
    url, notes = imported(tmp_path, "regex ok\nregex_no_match\nregex_min_offset 10\n"
                          "regex_max_offset 5\n")
    assert (url.regex, url.regex_no_match, url.regex_min_offset, url.regex_max_offset) == (
        "(?!)", True, 0, None)
    assert [(n.keyword, n.kind) for n in notes] == [("regex_max_offset", CHANGED)]


def test_fast_recovery_is_noted_as_haipvs_always_recovering_in_one_attempt(tmp_path: Path):
    # check_http.c epilog: fast_recovery skips the delay_loop between urls while down
    path = tmp_path / "keepalived.conf"
    path.write_text(VS.format(url="").replace("        HTTP_GET {\n",
                                                "        HTTP_GET {\n"
                                                "            fast_recovery\n"))
    result = import_keepalived(path, display="keepalived.conf")
    load_config_text(result.yaml, "imported.yaml")
    (note,) = result.notes
    assert (note.line, note.keyword, note.kind) == (6, "fast_recovery", CHANGED)
    assert "one passing attempt" in note.why
