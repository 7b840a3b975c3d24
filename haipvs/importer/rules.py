"""The pieces every keepalived block's keyword table is made of.

A table maps a keepalived keyword to a rule; a rule is called as `rule(ctx, node, draft)`
with the statement (`node`) and the translation of the enclosing block (`draft`, whose
`fields` hold the haipvs keys). Most keywords need only a declarative rule:

- `Value(out, convert, low, high)`: the single argument, converted and range-checked, becomes
  `fields[out]`;
- `Flag(out, value)`: the keyword alone sets `fields[out]`;
- `Choice(out, convert, choices, why)`: one of a fixed set of words, else a note;
- `Command(out)`: a script command line (argv);
- `Skip(why)`: reported as not translated, with the reason.

Anything else is a plain function with the same signature. A keyword missing from the table
is reported (`Context.skip` looks up the reason in `reasons.WHY`): nothing is dropped silently.
"""

from __future__ import annotations

import ipaddress
import shlex
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from haipvs.dataclass_lean import dataclass
from haipvs.importer.grammar import Node, Token
from haipvs.importer.notes import CHANGED, Note
from haipvs.importer.reasons import WHY
from haipvs.importer.state import Draft, TranslationState

# The widest range of seconds the importer reads (a day): keepalived takes these values, and
# `haipvs check` (run on the output) reports any that haipvs narrows further.
SECONDS_MAX = 86400


class Rule(Protocol):
    def __call__(self, ctx: Context, node: Node, draft: Any) -> None: ...


Table = Mapping[str, Rule]


class Context:
    """Where notes go, how a statement's arguments are read, and what has been gathered."""

    def __init__(self, notes: list[Note]) -> None:
        self.notes = notes
        self.state = TranslationState()

    def skip(self, node: Node, why: str | None = None) -> None:
        why = why or WHY.get(node.keyword) or "haipvs has no such setting"
        self.notes.append(Note(node.file, node.line, node.keyword, why))

    def changed(self, node: Node, why: str, keyword: str | None = None) -> None:
        self.notes.append(Note(node.file, node.line, keyword or node.keyword, why, CHANGED))

    def one(self, node: Node, convert: Callable[[Any], Any] = str, low: float | None = None,
            high: float | None = None) -> Any:
        """The single argument of `node`, converted and range-checked; None (noted) if bad.
        `argv` takes all the arguments: a command line is one value however it is split."""
        if not node.args:
            self.skip(node, "needs a value")
            return None
        if len(node.args) > 1 and convert is not argv:
            self.skip(node, f"expected one value, got {len(node.args)}")
            return None
        raw = node.values[0] if convert is not argv else node.args
        try:
            value = convert(raw)
        except ValueError:
            self.skip(node, f"bad value {' '.join(node.values)!r}")
            return None
        if isinstance(value, int | float) and not isinstance(value, bool) and (
            (low is not None and value < low) or (high is not None and value > high)
        ):
            self.skip(node, f"{value} is out of range {low:g}..{high:g}")
            return None
        return value

    def block(self, node: Node) -> list[Node]:
        if node.children is None:
            self.skip(node, "expected a { ... } block")
            return []
        return node.children

    def apply(self, table: Table, node: Node, draft: Any) -> None:
        """Translate one statement with `table`; a keyword it lacks is reported."""
        rule = table.get(node.keyword)
        if rule is None:
            self.skip(node)
        else:
            rule(self, node, draft)

    def apply_all(self, table: Table, node: Node, draft: Any) -> None:
        for child in self.block(node):
            self.apply(table, child, draft)


# ---- declarative rules ---------------------------------------------------------------------

@dataclass(frozen=True)
class Value:
    out: str
    convert: Callable[[Any], Any] = str
    low: float | None = None
    high: float | None = None

    def __call__(self, ctx: Context, node: Node, draft: Draft) -> None:
        value = ctx.one(node, self.convert, self.low, self.high)
        if value is not None:
            draft.fields[self.out] = value


@dataclass(frozen=True)
class Flag:
    out: str
    value: Any = True

    def __call__(self, ctx: Context, node: Node, draft: Draft) -> None:
        draft.fields[self.out] = self.value


@dataclass(frozen=True)
class Choice:
    """One of `choices` (after `convert`); anything else is noted with `why`, which may name
    the value as {value!r}."""

    out: str
    convert: Callable[[str], Any]
    choices: Sequence[Any] | Mapping[Any, Any]
    why: str

    def __call__(self, ctx: Context, node: Node, draft: Draft) -> None:
        value = ctx.one(node, self.convert)
        if value in self.choices:
            draft.fields[self.out] = (self.choices[value] if isinstance(self.choices, Mapping)
                                      else value)
        elif value is not None:
            ctx.skip(node, self.why.format(value=value))


@dataclass(frozen=True)
class Command:
    """A script command line; an empty one is left out."""

    out: str

    def __call__(self, ctx: Context, node: Node, draft: Draft) -> None:
        value = ctx.one(node, argv)
        if value:
            draft.fields[self.out] = value


@dataclass(frozen=True)
class Skip:
    why: str

    def __call__(self, ctx: Context, node: Node, draft: Any) -> None:
        ctx.skip(node, self.why)


def rules_for(keywords: Sequence[str], rule: Callable[[str], Rule]) -> dict[str, Rule]:
    """The same kind of rule for several keywords, each keeping its own name."""
    return {keyword: rule(keyword) for keyword in keywords}


# ---- value conversions ---------------------------------------------------------------------

def number(text: str) -> int | float:
    """keepalived's numbers: an int unless written with a point; never NaN or infinite."""
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(text)
    return int(value) if value.is_integer() and "." not in text else value


def address(text: str) -> str:
    return str(ipaddress.ip_address(text))


def argv(tokens: list[Token]) -> list[str]:
    """A keepalived command: one quoted string holding the whole command line, or the
    words of the line. keepalived splits it like a shell (without running one)."""
    if len(tokens) == 1 and tokens[0].quoted:
        return shlex.split(tokens[0].text)
    return [t.text for t in tokens]


def text(value: str) -> str:
    """The argument as written (a regex, whose spaces are its own)."""
    return value


def hex_bytes(value: str) -> str:
    cleaned = value.replace(":", "").replace(" ", "")
    bytes.fromhex(cleaned)
    return cleaned.lower()


def ordered(fields: Mapping[str, Any], order: Sequence[str]) -> dict[str, Any]:
    """`fields` in the order haipvs documents them (the YAML keeps insertion order)."""
    return {key: fields[key] for key in order if key in fields}
