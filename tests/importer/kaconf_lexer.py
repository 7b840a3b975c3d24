"""The lexing half of the independent keepalived.conf reader (kaconf_reader.py), written
from keepalived 2.2.7's lib/parser.c: read_line(), decomment(), alloc_strvec_r(), $VAR, @id,
include, process_stream(). `parse_tree(path)` gives the blocks as `Node`s; `Fact` is what the
reader says keepalived runs, with where it came from.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass

CHECKERS = {"TCP_CHECK": "tcp_check", "HTTP_GET": "http_get", "SSL_GET": "ssl_get",
            "MISC_CHECK": "misc_check", "DNS_CHECK": "dns_check", "UDP_CHECK": "udp_check",
            "SMTP_CHECK": "smtp_check", "PING_CHECK": "ping_check", "FILE_CHECK": "file_check",
            "BFD_CHECK": "bfd_check"}


@dataclass(frozen=True)
class Fact:
    value: object
    file: str
    line: int
    lines: tuple[int, ...] = ()  # the other lines that wrote it (a list, an invalid value)


@dataclass
class Node:
    words: list[str]
    file: str
    line: int
    children: list[Node] | None = None

    @property
    def key(self) -> str:
        return self.words[0]

    def arg(self, i: int = 1, default: str | None = None) -> str | None:
        return self.words[i] if len(self.words) > i else default

    def kids(self, name: str | None = None) -> list[Node]:
        return [k for k in self.children or () if name is None or k.key == name]

    def first(self, name: str) -> Node | None:
        return next(iter(self.kids(name)), None)

    def last(self, name: str) -> Node | None:
        return next(reversed(self.kids(name)), None)


# ---------------------------------------------------------------- lexing (lib/parser.c)

def _decomment(text: str) -> str:
    """decomment(): '!' or '#' outside double quotes ends the line; '\\#' and '\\!' escape."""
    out, quote, i, text = [], False, 0, text.lstrip(" \t")
    while i < len(text):
        c, nxt = text[i], text[i + 1:i + 2]
        if c == "\\" and nxt:
            out.append(nxt if not quote and nxt in "#!" else c + nxt)
            i += 2
            continue
        if c in "!#" and not quote:
            break
        quote ^= c == '"'
        out.append(c)
        i += 1
    return "".join(out).rstrip(" \t")


def _split_words(text: str) -> list[str]:
    """alloc_strvec_r(): whitespace-separated words; "a b" is one word without its quotes."""
    return [q or w for q, w in re.findall(r'"([^"]*)"|([^ \t"]+)', text)]


def _split_braces(text: str) -> list[str]:
    """read_line(): a '{' or '}' outside double quotes is a line of its own."""
    parts = re.findall(r'(?:"[^"]*"?|[^{}"])+|[{}]', text)
    return [p.strip(" \t") for p in parts if p.strip(" \t")]


def _lex(path: str, defs: dict[str, str], out: list, depth: int = 0) -> list:
    """read_line(): (words, file, line) per logical line, includes followed."""
    defs["_PWD"] = os.path.dirname(os.path.abspath(path))
    with open(path, encoding="utf-8", errors="replace") as f:
        raw = f.read().splitlines()
    for number, line in enumerate(raw, 1):
        text = _decomment(line)
        if text.startswith("@"):  # @id lines: no config id here, so only @^id lines run
            if not re.match(r"@\^\S+[ \t]", text):
                continue
            text = text.split(None, 1)[1]
        m = re.match(r"\$([A-Za-z_]\w*)[ \t]*=[ \t]*(.*)$", text)
        if m:  # check_definition(): $NAME=TEXT
            defs[m.group(1)] = m.group(2)
            continue
        if "$" in text:  # replace_param(): $NAME or ${NAME} of a defined NAME
            text = _decomment(re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: defs.get(
                m.group(1) or m.group(2), m.group(0)), text))
        words = _split_words(text)
        if words[:1] == ["include"] and len(words) > 1 and depth < 8:
            for inc in sorted(glob.glob(os.path.join(os.path.dirname(path), words[1]))):
                _lex(inc, defs, out, depth + 1)
            continue
        out += [(_split_words(part), path, number) for part in _split_braces(text)]
    return out


# alloc_value_block() / read_value_block() blocks: after an optional '{', every line up to
# the first '}' is a value; without the '{' ("Block track_interface has extra parameters")
# the lines after it are eaten, an authentication block included.
VALUE_BLOCKS = {"virtual_ipaddress", "virtual_ipaddress_excluded", "virtual_routes",
                "virtual_rules", "static_ipaddress", "static_routes", "static_rules",
                "unicast_peer", "track_interface", "track_script", "track_file", "track_process",
                "track_bfd", "linkbeat_interfaces", "virtual_server_group", "group",
                "notification_email"}
# Keywords with a sub level, by enclosing block. Only these open a block: after any other one
# process_stream() ignores the '{' ("Unexpected '{' - ignoring") and its '}' closes the
# enclosing block (so a misspelt checker ends the real_server early).
SUBS = {"<root>": {"global_defs", "vrrp_instance", "vrrp_sync_group", "vrrp_script",
                   "vrrp_track_file", "track_file", "vrrp_track_process", "virtual_server",
                   "SSL", "bfd_instance", "garp_group", "track_group"},
        "vrrp_instance": {"authentication"}, "virtual_server": {"real_server"},
        "real_server": set(CHECKERS), "HTTP_GET": {"url"}, "SSL_GET": {"url"},
        "SMTP_CHECK": {"host"}}


def parse_tree(path: str) -> list[Node]:
    """process_stream(): the statements of the file as a tree of blocks."""
    root = Node(["<root>"], path, 0, [])
    stack, values, opened = [root], None, False
    for words, file, line in _lex(path, {"_HASH": "#", "_BANG": "!"}, []):
        if values is not None:  # inside a value block
            if words == ["}"]:
                values = None
                continue
            if words != ["{"] or opened:  # the first '{' opens it; later ones are values
                values.children.append(Node(words, file, line))
            opened = True
            continue
        if words == ["{"]:  # opens the sub level just started (which starts without it too:
            continue        # "Missing '{'"), or else "Unexpected '{' - ignoring"
        if words == ["}"]:
            if len(stack) > 1:
                stack.pop()
            continue
        node = Node(words, file, line)
        stack[-1].children.append(node)
        if node.key in VALUE_BLOCKS:
            node.children, values, opened = [], node, False
        elif node.key in SUBS.get(stack[-1].key, ()):
            node.children = []
            stack.append(node)
    return root.children or []
