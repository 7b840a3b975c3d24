"""Declarative field specs: one table per config section drives parsing, validation, defaults,
the JSON Schema and the generated reference (docs/config.md).

Parsing works on PyYAML *nodes* (from `yaml.compose`) rather than constructed Python objects,
so every value keeps its line and every error can say where it is.
"""

from __future__ import annotations

import datetime
import difflib
import ipaddress
import math
import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from haipvs.config.errors import ConfigIssue


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

_TAG = "tag:yaml.org,2002:"


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

    def error(self, node: Node | None, path: str, message: str) -> None:
        line = node.start_mark.line + 1 if node is not None else None
        self.issues.append(ConfigIssue(self.filename, line, path, message))

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
            return self._constructor.construct_object(node, deep=True)
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


def join_path(base: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{base}[{part}]"
    return f"{base}.{part}" if base else part


def describe_node(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    tag = node.tag.removeprefix(_TAG)
    if tag == "null":
        return "nothing (null)"
    if tag == "str":
        return f"the string {node.value!r}"
    return f"{tag} {node.value}"


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def did_you_mean(word: str, choices: Sequence[str]) -> str | None:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return close[0] if close else None


# ---------------------------------------------------------------------------------------------
# Kinds: how one value is read, described and schematised


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


def _raw_text(node: ScalarNode, value: Any) -> str | None:
    """The text as written, for string-like fields: `password: 1111` means "1111"."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float | datetime.date) and not isinstance(value, bool):
        return node.value  # also dates: `router_id: 2024-01-01` means the text
    return None


@dataclass(frozen=True)
class Bool(Kind):
    def parse(self, node, path, ctx):
        value = self._scalar(node, path, ctx, "true or false")
        if value is INVALID:
            return INVALID
        if not isinstance(value, bool):
            ctx.error(node, path, f"expected true or false, got {describe_node(node)}")
            return INVALID
        return value

    def schema(self, defs):
        return {"type": "boolean"}

    def describe(self):
        return "boolean"


@dataclass(frozen=True)
class Int(Kind):
    low: int
    high: int
    choices: tuple[int, ...] = ()

    def parse(self, node, path, ctx):
        value = self._scalar(node, path, ctx, "an integer")
        if value is INVALID:
            return INVALID
        if not isinstance(value, int) or isinstance(value, bool):
            ctx.error(node, path, f"expected an integer, got {describe_node(node)}")
            return INVALID
        if self.choices and value not in self.choices:
            allowed = " or ".join(str(c) for c in self.choices)
            ctx.error(node, path, f"{value} is not allowed; expected {allowed}")
            return INVALID
        if not self.low <= value <= self.high:
            ctx.error(node, path, f"{value} is out of range {self.low}..{self.high}")
            return INVALID
        return value

    def schema(self, defs):
        if self.choices:
            return {"type": "integer", "enum": list(self.choices)}
        return {"type": "integer", "minimum": self.low, "maximum": self.high}

    def describe(self):
        if self.choices:
            return "integer: " + " or ".join(str(c) for c in self.choices)
        return f"integer {self.low}..{self.high}"


@dataclass(frozen=True)
class Float(Kind):
    """A number of seconds (or similar); integers are accepted."""

    low: float
    high: float

    def parse(self, node, path, ctx):
        value = self._scalar(node, path, ctx, "a number")
        if value is INVALID:
            return INVALID
        if not isinstance(value, int | float) or isinstance(value, bool):
            ctx.error(node, path, f"expected a number, got {describe_node(node)}")
            return INVALID
        if not math.isfinite(value) or not self.low <= value <= self.high:
            ctx.error(
                node,
                path,
                f"{node.value} is out of range {_fmt_number(self.low)}..{_fmt_number(self.high)}",
            )
            return INVALID
        return float(value)

    def schema(self, defs):
        return {"type": "number", "minimum": self.low, "maximum": self.high}

    def describe(self):
        return f"number {_fmt_number(self.low)}..{_fmt_number(self.high)}"


@dataclass(frozen=True)
class Text(Kind):
    """A string. Bare numbers are taken as written (`password: 1111` is "1111")."""

    max_len: int | None = None
    pattern: str | None = None  # full-match regex
    pattern_doc: str = ""  # what the pattern means, for messages and docs
    octets: bool = False  # max_len counts UTF-8 octets, not characters

    def parse(self, node, path, ctx):
        value = self._scalar(node, path, ctx, "a string")
        if value is INVALID:
            return INVALID
        text = _raw_text(node, value)
        if text is None or text == "":
            ctx.error(node, path, f"expected a non-empty string, got {describe_node(node)}")
            return INVALID
        size = len(text.encode()) if self.octets else len(text)
        if self.max_len is not None and size > self.max_len:
            unit = "octets" if self.octets else "characters"
            ctx.error(node, path, f"{text!r} is {size} {unit} long; at most {self.max_len} allowed")
            return INVALID
        if self.pattern is not None and not re.fullmatch(self.pattern, text):
            ctx.error(node, path, f"{text!r} is not valid: {self.pattern_doc}")
            return INVALID
        return text

    def schema(self, defs):
        out: dict[str, Any] = {"type": ["string", "integer"], "minLength": 1}
        if self.max_len is not None and not self.octets:
            out["maxLength"] = self.max_len
        if self.pattern is not None:
            out["pattern"] = f"^(?:{self.pattern})$"
        return out

    def describe(self):
        text = "string"
        if self.max_len is not None:
            text += f", at most {self.max_len} {'octets' if self.octets else 'characters'}"
        if self.pattern_doc:
            text += f" ({self.pattern_doc})"
        return text


@dataclass(frozen=True)
class Choice(Kind):
    """One of fixed words. Case is ignored when `fold_case`; the canonical spelling is kept."""

    choices: tuple[str, ...]
    fold_case: bool = True

    def parse(self, node, path, ctx):
        value = self._scalar(node, path, ctx, "one of " + ", ".join(self.choices))
        if value is INVALID:
            return INVALID
        text = _raw_text(node, value)
        for choice in self.choices:
            if text == choice or (
                text is not None and self.fold_case and text.lower() == choice.lower()
            ):
                return choice
        shown = repr(text) if text is not None else describe_node(node)
        message = f"unknown value {shown}"
        hint = did_you_mean(text, self.choices) if text else None
        if hint:
            message += f"; did you mean {hint!r}?"
        ctx.error(node, path, f"{message} (expected one of: {', '.join(self.choices)})")
        return INVALID

    def schema(self, defs):
        enum: list[Any] = []
        for choice in self.choices:
            enum.append(choice)
            if self.fold_case and choice.lower() != choice:
                enum.append(choice.lower())
            try:  # "1.0" may be written as a bare YAML number
                number = float(choice)
            except ValueError:
                continue
            enum.append(number)
        return {"enum": enum}

    def describe(self):
        return "one of: " + ", ".join(f"`{c}`" for c in self.choices)


@dataclass(frozen=True)
class IPAddr(Kind):
    def parse(self, node, path, ctx):
        value = self._scalar(node, path, ctx, "an IP address")
        if value is INVALID:
            return INVALID
        text = _raw_text(node, value)
        try:
            return ipaddress.ip_address(text if text is not None else value)
        except ValueError:
            ctx.error(node, path, f"{describe_node(node)} is not a valid IP address")
            return INVALID

    def schema(self, defs):
        return {"type": "string", "description": "IPv4 or IPv6 address"}

    def describe(self):
        return "IP address"


def parse_interface(text: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    """`192.0.2.1/24` or bare `192.0.2.1` (a host route). Raises ValueError with a reason."""
    address_text, slash, prefix_text = text.partition("/")
    try:
        address = ipaddress.ip_address(address_text)
    except ValueError:
        raise ValueError("not a valid IP address") from None
    if not slash:
        return ipaddress.ip_interface((address, address.max_prefixlen))
    if prefix_text.isdigit():
        prefix = int(prefix_text)
        if not 1 <= prefix <= address.max_prefixlen:
            raise ValueError(f"prefix length {prefix} is out of range 1..{address.max_prefixlen}")
        return ipaddress.ip_interface((address, prefix))
    try:  # a dotted netmask
        return ipaddress.ip_interface(f"{address}/{prefix_text}")
    except ValueError:
        raise ValueError(f"{prefix_text!r} is not a valid prefix length or netmask") from None


@dataclass(frozen=True)
class IPInterfaceKind(Kind):
    """An address with an optional prefix length."""

    def parse(self, node, path, ctx):
        value = self._scalar(node, path, ctx, "an address like 192.0.2.1/24")
        if value is INVALID:
            return INVALID
        text = _raw_text(node, value)
        if text is None:
            expected = "an address like 192.0.2.1/24"
            ctx.error(node, path, f"expected {expected}, got {describe_node(node)}")
            return INVALID
        try:
            return parse_interface(text)
        except ValueError as exc:
            ctx.error(node, path, f"{text!r}: {exc}")
            return INVALID

    def schema(self, defs):
        return {"type": "string", "description": "address[/prefix]"}

    def describe(self):
        return "address[/prefix] (bare address = /32 or /128)"


@dataclass(frozen=True)
class Netmask(Kind):
    """A netmask as prefix length (`24`) or dotted IPv4 mask (`255.255.255.0`); gives the
    prefix length."""

    def parse(self, node, path, ctx):
        value = self._scalar(node, path, ctx, "a netmask")
        if value is INVALID:
            return INVALID
        if isinstance(value, int) and not isinstance(value, bool):
            if 1 <= value <= 128:
                return value
            ctx.error(node, path, f"prefix length {value} is out of range 1..128")
            return INVALID
        text = _raw_text(node, value) or ""
        try:
            return ipaddress.IPv4Network(f"0.0.0.0/{text}").prefixlen
        except ValueError:
            ctx.error(node, path, f"{describe_node(node)} is not a netmask like 255.255.255.0")
            return INVALID

    def schema(self, defs):
        return {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 128}, {"type": "string"}]}

    def describe(self):
        return "netmask: prefix length or dotted IPv4 mask"


@dataclass(frozen=True)
class Regex(Kind):
    def parse(self, node, path, ctx):
        text = Text().parse(node, path, ctx)
        if text is INVALID:
            return INVALID
        try:
            re.compile(text)
        except re.error as exc:
            ctx.error(node, path, f"invalid regular expression {text!r}: {exc}")
            return INVALID
        return text

    def schema(self, defs):
        return {"type": "string", "format": "regex"}

    def describe(self):
        return "regular expression (Python syntax)"


@dataclass(frozen=True)
class HexBytes(Kind):
    def parse(self, node, path, ctx):
        text = Text().parse(node, path, ctx)
        if text is INVALID:
            return INVALID
        try:
            return bytes.fromhex(text)
        except ValueError:
            ctx.error(node, path, f"{text!r} is not hexadecimal bytes like '0a1b2c'")
            return INVALID

    def schema(self, defs):
        return {"type": "string", "pattern": "^(?:\\s*[0-9a-fA-F]{2})+\\s*$"}

    def describe(self):
        return "hex bytes, e.g. `0a1b2c`"


@dataclass(frozen=True)
class StatusCodes(Kind):
    """`200`, `"200-299"` or a list of those; gives inclusive (low, high) ranges."""

    def _one(self, node, path, ctx):
        value = self._scalar(node, path, ctx, "a status code or range like 200-299")
        if value is INVALID:
            return INVALID
        if isinstance(value, int) and not isinstance(value, bool):
            low = high = value
        else:
            match = re.fullmatch(r"\s*(\d{3})\s*-\s*(\d{3})\s*", str(value))
            if match is None:
                ctx.error(node, path, f"{describe_node(node)} is not a status code or range")
                return INVALID
            low, high = int(match[1]), int(match[2])
        if not (100 <= low <= 599 and 100 <= high <= 599):
            ctx.error(node, path, f"{node.value} is out of range 100..599")
            return INVALID
        if low > high:
            ctx.error(node, path, f"range {low}-{high} is empty")
            return INVALID
        return (low, high)

    def parse(self, node, path, ctx):
        if isinstance(node, SequenceNode):
            if not node.value:
                ctx.error(node, path, "expected at least one status code")
                return INVALID
            ranges = [self._one(item, join_path(path, i), ctx) for i, item in enumerate(node.value)]
            return INVALID if any(r is INVALID for r in ranges) else tuple(ranges)
        one = self._one(node, path, ctx)
        return INVALID if one is INVALID else (one,)

    def schema(self, defs):
        one = {
            "anyOf": [
                {"type": "integer", "minimum": 100, "maximum": 599},
                {"type": "string", "pattern": "^\\s*\\d{3}\\s*-\\s*\\d{3}\\s*$"},
            ]
        }
        return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}]}

    def describe(self):
        return "status code, range `200-299`, or a list of those"


@dataclass(frozen=True)
class Argv(Kind):
    """A command: a list of arguments, or a string split like a shell would (no shell runs)."""

    def parse(self, node, path, ctx):
        if isinstance(node, SequenceNode):
            args = [Text().parse(n, join_path(path, i), ctx) for i, n in enumerate(node.value)]
            if any(arg is INVALID for arg in args):
                return INVALID
        else:
            text = Text().parse(node, path, ctx)
            if text is INVALID:
                return INVALID
            try:
                args = shlex.split(text)
            except ValueError as exc:
                ctx.error(node, path, f"cannot split {text!r} into arguments: {exc}")
                return INVALID
        if not args:
            ctx.error(node, path, "expected a command")
            return INVALID
        return tuple(args)

    def schema(self, defs):
        return {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "items": {"type": "string"}, "minItems": 1},
            ]
        }

    def describe(self):
        return "command: list of arguments, or a string split like a shell (no shell is run)"


@dataclass(frozen=True)
class ListOf(Kind):
    item: Kind
    min_items: int = 0

    def parse(self, node, path, ctx):
        if not isinstance(node, SequenceNode):
            ctx.error(node, path, f"expected a list, got {describe_node(node)}")
            return INVALID
        if len(node.value) < self.min_items:
            ctx.error(node, path, f"expected at least {self.min_items} item(s)")
            return INVALID
        items = [self.item.parse(n, join_path(path, i), ctx) for i, n in enumerate(node.value)]
        if any(item is INVALID for item in items):
            valid = [(i, item) for i, item in enumerate(items) if item is not INVALID]
            ctx.partial[id(node)] = valid
            return INVALID
        return tuple(items)

    def schema(self, defs):
        out = {"type": "array", "items": self.item.schema(defs)}
        if self.min_items:
            out["minItems"] = self.min_items
        return out

    def describe(self):
        text = f"list of {self.item.describe()}"
        return text if not self.min_items else f"{text} (at least {self.min_items})"

    def sections(self):
        return self.item.sections()


@dataclass(frozen=True)
class OneOrMany(Kind):
    """A single item or a list of them; always gives a tuple."""

    item: Kind

    def parse(self, node, path, ctx):
        if isinstance(node, SequenceNode):
            return ListOf(self.item, 1).parse(node, path, ctx)
        one = self.item.parse(node, path, ctx)
        return INVALID if one is INVALID else (one,)

    def schema(self, defs):
        one = self.item.schema(defs)
        return {"anyOf": [one, {"type": "array", "items": one, "minItems": 1}]}

    def describe(self):
        return f"{self.item.describe()}, or a list of them"

    def sections(self):
        return self.item.sections()


@dataclass(frozen=True)
class Nested(Kind):
    section: Section

    def parse(self, node, path, ctx):
        return parse_section(self.section, node, path, ctx)

    def schema(self, defs):
        if self.section.name not in defs:
            defs[self.section.name] = {}  # reserve first: sections may recurse
            defs[self.section.name] = self.section.schema(defs)
        return {"$ref": f"#/$defs/{self.section.name}"}

    def describe(self):
        return f"[{self.section.name}](#{self.section.name.replace('_', '-')})"

    def sections(self):
        return [self.section]


@dataclass(frozen=True)
class ScalarOr(Kind):
    """A scalar shorthand, or the full mapping form of a section (`192.0.2.1/24` or
    `{address: 192.0.2.1/24, dev: eth0}`). The scalar becomes the section's `key` field."""

    section: Section
    key: str

    def parse(self, node, path, ctx):
        if isinstance(node, MappingNode):
            return parse_section(self.section, node, path, ctx)
        if isinstance(node, SequenceNode):
            ctx.error(node, path, f"expected a string or a mapping, got {describe_node(node)}")
            return INVALID
        synthetic = MappingNode(
            "tag:yaml.org,2002:map",
            [(ScalarNode(_TAG + "str", self.key, node.start_mark, node.end_mark), node)],
            node.start_mark,
            node.end_mark,
        )
        return parse_section(self.section, synthetic, path, ctx, shorthand_of=self.key)

    def schema(self, defs):
        scalar = self.section.field_named(self.key).kind.schema(defs)
        return {"anyOf": [scalar, Nested(self.section).schema(defs)]}

    def describe(self):
        scalar = self.section.field_named(self.key).kind.describe()
        return f"{scalar}, or {Nested(self.section).describe()}"

    def sections(self):
        return [self.section]


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
    """One mapping in the file. `make(values)` builds the model object; `check(values)` reports
    rules that involve several fields (documented in `rules`)."""

    name: str
    title: str
    doc: str
    fields: tuple[Field, ...]
    make: Callable[[Values], Any]
    check: Callable[[Values], None] | None = None
    rules: tuple[str, ...] = ()
    # Names from keepalived or common misspellings -> what to say instead of "unknown key".
    renamed: Mapping[str, str] = field(default_factory=dict)

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
        return self.locate(*parts)[0].start_mark.line + 1


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
        if not isinstance(key, str) or key_node.tag != _TAG + "str":
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
    return section.make(values)


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
