"""HTTP_GET / SSL_GET's url regex as keepalived 2.2.7 applies it (check/check_http.c
check_regex, http_handle_response, regex_options[]), on Python's `re`.

- The url passes when the regex matches, or with `regex_no_match` when it does not
  (http_handle_response: `req->regex_matched == url->regex_no_match` fails the url).
- `regex_min_offset` N: the match starts at or after offset N of the body (pcre2_match's
  start_offset; a lookbehind may still look before it, as in PCRE2 and Python's `pos`).
- `regex_max_offset` M: a match counts only if it starts at or before M (keepalived stores
  M + 1, "one beyond last acceptable position", and checks `offset + ovector[0] < max`).
  The leftmost match decides, as pcre2_match returns it.
- `regex_options`: keepalived's PCRE2 option names. Those with a Python `re` flag map to it;
  `firstline` limits the match start to the first line; those that only tune PCRE2's
  matcher or forbid pattern syntax Python has no form of do not change which bodies match;
  the others change what a pattern means in a way `re` cannot express and are refused.

Offsets count characters of the body decoded as UTF-8 (haipvs matches text): the same as
keepalived's byte offsets for an ASCII body.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable

FLAGS: dict[str, re.RegexFlag] = {
    "caseless": re.IGNORECASE,
    "dotall": re.DOTALL,
    "multiline": re.MULTILINE,
    "extended": re.VERBOSE,
    "never_ucp": re.ASCII,  # \w, \d, \s and \b ASCII only
}
# Options that leave unchanged which bodies a (Python-valid) pattern matches in haipvs:
# utf / ucp (haipvs matches decoded text with Unicode classes anyway), never_utf /
# never_backslash_c (they forbid (*UTF) and \C, which Python rejects itself), and PCRE2's
# matcher tuning (auto_callout, no_auto_possess, no_dotstar_anchor, no_start_optimize,
# use_offset_limit without an offset limit, no_auto_capture for a pattern without
# back-references).
NO_EFFECT = frozenset({"utf", "ucp", "never_utf", "never_backslash_c", "auto_callout",
                       "no_auto_possess", "no_dotstar_anchor", "no_start_optimize",
                       "use_offset_limit", "no_auto_capture"})
FIRSTLINE = "firstline"
# check_http.c regex_options[] entries haipvs cannot honour, and why.
REFUSED: dict[str, str] = {
    "allow_empty_class": "Python's re has no empty character class",
    "alt_bsux": "Python's re reads \\u and \\x the standard way only",
    "alt_circumflex": "Python's re has no such multiline ^ variant",
    "alt_verbnames": "Python's re has no backtracking verbs",
    "dollar_endonly": "Python's $ also matches before a final newline (use \\Z)",
    "dupnames": "Python's re refuses duplicate group names",
    "match_unset_backref": "Python's re cannot match an unset back-reference",
    "ungreedy": "Python's re has no ungreedy default (write lazy quantifiers: *?, +?)",
}
ACCEPTED = (*FLAGS, FIRSTLINE, *sorted(NO_EFFECT))
OPTIONS = (*ACCEPTED, *REFUSED)  # every name in check_http.c regex_options[]


def flags(options: Iterable[str]) -> int:
    value = 0
    for option in options:
        value |= FLAGS.get(option, 0)
    return value


@functools.lru_cache(maxsize=256)
def compiled(pattern: str, options: tuple[str, ...] = ()) -> re.Pattern[str]:
    return re.compile(pattern, flags(options))


def regex_failure(text: str, pattern: str, *, options: tuple[str, ...] = (),
                  no_match: bool = False, min_offset: int = 0,
                  max_offset: int | None = None) -> str | None:
    """Why the body `text` fails the url's regex, or None when it passes."""
    last = max_offset
    if FIRSTLINE in options:  # PCRE2_FIRSTLINE: the match starts before the first newline
        newline = text.find("\n", min_offset)
        if newline >= 0:
            last = newline if last is None else min(last, newline)
    found = compiled(pattern, options).search(text, min_offset)
    matched = found is not None and (last is None or found.start() <= last)
    if matched == no_match:
        return "regex matched (regex_no_match)" if no_match else "regex mismatch"
    return None
