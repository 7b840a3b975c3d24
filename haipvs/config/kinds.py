"""Scalar kinds: how one value of the file is read, described and schematised.

Each kind parses a PyYAML node (reporting problems with the node's line), describes itself for
docs/config.md and gives its JSON Schema. Kinds made of other kinds or of sections (lists,
nested mappings) are in compound.py.
"""

from __future__ import annotations

import datetime
import ipaddress
import math
import re
import shlex
from typing import Any

from yaml.nodes import ScalarNode, SequenceNode

from haipvs.config.spec import INVALID, Kind, describe_node, did_you_mean, join_path
from haipvs.dataclass_lean import dataclass


def _fmt_number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)



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
        return ctx.share(float(value))

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
    # Words a user may expect (keepalived has them) that haipvs refuses: (word, why).
    refused: tuple[tuple[str, str], ...] = ()

    def parse(self, node, path, ctx):
        value = self._scalar(node, path, ctx, "one of " + ", ".join(self.choices))
        if value is INVALID:
            return INVALID
        text = _raw_text(node, value)
        for word, why in self.refused:
            if text is not None and text.lower() == word.lower():
                ctx.error(node, path, f"{word} is not supported: {why}")
                return INVALID
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
            return ctx.share(ipaddress.ip_address(text if text is not None else value))
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
