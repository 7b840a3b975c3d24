"""The regex keywords of an HTTP_GET / SSL_GET `url` block (keepalived/check/check_http.c
regex_no_match_handler, regex_options_handler, regex_{min,max}_offset_handler,
regex_stack_handler, url_check), translated to haipvs' url keys
(haipvs/policy/http_regex.py applies them as keepalived does)."""

from __future__ import annotations

import re
from typing import Any

from haipvs.importer.grammar import Node
from haipvs.importer.rules import Context, Rule
from haipvs.policy.http_regex import ACCEPTED, OPTIONS, REFUSED, compiled

PARAMS = ("regex_no_match", "regex_options", "regex_min_offset", "regex_max_offset")


def _remember(draft: Any, node: Node) -> None:
    draft.regex_params[node.keyword] = node


def regex_no_match(ctx: Context, node: Node, draft: Any) -> None:
    draft.fields["regex_no_match"] = True
    _remember(draft, node)


def regex_options(ctx: Context, node: Node, draft: Any) -> None:
    """Names accumulate over lines, as keepalived ORs their bits into conf_regex_options."""
    names = draft.fields.setdefault("regex_options", [])
    for word in node.values:
        if word in ACCEPTED:
            if word not in names:
                names.append(word)
        elif word in REFUSED:
            ctx.skip(node, f"regex option {word}: {REFUSED[word]}")
        elif word not in OPTIONS:  # keepalived ignores a name it does not know
            ctx.skip(node, f"keepalived ignores the unknown regex option {word!r}")
    if not names:
        draft.fields.pop("regex_options")
    _remember(draft, node)


def _offset(name: str) -> Rule:
    def rule(ctx: Context, node: Node, draft: Any) -> None:
        # regex_offset_handler: strtoul, anything else is 0 (no limit) with a log line
        value = ctx.one(node, int, 0, 1 << 30)
        if value is not None:
            draft.fields[name] = value
            _remember(draft, node)
    return rule


def regex_stack(ctx: Context, node: Node, draft: Any) -> None:
    ctx.changed(node, "left out: the size of PCRE2's JIT stack; Python's re needs none, "
                "and which bodies match does not change")


URL_REGEX: dict[str, Rule] = {
    "regex_no_match": regex_no_match,
    "regex_options": regex_options,
    "regex_min_offset": _offset("regex_min_offset"),
    "regex_max_offset": _offset("regex_max_offset"),
    "regex_stack": regex_stack,
}


def finish_url_regex(ctx: Context, draft: Any) -> None:
    """keepalived url_check(): regex parameters without a regex are ignored ("regex
    parameters specified without regex"); haipvs would refuse them, so they are left out."""
    fields = draft.fields
    if "regex" not in fields:
        for name in PARAMS:
            if fields.pop(name, None) is not None:
                ctx.skip(draft.regex_params[name], "keepalived ignores it without a regex")
        return
    if fields.get("regex_options"):
        try:
            compiled(fields["regex"], tuple(fields["regex_options"]))
        except re.error as exc:
            ctx.skip(draft.regex_params["regex_options"], f"the regex is not valid with "
                     f"these options in Python's re: {exc}")
            del fields["regex_options"]
    low, high = fields.get("regex_min_offset", 0), fields.get("regex_max_offset")
    if high is not None and high < low:  # check_regex can never match: say so directly
        ctx.changed(draft.regex_params["regex_max_offset"],
                    "below regex_min_offset, so keepalived never matches: the regex becomes "
                    "'(?!)', which never matches either")
        fields["regex"] = "(?!)"
        fields.pop("regex_options", None)
        del fields["regex_min_offset"], fields["regex_max_offset"]
