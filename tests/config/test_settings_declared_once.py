"""Each setting is declared once, on its model dataclass attribute (haipvs/config/settings.py):
the section tables that drive parsing, `haipvs schema` and docs/config.md are derived from the
model, so the two cannot drift. These tests prove the derivation is total and one-to-one."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from haipvs.config import model
from haipvs.config.kinds import Int
from haipvs.config.sections import CONFIG
from haipvs.config.settings import (
    Derived,
    Inputs,
    Setting,
    derived,
    model_section,
    setting,
    spec_of,
    yaml_fields,
)
from haipvs.config.spec import all_sections

SECTIONS = all_sections(CONFIG)
MODEL_CLASSES = [
    obj for name in model.__all__
    if isinstance(obj := getattr(model, name), type) and dataclasses.is_dataclass(obj)
]
# Bases whose attributes their subclasses' sections carry; no YAML mapping is of these alone.
ABSTRACT = {model.Checker, model.ConnectChecker}


@pytest.mark.parametrize("cls", MODEL_CLASSES, ids=lambda c: c.__name__)
def test_every_model_attribute_has_exactly_one_spec(cls):
    for attribute in dataclasses.fields(cls):
        spec = spec_of(attribute)  # raises for an attribute without one
        assert isinstance(spec, Setting | Inputs | Derived), attribute.name


@pytest.mark.parametrize("section", SECTIONS, ids=lambda s: s.name)
def test_every_section_table_is_its_model_attributes(section):
    assert section.model is not None
    assert section.fields == yaml_fields(section.model)
    names = [f.name for f in section.fields]
    assert len(names) == len(set(names)), "a YAML key is declared twice"


def test_sections_and_model_classes_correspond_one_to_one():
    by_model = {}
    for section in SECTIONS:
        assert section.model not in by_model, f"{section.model} has two sections"
        by_model[section.model] = section
    assert set(by_model) == set(MODEL_CLASSES) - ABSTRACT


def test_every_yaml_key_is_declared_by_one_attribute():
    for section in SECTIONS:
        owners: dict[str, str] = {}
        for attribute in dataclasses.fields(section.model):
            spec = spec_of(attribute)
            keys = ([spec.key or attribute.name] if isinstance(spec, Setting)
                    else [f.name for f in spec.fields] if isinstance(spec, Inputs) else [])
            for key in keys:
                assert key not in owners, (section.name, key)
                owners[key] = attribute.name
        assert set(owners) == {f.name for f in section.fields}


def test_model_defaults_agree_with_file_defaults_unless_derived():
    """Where an attribute is read as-is from one key, the model default is the default of the
    key (a test building a model by hand gets what an absent key gives). The exceptions are
    required keys and the attributes listed here, mostly ones a section's derive computes."""
    derived_by_section = {
        # state_dir, pid_file: from instance / net_namespace (haipvs/config/process.py).
        "global": {"router_id", "state_dir", "pid_file"}, "vrrp_instance": {"version"},
        "http_url": {"digest"},
        "real_server": {"tun_flags"}, "virtual_server": {"port", "ip_family", "sched_flags"},
        "config": {"global_settings"},
        # Not derived: the model has no default, so code building one by hand names the type.
        "authentication": {"type"},
    }
    for section in SECTIONS:
        for attribute in dataclasses.fields(section.model):
            spec = spec_of(attribute)
            if not isinstance(spec, Setting) or spec.field(attribute.name).required:
                continue
            if attribute.name in derived_by_section.get(section.name, ()):
                continue
            assert attribute.default == spec.default, (section.name, attribute.name)


def test_an_attribute_without_a_spec_is_refused():
    @dataclass(frozen=True)
    class Bad:
        good: int = setting(Int(0, 1), 0, "fine")
        bad: int = 0

    with pytest.raises(TypeError, match="'bad' has no setting"):
        yaml_fields(Bad)


def test_a_derived_attribute_needs_a_derive_function():
    @dataclass(frozen=True)
    class Computed:
        given: int = setting(Int(0, 1), 0, "fine")
        total: int = derived(0)

    with pytest.raises(TypeError, match="need a derive function"):
        model_section(Computed, "computed", "t", "d")


def test_key_renames_and_model_only_attributes_are_explicit():
    """The few places where the file and the model differ, named so a reader finds them."""
    renamed = {}
    multi = {}
    computed = set()
    for section in SECTIONS:
        for attribute in dataclasses.fields(section.model):
            spec = spec_of(attribute)
            if isinstance(spec, Setting) and spec.key:
                renamed[f"{section.model.__name__}.{attribute.name}"] = spec.key
            elif isinstance(spec, Inputs):
                multi[f"{section.model.__name__}.{attribute.name}"] = [
                    f.name for f in spec.fields]
            elif isinstance(spec, Derived):
                computed.add(f"{section.model.__name__}.{attribute.name}")
    assert renamed == {"HttpGet.urls": "url", "SslGet.urls": "url",
                       "Config.global_settings": "global",
                       "RuleEntry.from_": "from"}  # `from` is a Python keyword
    assert multi["VirtualServer.persistence_timeout"] == ["persistence", "persistence_timeout"]
    assert multi["UdpCheck.payload"] == ["payload", "payload_hex"]
    assert multi["RealServer.checkers"] == [
        "tcp_check", "http_get", "ssl_get", "misc_check", "udp_check", "dns_check",
        "smtp_check", "ping_check", "file_check"]
    assert computed == {"VrrpInstance.family", "Config.source",
                        "SslClient.lines"}  # for `haipvs check`'s load errors
