"""keepalived's reading of an unknown block inside a virtual_server or vrrp_instance.

keepalived's parser (lib/parser.c process_stream()) knows, at each level, which keywords open
a sub-level. A word it does not know is "Unknown keyword": the `{` at the end of that line is
just an ignored argument, the lines that follow are read at the *current* level, and the `}`
meant to close the unknown block closes the current level instead (`if (!strcmp(str, EOB) &&
kw_level > 0) break;`). So a misspelt checker (`SMTP_CHEKC { }`) ends its real_server there;
the rest of the real_server is read as virtual_server keywords, whose `}` ends the
virtual_server; and what is left of the virtual_server is read at top level, where nothing in
it means anything (keepalived ignores a `}` at top level).

The same holds in a vrrp_instance. The grammar builds the tree from the braces alone;
`reshape` rebuilds a virtual_server's or vrrp_instance's body the way keepalived reads it, and
reports what keepalived loses.
"""

from __future__ import annotations

from haipvs.dataclass_lean import dataclass
from haipvs.importer.grammar import Node
from haipvs.importer.notes import Note

RAW = "raw"  # a block keepalived reads as it is (no further levels to get wrong)
CHECKER_KEYWORDS = ("TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "SMTP_CHECK",
                    "DNS_CHECK", "UDP_CHECK", "BFD_CHECK", "FILE_CHECK", "PING_CHECK")
# level -> {keyword that opens a sub-level: that sub-level}, from keepalived 2.2.7's
# install_keyword()/install_sublevel() calls: check_parser.c (real_server), check_http.c
# (url), check_smtp.c (host), each checker's install_*_check_keyword(), and
# vrrp/vrrp_parser.c init_vrrp_keywords() (the value blocks read by alloc_value_block(), and
# authentication's sublevel).
VRRP_VALUE_BLOCKS = ("unicast_peer", "track_interface", "track_script", "track_file",
                     "track_process", "track_bfd", "virtual_ipaddress",
                     "virtual_ipaddress_excluded", "virtual_routes", "virtual_rules")
TOP_LEVEL_BLOCKS = ("virtual_server", "vrrp_instance")
SUBLEVELS: dict[str, dict[str, str]] = {
    "vrrp_instance": {**{keyword: RAW for keyword in VRRP_VALUE_BLOCKS},
                      "authentication": "authentication"},
    "virtual_server": {"real_server": "real_server"},
    "real_server": {keyword: keyword for keyword in CHECKER_KEYWORDS},
    "HTTP_GET": {"url": "url"},
    "SSL_GET": {"url": "url"},
    "SMTP_CHECK": {"host": RAW},
}


@dataclass
class _Event:
    kind: str  # "stmt", "open", "close"
    node: Node


def _events(nodes: list[Node]) -> list[_Event]:
    out: list[_Event] = []
    for node in nodes:
        out.append(_Event("stmt", node))
        if node.children is not None:
            out.append(_Event("open", node))
            out.extend(_events(node.children))
            out.append(_Event("close", node))
    return out


class _Reader:
    def __init__(self, events: list[_Event], notes: list[Note]) -> None:
        self.events = events
        self.pos = 0
        self.notes = notes

    def level(self, name: str, where: str) -> list[Node]:
        """The statements of one level, up to the `}` that closes it (or the end)."""
        nodes: list[Node] = []
        sublevels = SUBLEVELS.get(name, {})
        while self.pos < len(self.events):
            event = self.events[self.pos]
            self.pos += 1
            if event.kind == "close":
                return nodes
            node = event.node
            has_block = (self.pos < len(self.events) and self.events[self.pos].kind == "open")
            if not has_block:
                nodes.append(Node(node.keyword, node.args, None, node.file, node.line))
                continue
            self.pos += 1  # the `{`
            sub = sublevels.get(node.keyword)
            if sub == RAW:
                self._skip_block()
                nodes.append(node)
            elif sub is not None:
                children = self.level(sub, f"the {node.keyword} of line {node.line}")
                nodes.append(Node(node.keyword, node.args, children, node.file, node.line))
            else:
                self.notes.append(Note(node.file, node.line, node.keyword, (
                    f"keepalived knows no such block in {where}: it ignores the '{{', reads "
                    f"the lines after it as part of {where}, and this block's '}}' ends it "
                    "(lib/parser.c process_stream())")))
        return nodes

    def _skip_block(self) -> None:
        depth = 1
        while self.pos < len(self.events) and depth:
            kind = self.events[self.pos].kind
            depth += {"open": 1, "close": -1}.get(kind, 0)
            self.pos += 1

    def rest(self) -> list[Node]:
        """The statements left once the level ended early, in file order."""
        return [e.node for e in self.events[self.pos:] if e.kind == "stmt"]


def reshape(node: Node, notes: list[Note]) -> Node:
    """`node` (a virtual_server or vrrp_instance) as keepalived reads it; what keepalived
    would read at top level instead (ignored there) is reported line by line."""
    if node.children is None or node.keyword not in TOP_LEVEL_BLOCKS:
        return node
    reader = _Reader(_events(node.children), notes)
    children = reader.level(node.keyword, f"the {node.keyword} of line {node.line}")
    lost = reader.rest()
    for item in lost:
        notes.append(Note(item.file, item.line, item.keyword, (
            f"lost: keepalived reads it at top level, the {node.keyword} of line "
            f"{node.line} having ended at a misspelt block above")))
    return Node(node.keyword, node.args, children, node.file, node.line)
