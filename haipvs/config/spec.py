"""The Field/Section machinery: how one mapping of the file is parsed, checked and described.

A `Section` is one mapping (a VRRP instance, a real server, ...). Its `fields` say which keys it
takes, each with a `Kind` (how one value is read, described and schematised: haipvs/config/kinds.py
and haipvs/config/compound.py); the tables are derived from the model dataclasses (see
haipvs/config/settings.py). The same tables drive parsing, validation, defaults, the JSON
Schema and the generated reference (docs/config.md).

Parsing works on PyYAML *nodes* (from `yaml.compose`) rather than constructed Python objects,
so every value keeps its line and every error can say where it is.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from haipvs.config.errors import ConfigIssue
from haipvs.dataclass_lean import dataclass


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


INVALID: Any = _Marker("INVALID")  # a value that failed validation (already reported)
REQUIRED: Any = _Marker("REQUIRED")  # Field.default for keys that must be present

# Aliases let a small file name the same mapping many times ("billion laughs"); each reuse is
# parsed again, so reuses are capped. Sharing an anchored checker among thousands of real
# servers stays far below this.
ALIAS_REUSE_BUDGET = 100_000

YAML_TAG = "tag:yaml.org,2002:"


class Context:
    """Collects issues for one file."""

    def __init__(self, filename: str) -> None:
        self.filename = filename
        self.issues: list[ConfigIssue] = []
        self._seen_nodes: set[int] = set()
        self.alias_reuses = 0
        self.alias_budget = ALIAS_REUSE_BUDGET
        # For lists with some invalid items: the valid (index, item) pairs, keyed by list node,
        # so rules between items can still be checked and every error reported.
        self.partial: dict[int, list[tuple[int, Any]]] = {}
        self._constructor = yaml.SafeLoader("")  # only its scalar constructors are used
        self.included = False  # the file has `include:` (haipvs/config/include.py)
        # Equal scalars are one object (share): the same port, address or timeout written
        # for thousands of real servers was one int, float or IPv4Address each (issue 18:
        # ~250 bytes per real server with a TCP_CHECK). Lives as long as the read.
        self._shared: dict[tuple[type, Any], Any] = {}

    def share(self, value: Any) -> Any:
        """The first equal value of the same type read from this file, or `value`. Zero
        floats and NaN stay as they are: -0.0 equals 0.0, NaN equals nothing."""
        if type(value) is float and (value == 0.0 or value != value):
            return value
        try:
            return self._shared.setdefault((type(value), value), value)
        except TypeError:  # unhashable (a list from an explicit !!seq tag)
            return value

    def file_of(self, node: Node | None) -> str:
        """The file a node was read from: include.py marks the nodes of included files."""
        marked = getattr(node.start_mark, "haipvs_file", None) if node is not None else None
        return marked or self.filename

    def error(self, node: Node | None, path: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.issues.append(ConfigIssue(self.file_of(node), line, path, message))

    def spend(self, node: Node, path: str) -> bool:
        """False once aliases have re-used mappings too often (reported once)."""
        if id(node) in self._seen_nodes:
            self.alias_reuses += 1
            if self.alias_reuses == self.alias_budget:
                self.error(node, path, f"aliases expand to too many mappings (over "
                           f"{self.alias_budget} re-uses)")
        self._seen_nodes.add(id(node))
        return self.alias_reuses < self.alias_budget

    def scalar(self, node: ScalarNode, path: str) -> Any:
        """The Python value of a scalar node (YAML 1.1 safe types), or INVALID."""
        try:
            return self.share(self._constructor.construct_object(node, deep=True))
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc)
            self.error(node, path, f"cannot read this value: {problem}")
            return INVALID
        except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
            # PyYAML's constructors raise plain Python errors for explicitly tagged scalars
            # they cannot convert (`!!int x`, `!!float`, `!!timestamp x`); found by fuzzing.
            tag = node.tag.rsplit(":", 1)[-1]
            self.error(node, path, f"cannot read {node.value!r} as !!{tag} ({exc})")
            return INVALID
        finally:
            # The constructor memoizes every node it built (for aliased collections, which
            # it is never asked for here); a scalar's value is the same built again. Kept,
            # the memo held every node of the file and its marks (18 MiB at 10,000 real
            # servers) in a cycle through the constructor that only a full collection
            # frees, and the daemon's gc.freeze() made it permanent (issue 18).
            self._constructor.constructed_objects.clear()


def join_path(base: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{base}[{part}]"
    return f"{base}.{part}" if base else part


def describe_node(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    tag = node.tag.removeprefix(YAML_TAG)
    if tag == "null":
        return "nothing (null)"
    if tag == "str":
        return f"the string {_shorten(node.value)!r}"
    return f"{tag} {_shorten(str(node.value))}"


def _shorten(value: str, limit: int = 60) -> str:
    # A whole file parsed as one scalar (a keepalived.conf) must not be echoed back.
    return value if len(value) <= limit else value[:limit] + "..."


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None



# ---------------------------------------------------------------------------------------------
# Kinds: how one value is read, described and schematised (the kinds are in kinds.py and
# compound.py)


class Kind:
    def parse(self, node: Node, path: str, ctx: Context) -> Any:
        raise NotImplementedError

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def sections(self) -> list[Section]:
        """Sections reachable from this kind (for the generated reference)."""
        return []

    # helpers for scalar kinds
    def _scalar(self, node: Node, path: str, ctx: Context, expected: str) -> Any:
        if not isinstance(node, ScalarNode):
            ctx.error(node, path, f"expected {expected}, got {describe_node(node)}")
            return INVALID
        return ctx.scalar(node, path)



# ---------------------------------------------------------------------------------------------
# Fields and sections


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    default: Any = REQUIRED  # REQUIRED, None (optional), or the default value
    doc: str = ""
    doc_default: str | None = None  # shown instead of `default` when it is derived

    @property
    def required(self) -> bool:
        return self.default is REQUIRED


@dataclass(frozen=True)
class Section:
    """One mapping in the file. `make(values)` builds the model object (of class `model`);
    `check(values)` reports rules that involve several fields (documented in `rules`)."""

    name: str
    title: str
    doc: str
    fields: tuple[Field, ...]
    make: Callable[[Values], Any]
    check: Callable[[Values], None] | None = None
    rules: tuple[str, ...] = ()
    # Names from keepalived or common misspellings -> what to say instead of "unknown key".
    renamed: Mapping[str, str] = field(default_factory=dict)
    model: type | None = None  # the dataclass `make` builds (settings.model_section sets it)
    # Equal objects of this section read from one file are one object (Context.share): the
    # same checker written for thousands of real servers (issue 18). Frozen models only.
    shared: bool = False

    def field_named(self, name: str) -> Field:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(name)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for f in self.fields:
            prop = dict(f.kind.schema(defs))
            if f.doc:
                prop["description"] = f.doc
            if f.default not in (REQUIRED, None) and _jsonable(f.default):
                prop["default"] = _to_json(f.default)
            properties[f.name] = prop
        out: dict[str, Any] = {
            "type": "object",
            "title": self.title,
            "description": " ".join((self.doc, *self.rules)),
            "properties": properties,
            "additionalProperties": False,
        }
        required = [f.name for f in self.fields if f.required]
        if required:
            out["required"] = required
        return out


def _jsonable(value: Any) -> bool:
    return isinstance(value, bool | int | float | str | tuple | frozenset)


def _to_json(value: Any) -> Any:
    if isinstance(value, tuple | frozenset):
        return sorted(value) if isinstance(value, frozenset) else list(value)
    return value


class Values:
    """The parsed fields of one mapping, with where each came from."""

    def __init__(self, section: Section, node: MappingNode, path: str, ctx: Context) -> None:
        self.section = section
        self.node = node
        self.path = path
        self.ctx = ctx
        self._values: dict[str, Any] = {}
        self._nodes: dict[str, Node] = {}  # value nodes of keys present in the file
        self.order: list[str] = []  # keys in file order

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def given(self, name: str) -> bool:
        return name in self._nodes

    def ok(self, *names: str) -> bool:
        return all(self._values[name] is not INVALID for name in names)

    def all_ok(self) -> bool:
        return INVALID not in self._values.values()

    def items(self, name: str) -> list[tuple[int, Any]]:
        """(index, item) of the valid items of a list field, even when others are invalid."""
        value = self._values[name]
        if value is not INVALID:
            return list(enumerate(value))
        node = self._nodes.get(name)
        return self.ctx.partial.get(id(node), []) if node is not None else []

    def kwargs(self, *names: str) -> dict[str, Any]:
        return {name: self._values[name] for name in names}

    def locate(self, *parts: str | int) -> tuple[Node, str]:
        """The node and path of a value below this section, e.g. ("real_servers", 2, "port");
        stops at the deepest part present in the file."""
        node: Node = self.node
        path = self.path
        for part in parts:
            child = _child(node, part)
            if child is None:
                break
            node, path = child, join_path(path, part)
        return node, path

    def error(self, parts: str | int | tuple[str | int, ...], message: str) -> None:
        parts = parts if isinstance(parts, tuple) else (parts,)
        node, _ = self.locate(*parts)
        path = self.path
        for part in parts:  # the path names what the rule is about, even when it is absent
            path = join_path(path, part)
        self.ctx.error(node, path, message)

    def section_error(self, message: str) -> None:
        self.ctx.error(self.node, self.path, message)

    def line(self, *parts: str | int) -> int:
        node = self.locate(*parts)[0]
        return SourceLine(node.start_mark.line + 1,
                          self.ctx.file_of(node) if self.ctx.included else None)


class SourceLine(int):
    """A line number for messages ("first used at line 3"); with `include:` it names its
    file too ("at line 3 of conf.d/vips.yaml"), since the line may be in another file."""

    file: str | None

    def __new__(cls, line: int, file: str | None = None) -> SourceLine:
        self = super().__new__(cls, line)
        self.file = file
        return self

    def __str__(self) -> str:
        return f"{int(self)} of {self.file}" if self.file else str(int(self))

    def __format__(self, spec: str) -> str:
        return str(self) if not spec else format(int(self), spec)


def _child(node: Node, part: str | int) -> Node | None:
    if isinstance(part, int):
        if isinstance(node, SequenceNode) and part < len(node.value):
            return node.value[part]
        return None
    if isinstance(node, MappingNode):
        found = None
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == part:
                found = value  # the last one wins, as after a merge
        return found
    return None


def unknown_key_message(key: str, section: Section) -> str:
    if key in section.renamed:
        return f"unknown key {key!r}: {section.renamed[key]}"
    names = [f.name for f in section.fields]
    hint = did_you_mean(key, names)
    if hint:
        return f"unknown key {key!r}; did you mean {hint!r}?"
    return f"unknown key {key!r} (expected one of: {', '.join(names)})"


def parse_section(
    section: Section, node: Node, path: str, ctx: Context, shorthand_of: str | None = None
) -> Any:
    if not ctx.spend(node, path):
        return INVALID
    if not isinstance(node, MappingNode):
        ctx.error(node, path, f"expected a mapping ({section.name}), got {describe_node(node)}")
        return INVALID
    issues_before = len(ctx.issues)
    values = Values(section, node, path, ctx)
    known = {f.name: f for f in section.fields}
    first_seen: dict[str, Node] = {}
    for key_node, _ in node.value:
        key = key_node.value if isinstance(key_node, ScalarNode) else None
        if key == "<<":
            continue
        if not isinstance(key, str) or key_node.tag != YAML_TAG + "str":
            ctx.error(key_node, path, f"keys must be plain words, got {describe_node(key_node)}")
        elif key in first_seen:
            ctx.error(
                key_node,
                join_path(path, key),
                f"duplicate key {key!r} (first at line {first_seen[key].start_mark.line + 1})",
            )
        else:
            first_seen[key] = key_node
    try:  # resolve YAML merge keys (<<: *defaults); own keys come last and win
        ctx._constructor.flatten_mapping(node)
    except yaml.YAMLError as exc:
        ctx.error(node, path, f"bad merge key: {getattr(exc, 'problem', exc)}")
        return INVALID
    for key_node, value_node in node.value:
        key = key_node.value if isinstance(key_node, ScalarNode) else None
        if not isinstance(key, str):
            continue
        if key not in known:
            ctx.error(key_node, join_path(path, key), unknown_key_message(key, section))
            continue
        if key not in values._nodes:
            values.order.append(key)
        values._nodes[key] = value_node
        value_path = path if key == shorthand_of else join_path(path, key)
        values._values[key] = known[key].kind.parse(value_node, value_path, ctx)
    for f in section.fields:
        if f.name in values._values:
            continue
        if f.required:
            ctx.error(node, path, f"missing required key {f.name!r}")
            values._values[f.name] = INVALID
        else:
            values._values[f.name] = f.default
    if section.check is not None:
        section.check(values)
    if len(ctx.issues) > issues_before or not values.all_ok():
        return INVALID
    made = section.make(values)
    return ctx.share(made) if section.shared else made


def all_sections(root: Section) -> list[Section]:
    """Every section reachable from `root`, depth first, each once."""
    seen: dict[str, Section] = {}

    def visit(section: Section) -> None:
        if section.name in seen:
            return
        seen[section.name] = section
        for f in section.fields:
            for child in f.kind.sections():
                visit(child)

    visit(root)
    return list(seen.values())
