"""`include:` in the YAML file, keepalived's `include` (lib/parser.c) for a conf.d layout.

    include: [conf.d/*.yaml, /etc/haipvs/vips.yaml]

- Each pattern is a glob, relative to the directory of the file that names it (keepalived
  reads an included file from its own directory too); `{a,b}` braces are expanded, as
  keepalived's glob(GLOB_BRACE). The matches of one pattern are taken in sorted order (glob's
  order), the patterns in the order written, an included file's own `include:` right after
  that file (keepalived reads an include where it stands).
- A pattern with a wildcard that matches nothing is fine (an empty conf.d). A pattern without
  a wildcard names one file, which must exist: keepalived only logs "Config files missing"
  there unless `include_check` says otherwise, but a misspelt file name that silently drops
  VIPs is worse than a refused start.
- Directories matched by a wildcard are skipped (keepalived: "is a directory - skipping").
- A file included twice, or including itself, is an error naming both places (keepalived
  would read it twice and then refuse the duplicate instances it finds).
- Merging: a top-level list (`vrrp_instances`, `virtual_servers`, `vrrp_scripts`, ...) may
  have items in several files; they are concatenated, the including file's first. Any other
  top-level key (`global`) may be set in one file only; a second one is an error naming both
  files and lines. Rules across items (unique names, one owner per VIP) then apply to the
  whole, and their messages name the file of each line.

This module decides; the loader reads: `IncludeReader` is the file system and the YAML
composer, passed in by haipvs/config/loader.py (the one module of the package that reads
files).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator

from yaml import MappingNode, Mark, Node, ScalarNode, SequenceNode

from haipvs.config.compound import ListOf
from haipvs.config.errors import ConfigError
from haipvs.config.kinds import Text
from haipvs.config.spec import Context
from haipvs.dataclass_lean import dataclass

INCLUDE_KEY = "include"
MAX_DEPTH = 16  # nested includes, as the importer (keepalived has no limit in parser.c)
MAX_FILES = 1000
_WILDCARD = re.compile(r"[*?\[]")
# The kind of the top-level `include:` setting (haipvs/config/sections.py Config.include).
INCLUDE_PATTERNS = ListOf(Text(4096))


@dataclass(frozen=True)
class IncludeReader:
    """The I/O the include rules need, injected by the loader (and by tests)."""

    glob: Callable[[str], list[str]]  # matches of one brace-free pattern, any order
    exists: Callable[[str], bool]
    is_dir: Callable[[str], bool]
    realpath: Callable[[str], str]
    # (path, name in messages) -> the file's root node (None when it is empty); raises
    # ConfigError when it cannot be read or is not YAML.
    compose: Callable[[str, str], Node | None]


def expand_braces(pattern: str) -> list[str]:
    """`a{b,c{d,e}}f` -> [abf, acdf, acef]: the first group, split at its own commas, each
    choice expanded again, in order, as glob(GLOB_BRACE) does. No comma: not a group."""
    start = pattern.find("{")
    while start != -1:
        depth, cuts = 0, [start]
        for i in range(start, len(pattern)):
            char = pattern[i]
            if char == "{":
                depth += 1
            elif char == "}":
                depth -= 1
                if depth == 0:
                    cuts.append(i)
                    break
            elif char == "," and depth == 1:
                cuts.append(i)
        if depth == 0 and len(cuts) > 2:
            head, tail = pattern[:start], pattern[cuts[-1] + 1:]
            out: list[str] = []
            for left, right in itertools.pairwise(cuts):
                out.extend(expand_braces(head + pattern[left + 1:right] + tail))
            return out
        start = pattern.find("{", start + 1)
    return [pattern]


def has_wildcard(pattern: str) -> bool:
    return bool(_WILDCARD.search(pattern)) or len(expand_braces(pattern)) > 1


def matches(pattern: str, base_dir: str, reader: IncludeReader) -> tuple[list[str], list[str]]:
    """(files, missing): the files of one `include` pattern, in keepalived's order, and the
    brace alternatives without a wildcard that name no file."""
    files: list[str] = []
    missing: list[str] = []
    for alternative in expand_braces(pattern):
        path = os.path.join(base_dir, alternative)
        if not _WILDCARD.search(alternative):
            if reader.exists(path):
                files.append(path)
            else:
                missing.append(path)
            continue
        files.extend(m for m in sorted(reader.glob(path)) if not reader.is_dir(m))
    return files, missing


class FileMark(Mark):
    """A node's start mark that also names its file (libyaml's marks take no attributes)."""

    def __init__(self, mark: Mark, file: str) -> None:
        super().__init__(mark.name, mark.index, mark.line, mark.column, None, None)
        self.haipvs_file = file


def mark_file(root: Node, display: str) -> None:
    """Tag every node of an included file with its name: Context.error and Values.line
    report `display:line` from it (yaml marks carry only the line)."""
    stack = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:  # aliases
            continue
        seen.add(id(node))
        node.start_mark = FileMark(node.start_mark, display)
        if isinstance(node, MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
        elif isinstance(node, SequenceNode):
            stack.extend(node.value)


def _where(node: Node, default: str) -> str:
    return f"{getattr(node.start_mark, 'haipvs_file', default)}:{node.start_mark.line + 1}"


class _Walk:
    def __init__(self, main: str, reader: IncludeReader, ctx: Context) -> None:
        self.main = main
        self.reader = reader
        self.ctx = ctx
        self.seen: dict[str, str] = {reader.realpath(main): f"{main} (the main file)"}
        self.count = 0

    def includes(self, root: Node, path: str, display: str,
                 depth: int) -> Iterator[tuple[str, MappingNode]]:
        """Depth-first: each included file, then what it includes."""
        if not isinstance(root, MappingNode):
            return
        patterns = [value for key, value in root.value
                    if isinstance(key, ScalarNode) and key.value == INCLUDE_KEY]
        for node in patterns:
            if not isinstance(node, SequenceNode):
                continue  # the Config section reports "expected a list"
            for item in node.value:
                if isinstance(item, ScalarNode) and item.tag.endswith(":str") and item.value:
                    yield from self._pattern(item, path, display, depth)

    def _pattern(self, item: ScalarNode, path: str, display: str,
                 depth: int) -> Iterator[tuple[str, MappingNode]]:
        where = f"{INCLUDE_KEY}: {item.value}"
        if depth >= MAX_DEPTH:
            self.ctx.error(item, INCLUDE_KEY, f"{where}: includes nested deeper than "
                           f"{MAX_DEPTH} files")
            return
        files, missing = matches(item.value, os.path.dirname(path), self.reader)
        for name in missing:
            self.ctx.error(item, INCLUDE_KEY, f"{where}: no file {name} (a pattern without "
                           "a wildcard names a file that must exist)")
        for name in files:
            real = self.reader.realpath(name)
            if real in self.seen:
                self.ctx.error(item, INCLUDE_KEY, f"{where}: {name} is already included by "
                               f"{self.seen[real]}")
                continue
            self.seen[real] = _where(item, display)
            self.count += 1
            if self.count > MAX_FILES:
                self.ctx.error(item, INCLUDE_KEY, f"{where}: more than {MAX_FILES} files")
                return
            try:
                child = self.reader.compose(name, name)
            except ConfigError as exc:
                self.ctx.issues.extend(exc.issues)
                continue
            if child is None:
                continue  # an empty (or all-comment) file adds nothing
            mark_file(child, name)
            if not isinstance(child, MappingNode):
                self.ctx.error(child, "", f"expected a mapping of top-level keys (included "
                               f"by {_where(item, display)})")
                continue
            yield name, child
            yield from self.includes(child, name, name, depth + 1)


def merge_includes(root: MappingNode, path: str, reader: IncludeReader,
                   ctx: Context) -> MappingNode:
    """The main file's root with every included file's top-level keys merged in (lists
    concatenated). Problems go to `ctx`; returns `root` itself when nothing is included."""
    walk = _Walk(path, reader, ctx)
    included = list(walk.includes(root, path, path, 0))
    if not included:
        return root
    ctx.included = True
    pairs: list[tuple[Node, Node]] = []
    by_key: dict[str, int] = {}
    for key, value in root.value:
        if isinstance(key, ScalarNode):
            by_key.setdefault(key.value, len(pairs))
        pairs.append((key, _copy_list(value)))
    for _, child in included:
        in_this_file: set[str] = set()
        for key, value in child.value:
            name = key.value if isinstance(key, ScalarNode) else None
            if name is None or name == "<<" or name in in_this_file:
                pairs.append((key, value))  # parse_section reports these as in any file
                continue
            in_this_file.add(name)
            if name not in by_key:
                by_key[name] = len(pairs)
                pairs.append((key, _copy_list(value)))
                continue
            first_key, first = pairs[by_key[name]]
            if isinstance(first, SequenceNode) and isinstance(value, SequenceNode):
                first.value.extend(value.value)
            else:
                ctx.error(key, name, f"{name!r} is already set at {_where(first_key, path)}; "
                          "only top-level lists may be split over included files")
    return MappingNode(root.tag, pairs, root.start_mark, root.end_mark, root.flow_style)


def _copy_list(node: Node) -> Node:
    """A list the merge may extend without changing the composed file's own node."""
    if isinstance(node, SequenceNode):
        return SequenceNode(node.tag, list(node.value), node.start_mark, node.end_mark,
                            node.flow_style)
    return node
