"""Config loader fuzz (tests/fuzz/config_target.py): seeded mutations of the committed YAML
corpus and hypothesis over op lists. Only a Config or a located ConfigError may come out.

CI runs 50k inputs (~10 s; the loader composes with libyaml, ~0.1 ms per input).
`python -m tests.fuzz.config_target --count N` runs more. Crashes found are in
KNOWN_CRASHES until fixed; each fixed one keeps a regression test below."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haipvs.config import Config, ConfigError, load_config_text
from tests.fuzz.config_target import (
    KNOWN_CRASHES,
    OP_KINDS,
    check,
    crash_signature,
    load_corpus,
    mutate,
    run,
)

CORPUS = load_corpus()
ops = st.lists(st.tuples(st.integers(0, OP_KINDS - 1), st.integers(0, 0xFFFF),
                         st.integers(0, 0xFFFF)), min_size=1, max_size=4)


@pytest.mark.parametrize("entry", CORPUS, ids=lambda e: e.name)
def test_every_corpus_seed_is_a_valid_config(entry):
    assert isinstance(load_config_text(entry.text, entry.name), Config)


def _budget(count: int, seed: int) -> None:
    outcomes = run(count, seed=seed, corpus=CORPUS, known=KNOWN_CRASHES)
    assert sum(outcomes.values()) == count
    assert outcomes["valid"] > 0 and outcomes["rejected"] > 0
    assert set(outcomes) <= {"valid", "rejected", *(f"crash: {k}" for k in KNOWN_CRASHES)}


def test_50k_mutated_configs_load_or_fail_with_located_errors():
    _budget(50_000, seed=20261122)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entry=st.sampled_from(CORPUS), mutation=ops)
def test_op_list_mutations_give_config_or_config_error(entry, mutation):
    try:
        check(mutate(entry, mutation, CORPUS))
    except AssertionError:
        raise
    except Exception as exc:
        assert crash_signature(exc) in KNOWN_CRASHES, repr(exc)


TAGGED = "global: {router_id: lvs-a}\nvrrp_instances:\n  - name: VI_1\n    interface: eth0\n" \
         "    virtual_router_id: 51\n    priority: %s\n    virtual_ipaddress: [192.0.2.100/24]\n"


@pytest.mark.parametrize("value", ["!!float", "!!int x", "!!bool maybe", "!!timestamp x"])
def test_tagged_scalar_with_a_bad_value_is_a_config_error(value):
    with pytest.raises(ConfigError) as raised:
        load_config_text(TAGGED % value, "tagged.yaml")
    assert raised.value.issues[0].line == 6
