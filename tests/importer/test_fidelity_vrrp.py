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


def test_advert_source_and_peers_of_the_other_family_are_left_out(tmp_path: Path):
    """haipvs refuses a source or peer of the other family, or a VIP as the source; they
    are reported, and unicast peers without a source are reported too."""
    config, result = run(tmp_path, VIP_INSTANCE.format(body=(
        "    unicast_src_ip 2001:db8::1\n"
        "    unicast_peer {\n        198.51.100.2\n        2001:db8::2\n    }\n" + VIPS4)))
    instance = config.vrrp_instances[0]
    assert instance.unicast_src_ip is None and not instance.unicast_peers
    assert sorted(n.line for n in result.notes) == [4, 5, 5]


def test_a_vip_as_the_advert_source_is_left_out(tmp_path: Path):
    config, result = run(tmp_path, VIP_INSTANCE.format(body=(
        "    unicast_src_ip 192.0.2.10\n" + VIPS4)))
    assert config.vrrp_instances[0].unicast_src_ip is None
    assert [n.line for n in result.notes] == [4]


def test_duplicate_vrid_on_one_interface_keeps_the_first(tmp_path: Path):
    """vrrp.c: "duplicate VRID conflict" (keepalived then refuses the VRRP configuration)."""
    second = VIP_INSTANCE.replace("VI_1", "VI_2").format(
        body="    virtual_ipaddress {\n        192.0.2.11\n    }")
    config, result = run(tmp_path, VIP_INSTANCE.format(body=VIPS4) + second)
    assert [i.name for i in config.vrrp_instances] == ["VI_1"]
    assert [n.line for n in result.notes] == [8]
