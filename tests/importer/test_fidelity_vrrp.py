"""keepalived 2.2.7's vrrp_complete_instance() defaults the importer follows (issue 14)."""

from __future__ import annotations

from pathlib import Path

from haipvs.importer.notes import CHANGED, NOT_TRANSLATED
from tests.importer.test_fidelity import VIP_INSTANCE, run

VIPS4 = "    virtual_ipaddress {\n        192.0.2.10\n    }"
VIPS6 = "    virtual_ipaddress {\n        2001:db8::10/64\n    }"


def test_master_without_priority_is_the_address_owner(tmp_path: Path):
    """vrrp.c: no priority and state MASTER -> VRRP_PRIO_OWNER (255)."""
    config, result = run(tmp_path, VIP_INSTANCE.format(body="    state MASTER\n" + VIPS4))
    assert config.vrrp_instances[0].priority == 255
    assert [(n.line, n.kind) for n in result.notes] == [(4, CHANGED)]


def test_priority_255_without_state_starts_as_master(tmp_path: Path):
    """vrrp.c: no state -> MASTER for priority 255, else BACKUP."""
    config, result = run(tmp_path, VIP_INSTANCE.format(body="    priority 255\n" + VIPS4))
    assert config.vrrp_instances[0].state == "MASTER"
    assert not result.notes


def test_global_vrrp_version_is_for_ipv4_instances_only(tmp_path: Path):
    """vrrp.c: an IPv6 instance without a version is version 3, whatever vrrp_version says."""
    config, result = run(tmp_path, "global_defs {\n    vrrp_version 2\n}\n"
                         + VIP_INSTANCE.format(body=VIPS6))
    assert config.vrrp_instances[0].version == 3
    assert not result.notes


def test_explicit_version_2_on_ipv6_is_reported(tmp_path: Path):
    """keepalived keeps an explicit version 2 on IPv6 outside strict mode; haipvs speaks
    version 3 there."""
    config, result = run(tmp_path, VIP_INSTANCE.format(body="    version 2\n" + VIPS6))
    assert config.vrrp_instances[0].version == 3
    assert [(n.line, n.kind) for n in result.notes] == [(4, NOT_TRANSLATED)]
