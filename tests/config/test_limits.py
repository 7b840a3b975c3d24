"""haipvs/limits.py is the one home of facts the config, the VRRP core and the importer share.

These tests pin the relations between the constants (RFC 3768 §5.3.7 / RFC 5798 §5.2.7 field
widths) and check that each layer reads the constants rather than a copy."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from haipvs import limits
from haipvs.config import model
from haipvs.config.sections import CONFIG
from haipvs.config.spec import all_sections
from haipvs.vrrp import packet, params


def _section(name: str):
    return next(s for s in all_sections(CONFIG) if s.name == name)


def test_limits_imports_only_typing():
    tree = ast.parse(Path(limits.__file__).read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module)
    assert imported <= {"__future__", "typing", "dataclasses", "enum"}


def test_rfc5798_5_2_7_v3_interval_is_12_bits_of_centiseconds():
    assert limits.ADVERT_INT_V3_MAX_CENTISECONDS == 2**12 - 1
    assert limits.ADVERT_INT_V3_MAX == (
        limits.ADVERT_INT_V3_MAX_CENTISECONDS / limits.CENTISECONDS_PER_SECOND
    )
    assert limits.ADVERT_INT_V3_MIN == limits.ADVERT_INT_V3_STEP == 1 / 100
    assert packet.MAX_V3_CENTISECONDS == limits.ADVERT_INT_V3_MAX_CENTISECONDS


def test_rfc3768_5_3_7_v2_interval_is_one_octet_of_whole_seconds():
    assert limits.ADVERT_INT_V2_MAX == 2**8 - 1
    assert limits.ADVERT_INT_MIN == limits.ADVERT_INT_V3_MIN
    assert limits.ADVERT_INT_MAX == limits.ADVERT_INT_V2_MAX
    # The JSON Schema prints these numbers: their types are part of `haipvs schema`.
    assert isinstance(limits.ADVERT_INT_MAX, int)


@pytest.mark.parametrize(
    ("version", "seconds", "ok"),
    [(2, 1.0, True), (2, 255.0, True), (2, 256.0, False), (2, 0.5, False),
     (3, 0.01, True), (3, 40.95, True), (3, 40.96, False)],
)
def test_config_and_core_agree_on_advert_int(version, seconds, ok):
    """A value the config accepts is one InstanceParams accepts, and the reverse."""
    from haipvs.config import ConfigError, load_config_text

    vip = "192.0.2.1" if version == 2 else "2001:db8::1"
    text = (f"vrrp_instances:\n- {{name: a, interface: eth0, virtual_router_id: 1, "
            f"version: {version}, advert_int: {seconds}, virtual_ipaddress: [{vip}]}}\n")
    try:
        load_config_text(text)
        config_ok = True
    except ConfigError:
        config_ok = False
    try:
        params.InstanceParams("a", 1, (), advert_int=seconds, version=version,
                              family=4 if version == 2 else 6)
        core_ok = True
    except ValueError:
        core_ok = False
    assert config_ok == core_ok == ok


def test_garp_defaults_agree_in_config_and_core():
    core, config = params.GarpParams(), model.GarpSettings()
    for name in ("master_delay", "master_repeat", "master_refresh", "lower_prio_repeat",
                 "lower_prio_delay"):
        assert getattr(core, name) == getattr(config, name)
        assert _section("garp").field_named(name).default == getattr(config, name)
    # the pacing intervals are per interface in keepalived (global / garp_group), not
    # vrrp_instance garp_* keywords
    assert set(limits.GARP_RENAMES.values()) | set(limits.GARP_PACING_KEYS) | set(
        limits.GARP_EXTRA_IF_KEYS) == {f.name for f in _section("garp").fields}
    assert {
        name for name in limits.GARP_RENAMES.values() if isinstance(getattr(core, name), int)
    } == limits.GARP_COUNT_KEYS


def test_keepalived_garp_names_point_to_the_garp_mapping():
    renamed = _section("vrrp_instance").renamed
    for old, new in limits.GARP_RENAMES.items():
        assert renamed[old] == f"use garp: {{{new}: ...}}"


def test_ipvs_names_come_from_limits():
    vs = _section("virtual_server")
    assert vs.field_named("lb_algo").kind.choices == limits.SCHEDULERS
    assert vs.field_named("lb_kind").kind.choices == limits.LB_KINDS
    assert vs.field_named("sched_flags").kind.item.choices == limits.SCHED_FLAGS
    assert vs.field_named("protocol").kind.choices == limits.PROTOCOLS
    assert vs.field_named("delay_loop").default == limits.DEFAULT_DELAY_LOOP
    assert all(flag.split("-")[0] in limits.SCHEDULERS for flag in limits.SCHED_FLAGS)
    assert limits.DEFAULT_SCHEDULER in limits.SCHEDULERS
    assert limits.DEFAULT_LB_KIND in limits.LB_KINDS


def test_owner_priority_is_the_top_of_the_priority_range():
    assert params.OWNER_PRIORITY == limits.OWNER_PRIORITY == limits.PRIORITY_MAX
    prio = _section("vrrp_instance").field_named("priority")
    assert (prio.kind.low, prio.kind.high) == (limits.PRIORITY_MIN, limits.PRIORITY_MAX)
