"""`haipvs schema` output, the conf/ examples against it, and the generated reference."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from haipvs.config import json_schema
from haipvs.config.docgen import config_markdown

ROOT = Path(__file__).resolve().parents[2]
CONF_FILES = sorted((ROOT / "conf").glob("*.yaml"))


def schema_errors(
    value: Any, schema: dict[str, Any], root: dict[str, Any], path: str = ""
) -> list[str]:
    """A small validator for the JSON Schema keywords `json_schema()` emits (jsonschema is not
    a dependency). Unknown keywords fail loudly so the schema cannot outgrow this check."""
    handled = {"$schema", "$id", "$defs", "title", "description", "default", "$ref", "type",
               "properties", "additionalProperties", "required", "enum", "minimum", "maximum",
               "minLength", "maxLength", "pattern", "items", "minItems", "anyOf", "format"}
    unknown = set(schema) - handled
    assert not unknown, f"validator does not handle {unknown}"
    errors: list[str] = []
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/$defs/")
        errors += schema_errors(value, root["$defs"][name], root, path)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return [*errors, f"{path}: {value!r} is not {types}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{path}: {value!r} not in enum")
    if "anyOf" in schema and all(schema_errors(value, s, root, path) for s in schema["anyOf"]):
        errors.append(f"{path}: {value!r} matches no anyOf branch")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{path}: {value} < {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{path}: {value} > {schema['maximum']}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0) or len(value) > schema.get("maxLength", 1e9):
            errors.append(f"{path}: length of {value!r}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            errors.append(f"{path}: {value!r} does not match {schema['pattern']}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{path}: too few items")
        for i, item in enumerate(value):
            errors += schema_errors(item, schema.get("items", {}), root, f"{path}[{i}]")
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{path}: missing {key}")
        for key, item in value.items():
            if key in properties:
                errors += schema_errors(item, properties[key], root, f"{path}.{key}")
            elif schema.get("additionalProperties") is False:
                errors.append(f"{path}: unexpected key {key}")
    return errors


def _is_type(value: Any, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, {"string": str, "boolean": bool, "object": dict, "array": list,
                              "null": type(None)}[name])


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "haipvs", "schema"], capture_output=True,
                            text=True, timeout=60, check=True)
    return json.loads(result.stdout)


def test_schema_is_draft_2020_12_and_matches_the_library(schema):
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema == json.loads(json.dumps(json_schema()))
    assert schema["additionalProperties"] is False
    assert {"global", "vrrp_instances", "virtual_servers"} <= set(schema["properties"])


def test_every_ref_resolves_and_sections_are_closed(schema):
    refs = set(re.findall(r'"\$ref": "#/\$defs/([a-z_]+)"', json.dumps(schema)))
    assert refs == set(schema["$defs"])
    for name, definition in schema["$defs"].items():
        assert definition["type"] == "object", name
        assert definition["additionalProperties"] is False, name
    vrrp = schema["$defs"]["vrrp_instance"]
    assert vrrp["required"] == ["name", "interface", "virtual_router_id", "virtual_ipaddress"]
    assert vrrp["properties"]["priority"] == {
        "type": "integer", "minimum": 1, "maximum": 255,
        "description": "higher wins; 255 = address owner", "default": 100,
    }


@pytest.mark.parametrize("path", CONF_FILES, ids=[p.name for p in CONF_FILES])
def test_conf_examples_validate_against_the_schema(path: Path, schema):
    assert schema_errors(yaml.safe_load(path.read_text()), schema, schema) == []


def test_schema_validator_is_not_vacuous(schema):
    document = yaml.safe_load((ROOT / "conf" / "lvs01.yaml").read_text())
    document["vrrp_instances"][0]["priority"] = 300
    document["vrrp_instances"][0]["prority"] = 1
    document["virtual_servers"][0]["lb_algo"] = "wrrr"
    document["virtual_servers"][0]["real_servers"][0]["tcp_check"]["nb_get_retry"] = 3
    errors = schema_errors(document, schema, schema)
    assert any("priority: 300 > 255" in e for e in errors)
    assert any("unexpected key prority" in e for e in errors)
    assert any("lb_algo: 'wrrr'" in e for e in errors)
    assert any(".tcp_check: " in e and "matches no anyOf branch" in e for e in errors)
    only_the_checker = {"nb_get_retry": 3}
    checker = schema["$defs"]["tcp_check"]
    assert schema_errors(only_the_checker, checker, schema) == [": unexpected key nb_get_retry"]


def test_committed_reference_is_the_generated_one():
    committed = (ROOT / "docs" / "config.md").read_text()
    assert committed == config_markdown(), (
        "docs/config.md is stale: run `python -m haipvs.config.docgen > docs/config.md`"
    )


def test_reference_documents_every_field():
    from haipvs.config.sections import CONFIG
    from haipvs.config.spec import all_sections

    text = config_markdown()
    for section in all_sections(CONFIG):
        assert f'<a id="{section.name.replace("_", "-")}"></a>' in text
        for field in section.fields:
            assert f"| `{field.name}` |" in text
