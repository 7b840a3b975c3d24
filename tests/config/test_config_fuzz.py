"""Whatever the file holds, loading gives a Config or a ConfigError with located issues; no
other exception escapes (so `haipvs check` never prints a traceback)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haipvs.config import Config, ConfigError, load_config_text

ROOT = Path(__file__).resolve().parents[2]
BASE = yaml.safe_load((ROOT / "conf" / "lvs01.yaml").read_text())

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**40), 2**40),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["192.0.2.1", "192.0.2.1/24", "2001:db8::1", "TCP", "wrr", "eth0", "1.1",
                     "200-299", "eth0:1", "-1", "0x10", "", " "]),
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found += _paths(child, (*prefix, key))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found += _paths(child, (*prefix, i))
    return found


PATHS = _paths(BASE)[1:]


def _replace(document: Any, path: tuple, value: Any) -> Any:
    if not path:
        return value
    head, *rest = path
    copy = dict(document) if isinstance(document, dict) else list(document)
    copy[head] = _replace(document[head], tuple(rest), value)
    return copy


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), values), min_size=1, max_size=3))
def test_mutated_configs_fail_cleanly(mutations):
    document = BASE
    for path, value in mutations:
        try:
            document = _replace(document, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed this path
    text = yaml.safe_dump(document, sort_keys=False)
    try:
        result = load_config_text(text, "fuzz.yaml")
    except ConfigError as exc:
        assert exc.issues
        for issue in exc.issues:
            assert issue.file == "fuzz.yaml" and issue.line is not None and issue.message
    else:
        assert isinstance(result, Config)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_arbitrary_text_fails_cleanly(text):
    try:
        load_config_text(text, "fuzz.yaml")
    except ConfigError as exc:
        assert exc.issues
