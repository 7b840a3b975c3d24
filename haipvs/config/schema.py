"""JSON Schema (draft 2020-12) of the YAML format, generated from the field specs.

The schema covers keys, types, ranges and choices; rules spanning several fields are checked
only by `haipvs check` (they are listed in each definition's description)."""

from __future__ import annotations

from typing import Any

from haipvs import __version__
from haipvs.config.sections import CONFIG

SCHEMA_ID = "https://haipvs.invalid/schema/config.json"


def json_schema() -> dict[str, Any]:
    defs: dict[str, Any] = {}
    root = CONFIG.schema(defs)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **root,
        "title": f"haipvs configuration (haipvs {__version__})",
        "$defs": defs,
    }
