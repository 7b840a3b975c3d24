"""Compound kinds: lists of values, and values that are mappings (sections) of their own."""

from __future__ import annotations

from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from haipvs.config.spec import (
    INVALID,
    YAML_TAG,
    Kind,
    Section,
    describe_node,
    join_path,
    parse_section,
)
from haipvs.dataclass_lean import dataclass


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
            [(ScalarNode(YAML_TAG + "str", self.key, node.start_mark, node.end_mark), node)],
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
