"""A small YAML writer that keeps comments: block style for structure, flow style for short
leaf mappings and lists (`tcp_check: {connect_timeout: 3, retry: 3}`). Scalars and flow
collections are rendered by PyYAML, so quoting is always right."""

from __future__ import annotations

from typing import Any

import yaml

FLOW_WIDTH = 96


class Block(dict):
    """A mapping with comments: `above` goes before it (in a list: before its `-`),
    `notes[key]` at the end of that key's line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.above: list[str] = []
        self.notes: dict[str, str] = {}

    def note(self, key: str, text: str) -> None:
        self.notes[key] = f"{self.notes[key]}; {text}" if key in self.notes else text


def _dump(value: Any, flow: bool) -> str:
    text = yaml.safe_dump(value, default_flow_style=flow, sort_keys=False,
                          width=10**6, allow_unicode=True)
    if text.endswith("\n...\n"):
        text = text[: -len("\n...\n")]
    return text.strip()


def scalar(value: Any) -> str:
    return _dump(value, True)


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _is_leaf(value: Any) -> bool:
    return not isinstance(value, dict | list | tuple)


def _flow(value: Any) -> str | None:
    """The flow form of a small collection without comments, else None."""
    if isinstance(value, Block) and (value.notes or value.above):
        return None
    if isinstance(value, dict):
        children = list(value.values())
    elif isinstance(value, list | tuple):
        children = list(value)
    else:
        return None
    for child in children:
        if isinstance(child, dict | list | tuple) and (
            (isinstance(child, Block) and (child.notes or child.above)) or _flow(child) is None
        ):
            return None
    text = _dump(_plain(value), True)
    return text if len(text) <= FLOW_WIDTH else None


def _comment(text: str | None) -> str:
    return f"  # {text}" if text else ""


def _mapping_lines(mapping: dict, indent: int, first_prefix: str | None = None) -> list[str]:
    """Lines of a block mapping; `first_prefix` replaces the indent of the first line
    (used for `- ` list items)."""
    lines: list[str] = []
    notes = mapping.notes if isinstance(mapping, Block) else {}
    pad = " " * indent
    for i, (key, value) in enumerate(mapping.items()):
        lead = first_prefix if (i == 0 and first_prefix is not None) else pad
        note = _comment(notes.get(key))
        head = f"{lead}{scalar(key)}:"
        if _is_leaf(value):
            lines.append(f"{head} {scalar(value)}{note}")
            continue
        flow = _flow(value)
        if flow is not None and len(head) + len(flow) <= FLOW_WIDTH + indent:
            lines.append(f"{head} {flow}{note}")
            continue
        lines.append(f"{head}{note}")
        if isinstance(value, dict):
            lines.extend(_mapping_lines(value, indent + 2))
        else:
            lines.extend(_sequence_lines(value, indent + 2))
    return lines


def _sequence_lines(items: list | tuple, indent: int) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    for item in items:
        if isinstance(item, Block):
            lines.extend(f"{pad}# {text}" for text in item.above)
        if _is_leaf(item):
            lines.append(f"{pad}- {scalar(item)}")
            continue
        flow = _flow(item)
        if flow is not None:
            lines.append(f"{pad}- {flow}")
        elif isinstance(item, dict):
            lines.extend(_mapping_lines(item, indent + 2, first_prefix=f"{pad}- "))
        else:
            lines.append(f"{pad}-")
            lines.extend(_sequence_lines(item, indent + 2))
    return lines


def to_yaml(document: dict, header: list[str] = ()) -> str:
    """The document as commented YAML; top-level sections separated by blank lines."""
    lines = [f"# {text}" if text else "#" for text in header]
    for key, value in document.items():
        if lines:
            lines.append("")
        if isinstance(value, Block):
            lines.extend(f"# {text}" for text in value.above)
        lines.extend(_mapping_lines({key: value}, 0))
    if not document:
        # Nothing was translatable (keepalived would run with nothing configured too): an
        # empty mapping, which `haipvs check` accepts, rather than an empty file it refuses.
        lines += ["", "{}"]
    return "\n".join(lines) + "\n"
