"""The keyword tables of docs/migration.md (section 7: VRRP, section 8: LVS and checkers), read
back for tests: one row per keepalived keyword, "same" / "different: why" / "not supported:
why", and a haipvs key that `haipvs schema` has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from haipvs.config.schema import json_schema

ROOT = Path(__file__).resolve().parents[2]
MIGRATION = ROOT / "docs" / "migration.md"
KEEPALIVED_MIRROR = Path("/work/.mirror/acassen+keepalived/repo")

# "same" may carry a remark: "same (...)", "same: ...", "same, ...".
STATUS = re.compile(r"^(same(( \(|: |, ).+)?|different: .+|not supported: .+)$")
# The haipvs key cell: "-", or one or more full paths in backticks ("`a.b` / `a.c`").
ROW = re.compile(r"^\| (?P<block>[^|]+?) \| `(?P<keyword>[^`]+)` \| "
                 r"(?P<key>-|`[^`]+`(?:\s*[/,]\s*`[^`]+`)*) \| (?P<status>.+?) \|$")


def table_rows(section: str) -> list[dict[str, str]]:
    """The rows under the heading `section` (up to the next "## ")."""
    text = MIGRATION.read_text()
    assert section in text, f"docs/migration.md has no {section!r}"
    body = text.split(section, 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in body.splitlines():
        if not line.startswith("| ") or line.startswith(("| keepalived block", "| ---")):
            continue
        match = ROW.match(line)
        assert match, f"docs/migration.md: malformed keyword row: {line}"
        row = match.groupdict()
        row["keys"] = re.findall(r"`([^`]+)`", row["key"]) if row["key"] != "-" else []
        rows.append(row)
    return rows


def schema_has(schema: dict[str, Any], key: str) -> bool:
    """`global.router_id`, `vrrp_instances[].garp.master_delay`: walk properties and items,
    through `$ref` and the alternatives of `anyOf` / `oneOf`."""
    defs = schema["$defs"]

    def alternatives(node: dict[str, Any]) -> list[dict[str, Any]]:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[1]]
        found = [node]
        for combo in ("anyOf", "oneOf", "allOf"):
            for alt in node.get(combo, ()):
                found.extend(alternatives(alt))
        return found

    nodes = [schema]
    for part in key.split("."):
        name, is_list = (part[:-2], True) if part.endswith("[]") else (part, False)
        nodes = [alt["properties"][name] for node in nodes for alt in alternatives(node)
                 if name in alt.get("properties", {})]
        if is_list:
            nodes = [alt["items"] for node in nodes for alt in alternatives(node)
                     if "items" in alt]
        if not nodes:
            return False
    return True


def assert_one_row_per_keyword(section: str, keywords: dict[str, tuple[str, ...]]) -> None:
    listed = [(row["block"], row["keyword"]) for row in table_rows(section)]
    expected = [(block, kw) for block, names in keywords.items() for kw in names]
    missing = sorted(set(expected) - set(listed))
    assert not missing, f"keywords missing from docs/migration.md {section!r}: {missing}"
    extra = sorted(set(listed) - set(expected))
    assert not extra, f"rows for keywords keepalived 2.2.7 does not have: {extra}"
    duplicated = sorted({entry for entry in listed if listed.count(entry) > 1})
    assert not duplicated, f"keywords listed twice: {duplicated}"


def assert_statuses(section: str) -> None:
    for row in table_rows(section):
        assert STATUS.match(row["status"]), (
            f"{row['block']} {row['keyword']}: the status must be 'same' (or 'same (...)', "
            f"'same: ...', 'same, ...'), 'different: why' or 'not supported: why', not "
            f"{row['status']!r}")


def assert_keys_in_schema(section: str, example: str) -> None:
    """"same" always names a key; every named key is in `haipvs schema`."""
    schema = json_schema()
    for row in table_rows(section):
        if row["status"].startswith("same"):
            assert row["keys"], f"{row['block']} {row['keyword']}: 'same' needs a key"
        for key in row["keys"]:
            assert schema_has(schema, key), (
                f"{row['block']} {row['keyword']}: {key} is not in `haipvs schema` (name "
                f"each key by its full path, e.g. `{example}`)")
